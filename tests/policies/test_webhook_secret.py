"""A marketplace's webhook signing secret is made by the product, shown once to whoever makes
or rotates it, and never again on a staff page."""

import pytest
from django.urls import reverse

from policies.models import Marketplace
from tests import factories

pytestmark = pytest.mark.django_db

SECRET = "kept-secret-3Jf9aQw7Zx2mP5rT8vY1bN4cL6dK0eH"


@pytest.fixture
def superuser():
    return factories.UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def marketplace():
    return factories.MarketplaceFactory(webhook_secret=SECRET)


def staff_pages(marketplace) -> list[str]:
    return [
        reverse("admin:policies_marketplace_change", args=[marketplace.pk]),
        reverse("admin:policies_marketplace_changelist"),
        reverse("admin:policies_marketplace_history", args=[marketplace.pk]),
    ]


@pytest.mark.parametrize("who", ["superuser", "adjuster"])
def test_no_staff_page_of_a_marketplace_shows_its_webhook_secret(client, marketplace, who, request):
    client.force_login(request.getfixturevalue(who))

    pages = [client.get(url) for url in staff_pages(marketplace)]

    assert [page.status_code for page in pages] == [200, 200, 200]
    assert not [page.request["PATH_INFO"] for page in pages if SECRET in page.content.decode()]


def test_rotating_the_webhook_secret_shows_the_new_one_once(client, superuser, marketplace):
    client.force_login(superuser)

    rotated = client.post(
        reverse("admin:policies_marketplace_changelist"),
        {"action": "rotate_webhook_secret", "_selected_action": [marketplace.pk]},
        follow=True,
    )
    marketplace.refresh_from_db()
    later = [client.get(url) for url in staff_pages(marketplace)]

    assert marketplace.webhook_secret != SECRET
    assert len(marketplace.webhook_secret) >= 40
    assert rotated.content.decode().count(marketplace.webhook_secret) == 1
    assert not [page for page in later if marketplace.webhook_secret in page.content.decode()]


def test_a_new_marketplace_gets_a_generated_secret_shown_once(client, superuser):
    client.force_login(superuser)

    made = client.post(
        reverse("admin:policies_marketplace_add"),
        {
            "code": "ym",
            "name": "Yandex Market",
            "webhook_url": "https://hooks.example.com/sellercover",
            "is_active": "on",
            "api_keys-TOTAL_FORMS": "0",
            "api_keys-INITIAL_FORMS": "0",
        },
        follow=True,
    )
    created = Marketplace.objects.get(code="ym")
    later = client.get(reverse("admin:policies_marketplace_change", args=[created.pk]))

    assert len(created.webhook_secret) >= 40
    assert created.webhook_secret in made.content.decode()
    assert created.webhook_secret not in later.content.decode()


def test_a_view_only_adjuster_cannot_rotate_the_secret(client, adjuster, marketplace):
    client.force_login(adjuster)

    client.post(
        reverse("admin:policies_marketplace_changelist"),
        {"action": "rotate_webhook_secret", "_selected_action": [marketplace.pk]},
    )

    marketplace.refresh_from_db()
    assert marketplace.webhook_secret == SECRET
