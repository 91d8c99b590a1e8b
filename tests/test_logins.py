"""Both sign-ins (seller pages and admin) lock out guessers by account and by address; staff
lift a lockout; password-reset requests are limited; passwords must be strong."""

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.password_validation import validate_password
from django.core import mail
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hasher")]

LOCKED = "Too many failed sign-in attempts for this account or from this address."
RESET_LIMITED = "Too many requests for a reset link. Try again later."


@pytest.fixture(autouse=True)
def _english(client):
    client.cookies["django_language"] = "en"


@pytest.fixture(autouse=True)
def _fresh_counters():
    """The reset limits count in the cache, which outlives a test's transaction."""
    cache.clear()
    yield
    cache.clear()


def sign_in(client, url: str, email: str, password: str, address: str = "127.0.0.1"):
    return client.post(url, {"username": email, "password": password}, REMOTE_ADDR=address)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize(
    ("url_name", "user_factory"),
    [("login", factories.SellerUserFactory), ("admin:login", factories.StaffFactory)],
    ids=["seller", "admin"],
)
def test_thirty_wrong_passwords_lock_the_sign_in_even_to_the_right_one(
    client, url_name, user_factory
):
    user = user_factory()
    url = reverse(url_name)
    for _ in range(30):
        sign_in(client, url, user.email, "wrong-password")

    response = sign_in(client, url, user.email, factories.PASSWORD)

    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert "30 minutes" in response.content.decode()
    assert not signed_in(client)


def test_the_lockout_page_speaks_russian_too(client):
    user = factories.SellerUserFactory()
    client.cookies["django_language"] = "ru"
    for _ in range(10):
        sign_in(client, reverse("login"), user.email, "wrong-password")

    response = sign_in(client, reverse("login"), user.email, factories.PASSWORD)

    assert "Слишком много неудачных попыток входа" in response.content.decode()


def test_failures_from_one_address_lock_every_account_from_it(client, settings):
    users = factories.SellerUserFactory.create_batch(settings.AXES_FAILURE_LIMIT + 1)
    for user in users[:-1]:
        sign_in(client, reverse("login"), user.email, "wrong-password", address="203.0.113.7")

    refused = sign_in(
        client, reverse("login"), users[-1].email, factories.PASSWORD, address="203.0.113.7"
    )
    elsewhere = sign_in(
        client, reverse("login"), users[-1].email, factories.PASSWORD, address="198.51.100.1"
    )

    assert refused.status_code == 429
    assert elsewhere.status_code == 302


def test_failures_on_one_account_from_many_addresses_lock_it(client, settings):
    user = factories.SellerUserFactory()
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, reverse("login"), user.email, "wrong-password", address=f"192.0.2.{n}")

    response = sign_in(
        client, reverse("login"), user.email, factories.PASSWORD, address="198.51.100.1"
    )

    assert response.status_code == 429
    assert not signed_in(client)


def test_a_lockout_lasts_the_cool_off_time_of_the_settings(client, settings):
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=45)
    user = factories.SellerUserFactory()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, reverse("login"), user.email, "wrong-password")
    locked = sign_in(client, reverse("login"), user.email, factories.PASSWORD)
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=46))

    response = sign_in(client, reverse("login"), user.email, factories.PASSWORD)

    assert "45 minutes" in locked.content.decode()
    assert response.status_code == 302
    assert signed_in(client)


def test_a_senior_adjuster_unlocks_an_account_and_its_owner_signs_in(client, senior):
    user = factories.SellerUserFactory()
    for _ in range(30):
        sign_in(client, reverse("login"), user.email, "wrong-password")
    attempts = list(AccessAttempt.objects.filter(username=user.email).values_list("pk", flat=True))
    desk = Client()
    desk.force_login(senior)

    listed = desk.get(reverse("admin:axes_accessattempt_changelist"), {"q": user.email})
    desk.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "delete_selected", "_selected_action": attempts, "post": "yes"},
    )
    response = sign_in(client, reverse("login"), user.email, factories.PASSWORD)

    assert listed.status_code == 200
    assert user.email in listed.content.decode()
    assert not AccessAttempt.objects.filter(username=user.email).exists()
    assert response.status_code == 302
    assert signed_in(client)


def test_an_adjuster_may_not_lift_a_lockout(client, adjuster):
    client.force_login(adjuster)

    response = client.get(reverse("admin:axes_accessattempt_changelist"))

    assert response.status_code == 403


def test_password_reset_is_limited_per_email_whether_or_not_an_account_uses_it(client, settings):
    settings.PASSWORD_RESET_RATE_PER_EMAIL = "3/h"
    user = factories.SellerUserFactory()
    known = [client.post(reverse("password_reset"), {"email": user.email}) for _ in range(4)]
    unknown = [
        client.post(reverse("password_reset"), {"email": "nobody@example.com"}) for _ in range(4)
    ]

    assert [r.status_code for r in known] == [302, 302, 302, 429]
    assert [r.status_code for r in unknown] == [302, 302, 302, 429]
    assert RESET_LIMITED in known[-1].content.decode()
    assert RESET_LIMITED in unknown[-1].content.decode()
    assert len(mail.outbox) == 3


def test_password_reset_is_limited_per_address_across_emails(client, settings):
    settings.PASSWORD_RESET_RATE_PER_ADDRESS = "5/h"
    users = factories.SellerUserFactory.create_batch(6)

    answers = [
        client.post(reverse("password_reset"), {"email": user.email}).status_code for user in users
    ]
    elsewhere = client.post(
        reverse("password_reset"), {"email": users[-1].email}, REMOTE_ADDR="198.51.100.1"
    )

    assert answers == [302] * 5 + [429]
    assert elsewhere.status_code == 302
    assert len(mail.outbox) == 6


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("kx7#mq2!v", "password_too_short"),
        ("1234567890123", "password_entirely_numeric"),
        ("password1234", "password_too_common"),
    ],
)
def test_weak_passwords_are_refused(password, code):
    with pytest.raises(ValidationError) as refused:
        validate_password(password)

    assert code in [error.code for error in refused.value.error_list]


def test_a_password_like_the_email_is_refused():
    user = factories.SellerUserFactory.build(email="ivanov.petr@example.com")

    with pytest.raises(ValidationError) as refused:
        validate_password("ivanov.petr", user=user)

    assert "password_too_similar" in [error.code for error in refused.value.error_list]
