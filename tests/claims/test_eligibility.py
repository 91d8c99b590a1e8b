"""Eligibility: hard rules refuse to file with a reason code; judgement rules only flag."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from claims.assessment import judgement_flags
from claims.choices import ClaimFlag, ClaimStatus
from claims.errors import ClaimNotEligible
from claims.filing import claim_file, claim_submit
from claims.lifecycle import claim_triage
from claims.models import Claim
from policies.actors import Actor
from policies.choices import PolicyStatus
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal
TODAY = dt.date(2026, 11, 20)


def file(shipment, *, seller=None, peril="damage", amount="1000.00", event_date=None):
    seller = seller or shipment.seller
    return claim_file(
        actor=Actor.system(),
        seller=seller,
        shipment=shipment,
        peril=peril,
        claimed_amount=D(amount),
        event_date=event_date or timezone.localdate() - dt.timedelta(days=5),
        source="seller",
        submit=False,
    )


def refusal(**kwargs) -> str:
    with pytest.raises(ClaimNotEligible) as excinfo:
        file(**kwargs)
    assert excinfo.value.code == "claim_not_eligible"
    return excinfo.value.reason


def test_another_sellers_shipment_is_refused():
    shipment = factories.ShipmentFactory()

    assert refusal(shipment=shipment, seller=factories.SellerFactory()) == "shipment_not_owned"


def test_a_claim_of_nothing_is_refused():
    assert refusal(shipment=factories.ShipmentFactory(), amount="0") == "amount_not_positive"


def test_an_event_in_the_future_is_refused():
    tomorrow = timezone.localdate() + dt.timedelta(days=1)

    assert refusal(shipment=factories.ShipmentFactory(), event_date=tomorrow) == "event_in_future"


def test_an_event_before_the_item_left_the_warehouse_is_refused():
    shipment = factories.ShipmentFactory()
    before = timezone.localdate(shipment.shipped_at) - dt.timedelta(days=1)

    assert refusal(shipment=shipment, event_date=before) == "event_before_cover"


@pytest.mark.parametrize("status", [PolicyStatus.DRAFT, PolicyStatus.CANCELLED])
def test_no_policy_in_force_on_the_event_date_is_refused(status):
    shipment = factories.ShipmentFactory(policy__status=status)

    assert refusal(shipment=shipment) == "no_active_policy"


def test_an_event_outside_the_policy_period_is_refused():
    shipment = factories.ShipmentFactory(
        policy__period_start=timezone.localdate() - dt.timedelta(days=3),
        shipped_at=timezone.now() - dt.timedelta(days=20),
    )

    assert refusal(shipment=shipment) == "no_active_policy"


def test_a_policy_since_expired_still_covers_the_events_of_its_period():
    shipment = factories.ShipmentFactory(policy__status=PolicyStatus.EXPIRED)

    claim = file(shipment=shipment)

    assert claim.policy == shipment.policy


def test_a_cover_the_product_lacks_is_refused():
    shipment = factories.ShipmentFactory(policy__product_version__covers=["return_logistics"])

    assert refusal(shipment=shipment, peril="loss") == "cover_not_in_product"


def test_a_second_claim_for_the_same_item_and_peril_is_refused():
    shipment = factories.ShipmentFactory()
    file(shipment=shipment)

    assert refusal(shipment=shipment) == "duplicate_claim"
    assert Claim.objects.filter(shipment=shipment).count() == 1


def test_another_peril_on_the_same_item_is_a_separate_claim():
    shipment = factories.ShipmentFactory()
    file(shipment=shipment, peril="damage")

    claim = file(shipment=shipment, peril="non_buyout", amount="50.00")

    assert claim.cover == "return_logistics"


FLAG_BASE = {
    "peril": "damage",
    "event_date": TODAY - dt.timedelta(days=5),
    "notified_on": TODAY,
    "claimed_amount": D("1000"),
    "declared_value": D("5000"),
    "known_fee": None,
    "category": "Одежда",
    "notification_window_days": 30,
    "max_declared_value": D("200000"),
    "excluded_categories": ["Ювелирные изделия"],
    "compensation_wait_days": 14,
    "compensation_known": True,
    "marketplace_verified": True,
}


def flags(**overrides):
    return judgement_flags(**{**FLAG_BASE, **overrides})


def test_a_clean_claim_has_no_flags():
    assert flags() == []


def test_late_notice_is_flagged_after_the_window():
    assert flags(event_date=TODAY - dt.timedelta(days=31)) == [ClaimFlag.LATE_NOTICE]
    assert flags(event_date=TODAY - dt.timedelta(days=30)) == []


def test_a_declared_value_above_the_maximum_is_flagged():
    assert flags(declared_value=D("250000"), claimed_amount=D("1000")) == [
        ClaimFlag.VALUE_ABOVE_MAXIMUM
    ]


def test_an_excluded_category_is_flagged_whatever_its_case():
    assert flags(category="ювелирные ИЗДЕЛИЯ") == [ClaimFlag.EXCLUDED_CATEGORY]


def test_a_loss_reported_before_the_compensation_wait_is_flagged():
    assert flags(peril="loss", compensation_known=False) == [ClaimFlag.COMPENSATION_WAIT_PENDING]
    assert flags(peril="loss", compensation_known=False, event_date=TODAY - dt.timedelta(14)) == []


def test_a_cargo_amount_above_the_items_value_is_flagged():
    assert flags(claimed_amount=D("5000.01")) == [ClaimFlag.AMOUNT_ABOVE_VALUE]


def test_a_return_amount_above_the_fee_charged_is_flagged():
    assert flags(peril="return", claimed_amount=D("60"), known_fee=D("50")) == [
        ClaimFlag.AMOUNT_ABOVE_VALUE
    ]
    assert flags(peril="return", claimed_amount=D("50"), known_fee=D("50")) == []


def test_an_event_the_marketplace_did_not_report_is_flagged():
    assert flags(marketplace_verified=False) == [ClaimFlag.NOT_MARKETPLACE_VERIFIED]


def test_a_flagged_claim_goes_to_a_person_and_is_never_rejected():
    shipment = factories.ShipmentFactory(category="Ювелирные изделия")
    factories.ShipmentEventFactory(shipment=shipment, kind="returned", amount=D("50"))
    claim = file(shipment=shipment, peril="return", amount="50.00")
    claim = claim_submit(claim_id=claim.pk, actor=Actor.system())

    claim = claim_triage(claim_id=claim.pk)

    assert claim.status == ClaimStatus.UNDER_REVIEW
    assert claim.flags == [ClaimFlag.EXCLUDED_CATEGORY]
