"""Money a seller pays back on a recovery: in full or in parts, each payment recorded once,
and each giving the aggregate limit back."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from claims.assessment import claim_calculate
from claims.choices import ClaimStatus, RecoveryStatus
from claims.compensation import recovery_receive
from claims.models import Recovery, RecoveryReceipt
from claims.selectors import policy_usage
from policies.actors import Actor
from policies.errors import ConflictError, DomainError
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def recovery():
    """A paid claim of 7,500 whose late compensation left the seller owing 6,000 back."""
    claim = factories.ClaimFactory(status=ClaimStatus.PAID, payable_amount=D("1500.00"))
    factories.PayoutFactory(claim=claim, amount=D("7500.00"))
    return factories.RecoveryFactory(claim=claim, amount=D("6000.00"))


def receive(recovery, user, amount, *, reference="PP-1001", received_on=None):
    return recovery_receive(
        recovery_id=recovery.pk,
        amount=D(amount),
        received_on=received_on or timezone.localdate(),
        reference=reference,
        actor=Actor.for_user(user),
    )


def test_a_part_payment_leaves_the_rest_owed(recovery, adjuster):
    receive(recovery, adjuster, "2500.00")

    recovery.refresh_from_db()
    assert recovery.status == RecoveryStatus.PARTLY_RECEIVED
    assert list(recovery.receipts.values_list("amount", "reference", "recorded_by")) == [
        (D("2500.00"), "PP-1001", adjuster.pk)
    ]


def test_payments_adding_up_to_the_recovery_settle_it(recovery, adjuster):
    receive(recovery, adjuster, "2500.00", reference="PP-1001")
    receive(recovery, adjuster, "3500.00", reference="PP-1002")

    recovery.refresh_from_db()
    assert recovery.status == RecoveryStatus.RECEIVED
    assert [r.amount for r in recovery.receipts.all()] == [D("2500.00"), D("3500.00")]


def test_each_payment_back_gives_the_aggregate_limit_back(recovery, adjuster):
    policy = recovery.claim.policy
    other = factories.ClaimFactory(
        shipment=factories.ShipmentFactory(policy=policy), status=ClaimStatus.UNDER_REVIEW
    )
    room_before = claim_calculate(claim=other).aggregate_room

    receive(recovery, adjuster, "2500.00")

    usage = policy_usage(policy_id=policy.pk)
    assert (usage.paid, usage.recovery_received, usage.net) == (
        D("7500.00"),
        D("2500.00"),
        D("5000.00"),
    )
    assert claim_calculate(claim=other).aggregate_room == room_before + D("2500.00")


@pytest.mark.parametrize("amount", ["0.00", "-100.00", "0.001"])
def test_an_amount_not_above_zero_is_refused(recovery, adjuster, amount):
    with pytest.raises(DomainError) as refused:
        receive(recovery, adjuster, amount)

    assert (refused.value.code, list(refused.value.fields)) == ("validation_error", ["amount"])
    assert not RecoveryReceipt.objects.exists()


def test_more_than_is_owed_is_refused_and_says_how_much_is(recovery, adjuster):
    receive(recovery, adjuster, "2500.00", reference="PP-1001")

    with translation.override("ru"), pytest.raises(DomainError) as refused:
        receive(recovery, adjuster, "3500.01", reference="PP-1002")

    assert refused.value.code == "recovery_receipt_above_owed"
    assert "3\xa0500,00\xa0₽" in refused.value.message
    assert RecoveryReceipt.objects.count() == 1


def test_a_date_in_the_future_is_refused(recovery, adjuster):
    with pytest.raises(DomainError) as refused:
        receive(recovery, adjuster, "100.00", received_on=timezone.localdate() + dt.timedelta(1))

    assert (refused.value.code, list(refused.value.fields)) == (
        "validation_error",
        ["received_on"],
    )
    assert not RecoveryReceipt.objects.exists()


def test_a_payment_without_its_reference_is_refused(recovery, adjuster):
    with pytest.raises(DomainError) as refused:
        receive(recovery, adjuster, "100.00", reference="  ")

    assert list(refused.value.fields) == ["reference"]


def test_a_replayed_payment_is_refused_and_counted_once(recovery, adjuster):
    receive(recovery, adjuster, "2500.00")

    with pytest.raises(ConflictError) as refused:
        receive(recovery, adjuster, "2500.00")

    assert refused.value.code == "recovery_receipt_recorded"
    assert policy_usage(policy_id=recovery.claim.policy_id).recovery_received == D("2500.00")


def test_nothing_more_is_received_on_a_settled_recovery(recovery, adjuster):
    receive(recovery, adjuster, "6000.00", reference="PP-1001")

    with pytest.raises(ConflictError) as refused:
        receive(recovery, adjuster, "1.00", reference="PP-1002")

    assert refused.value.code == "recovery_already_received"


def test_staff_who_may_not_change_recoveries_record_nothing(recovery):
    underwriter = factories.StaffFactory(group="Underwriter")

    with pytest.raises(DomainError) as refused:
        receive(recovery, underwriter, "100.00")

    assert refused.value.code == "permission_denied"
    assert Recovery.objects.get(pk=recovery.pk).status == RecoveryStatus.OPEN
