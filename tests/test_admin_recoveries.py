"""Recoveries in the admin: adjusters record the money a seller pays back, in full or in
parts; money reads as `1 500,00 ₽`; the claim page shows the seller's money line."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from claims.choices import ClaimStatus, RecoveryStatus
from claims.models import RecoveryReceipt
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def recovery():
    claim = factories.ClaimFactory(
        status=ClaimStatus.PAID,
        claimed_amount=D("12000.00"),
        compensation_amount=D("10000.00"),
        deductible_amount=D("500.00"),
        payable_amount=D("1500.00"),
    )
    factories.PayoutFactory(claim=claim, amount=D("7500.00"))
    return factories.RecoveryFactory(claim=claim, amount=D("6000.00"))


def receive_url(recovery) -> str:
    return reverse("admin:claims_recovery_receive", args=[recovery.pk])


def post_receipt(client, recovery, **fields):
    data = {
        "amount": "2 500,00",
        "received_on": timezone.localdate().isoformat(),
        "reference": "PP-1001",
        **fields,
    }
    with translation.override("ru"):
        return client.post(receive_url(recovery), data, HTTP_ACCEPT_LANGUAGE="ru", follow=True)


def test_an_adjuster_records_a_part_payment_as_typed(client, adjuster, recovery):
    client.force_login(adjuster)

    response = post_receipt(client, recovery)

    assert response.redirect_chain[-1][0] == reverse(
        "admin:claims_recovery_change", args=[recovery.pk]
    )
    recovery.refresh_from_db()
    assert recovery.status == RecoveryStatus.PARTLY_RECEIVED
    assert list(recovery.receipts.values_list("amount", "reference")) == [(D("2500.00"), "PP-1001")]
    page = response.content.decode()
    assert "2\xa0500,00\xa0₽" in page
    assert "3\xa0500,00\xa0₽" in page


def test_more_than_is_owed_shows_the_error_on_the_form_and_saves_nothing(
    client, adjuster, recovery
):
    client.force_login(adjuster)

    response = post_receipt(client, recovery, amount="6 000,01")

    assert response.status_code == 200
    assert "6\xa0000,00\xa0₽" in response.context["form"].errors["amount"][0]
    assert not RecoveryReceipt.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"amount": "-100"}, "amount"),
        ({"amount": "сто"}, "amount"),
        ({"received_on": (dt.date.today() + dt.timedelta(days=2)).isoformat()}, "received_on"),
        ({"reference": ""}, "reference"),
    ],
)
def test_bad_input_is_shown_on_its_field(client, adjuster, recovery, fields, field):
    client.force_login(adjuster)

    response = post_receipt(client, recovery, **fields)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not RecoveryReceipt.objects.exists()


def test_a_double_click_records_the_payment_once(client, adjuster, recovery):
    client.force_login(adjuster)

    post_receipt(client, recovery)
    again = post_receipt(client, recovery)

    assert again.status_code == 200
    assert "reference" in again.context["form"].errors
    assert RecoveryReceipt.objects.count() == 1


def test_a_settled_recovery_offers_no_form(client, adjuster, recovery):
    client.force_login(adjuster)
    post_receipt(client, recovery, amount="6000.00")

    response = client.get(receive_url(recovery))

    assert response.status_code == 200
    assert b'name="amount"' not in response.content


def test_staff_without_the_change_permission_see_recoveries_but_record_nothing(client, recovery):
    underwriter = factories.StaffFactory(group="Underwriter")
    client.force_login(underwriter)

    page = client.get(reverse("admin:claims_recovery_change", args=[recovery.pk]))
    refused = client.post(receive_url(recovery), {"amount": "100", "reference": "PP-1"})

    assert page.status_code == 200
    assert receive_url(recovery).encode() not in page.content
    assert refused.status_code == 403
    assert not RecoveryReceipt.objects.exists()


def test_the_recovery_page_links_to_recording_a_payment_for_an_adjuster(client, adjuster, recovery):
    client.force_login(adjuster)

    page = client.get(reverse("admin:claims_recovery_change", args=[recovery.pk]))
    listed = client.get(reverse("admin:claims_recovery_changelist"))

    assert receive_url(recovery).encode() in page.content
    assert b'name="_save"' not in page.content
    assert receive_url(recovery).encode() in listed.content


def test_the_action_takes_one_selected_recovery_to_its_form(client, adjuster, recovery):
    client.force_login(adjuster)

    response = client.post(
        reverse("admin:claims_recovery_changelist"),
        {"action": "receive", "_selected_action": [recovery.pk]},
    )

    assert response.status_code == 302
    assert response.url == receive_url(recovery)


def test_the_claims_list_shows_money_with_grouping_and_the_ruble(client, adjuster, recovery):
    client.force_login(adjuster)

    with translation.override("ru"):
        page = client.get(
            reverse("admin:claims_claim_changelist") + "?status__exact=all",
            HTTP_ACCEPT_LANGUAGE="ru",
        ).content.decode()

    for amount in ("12\xa0000,00\xa0₽", "1\xa0500,00\xa0₽", "6\xa0000,00\xa0₽"):
        assert amount in page


def test_the_claim_page_shows_the_sellers_money_line_and_money_as_typed(client, adjuster, recovery):
    client.force_login(adjuster)

    with translation.override("en"):
        page = client.get(
            reverse("admin:claims_claim_change", args=[recovery.claim_id]),
            HTTP_ACCEPT_LANGUAGE="en",
        ).content.decode()

    assert 'class="money-line"' in page
    for label in ("Loss", "Marketplace paid", "Insurer paid", "You bore", "Still owed back"):
        assert label in page
    # The money fieldset as read-only fields, and the recovery to settle.
    assert "12,000.00\xa0₽" in page
    assert receive_url(recovery) in page
