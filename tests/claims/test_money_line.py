"""The one line of a claim's money (claims.calculation.money_line): loss → marketplace paid →
insurer paid net of recoveries → what the seller bore, and why → what is still owed back."""

from decimal import Decimal

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from claims.calculation import LimitCut, calculate_payable, money_line
from claims.choices import ClaimStatus, LimitApplied, NoPayableReason
from claims.models import Claim, ClaimTransition
from claims.selectors import claim_money_line, claims_with_money_line
from policies.choices import ActorKind
from tests import factories

D = Decimal
NO_ROOMS = (None, None, None)


def line(**overrides):
    """The worked example: loss 12 000, the marketplace paid 4 000, deductible 500, paid 7 500."""
    args = {
        "status": ClaimStatus.PAID,
        "closed_from": "",
        "claimed": D("12000"),
        "loss": D("12000"),
        "compensation": D("4000"),
        "deductible": D("500"),
        "payable": D("7500"),
        "rooms": (D("50000"), D("100000"), D("1000000")),
        "paid": D("7500"),
        "recovery_raised": D("0"),
        "recovery_received": D("0"),
    }
    return money_line(**{**args, **overrides})


def test_a_paid_claim_the_marketplace_compensated_in_part_leaves_the_deductible_with_the_seller():
    result = line()

    assert (result.loss, result.marketplace_paid, result.insurer_paid) == (
        D("12000.00"),
        D("4000.00"),
        D("7500.00"),
    )
    assert result.seller_bore == result.deductible == D("500.00")
    assert result.limit_cuts == ()
    assert result.unpaid == result.to_pay == result.owed_back == D("0.00")
    assert result.has_payable
    assert result.no_payable == ""


def test_a_paid_claim_with_a_recovery_shows_the_insurer_net_of_it_and_what_is_owed_back():
    """A further 6 000 of compensation after 7 500 was paid: payable 1 500, 6 000 owed back."""
    result = line(compensation=D("10000"), payable=D("1500"), recovery_raised=D("6000"))

    assert result.paid == D("7500.00")
    assert result.marketplace_paid == D("10000.00")
    assert result.insurer_paid == D("1500.00")
    assert result.seller_bore == result.deductible == D("500.00")
    assert result.owed_back == D("6000.00")
    assert result.loss == result.marketplace_paid + result.insurer_paid + result.seller_bore


def test_a_recovery_received_is_no_longer_owed_back():
    result = line(
        compensation=D("10000"),
        payable=D("1500"),
        recovery_raised=D("6000"),
        recovery_received=D("6000"),
    )

    assert result.insurer_paid == D("1500.00")
    assert result.owed_back == D("0.00")


def test_an_approved_claim_shows_what_the_insurer_is_still_to_pay():
    result = line(status=ClaimStatus.APPROVED, paid=D("0"))

    assert result.insurer_paid == D("0.00")
    assert result.to_pay == D("7500.00")
    assert result.seller_bore == D("500.00")


def test_each_limit_that_cut_the_claim_is_named_with_what_it_took_off():
    """80 000 lost, deductible 500; the per-claim limit allows 50 000, the event's 40 000,
    the aggregate 30 000."""
    result = line(
        status=ClaimStatus.APPROVED,
        claimed=D("80000"),
        loss=D("80000"),
        compensation=D("0"),
        payable=D("30000"),
        rooms=(D("50000"), D("40000"), D("30000")),
        paid=D("0"),
    )

    assert result.limit_cuts == (
        LimitCut(limit=LimitApplied.PER_CLAIM, amount=D("29500.00")),
        LimitCut(limit=LimitApplied.PER_EVENT, amount=D("10000.00")),
        LimitCut(limit=LimitApplied.AGGREGATE, amount=D("10000.00")),
    )
    with translation.override("ru"):
        assert [str(cut.label) for cut in result.limit_cuts] == [
            "Лимит на случай",
            "Лимит на событие",
            "Агрегатный лимит",
        ]
    assert result.deductible == D("500.00")
    assert result.seller_bore == D("50000.00")
    assert result.unpaid == D("0.00")


def test_a_limit_with_room_to_spare_is_not_named():
    result = line(rooms=(D("50000"), None, D("7500")))

    assert result.limit_cuts == ()


@pytest.mark.parametrize(
    ("status", "closed_from", "reason"),
    [
        (ClaimStatus.REJECTED, "", NoPayableReason.REJECTED),
        (ClaimStatus.WITHDRAWN, "", NoPayableReason.WITHDRAWN),
        (ClaimStatus.CLOSED, ClaimStatus.REJECTED, NoPayableReason.REJECTED),
        (ClaimStatus.CLOSED, ClaimStatus.WITHDRAWN, NoPayableReason.WITHDRAWN),
        (ClaimStatus.CLOSED, ClaimStatus.INFO_REQUESTED, NoPayableReason.UNANSWERED),
        (ClaimStatus.CLOSED, "", NoPayableReason.CLOSED),
    ],
)
def test_a_claim_with_no_payable_shows_none_and_says_why(status, closed_from, reason):
    # The payable the claim's last calculation left (39 142) is not shown as payable.
    result = line(status=status, closed_from=closed_from, payable=D("39142"), paid=D("0"))

    assert result.no_payable == reason
    assert result.no_payable_label == reason.label
    assert not result.has_payable
    assert result.payable == result.to_pay == result.insurer_paid == D("0.00")
    assert result.deductible == D("0.00")
    assert result.limit_cuts == ()
    assert result.seller_bore == result.unpaid == D("8000.00")


def test_a_claim_closed_after_its_payment_keeps_its_payment():
    result = line(status=ClaimStatus.CLOSED, closed_from=ClaimStatus.PAID)

    assert result.no_payable == ""
    assert result.insurer_paid == D("7500.00")


@pytest.mark.parametrize("status", [ClaimStatus.DRAFT, ClaimStatus.SUBMITTED])
def test_a_claim_not_assessed_yet_shows_no_payable_and_no_reason(status):
    result = line(status=status, payable=D("0"), deductible=D("0"), paid=D("0"))

    assert not result.assessed
    assert not result.has_payable
    assert result.no_payable == ""
    assert result.to_pay == D("0.00")


money = st.decimals(min_value=0, max_value=200_000, places=2)
limit = st.none() | money


@given(
    loss=money,
    compensation=money,
    deductible=money,
    per_claim=money,
    per_event=limit,
    aggregate=money,
    recovered=money,
    status=st.sampled_from([ClaimStatus.APPROVED, ClaimStatus.PAID]),
)
def test_the_line_adds_up_to_the_loss_and_what_the_seller_bore_to_its_reasons(
    loss, compensation, deductible, per_claim, per_event, aggregate, recovered, status
):
    calc = calculate_payable(
        loss=loss,
        compensation=compensation,
        deductible=deductible,
        per_claim_limit=per_claim,
        per_event_limit=per_event,
        event_paid_by_others=D("0"),
        aggregate_limit=aggregate,
        policy_paid_by_others=D("0"),
        policy_recovery_received=D("0"),
    )
    # Paid what was payable, then a late compensation took `raised` of it back.
    paid = calc.payable if status == ClaimStatus.PAID else D("0")
    raised = min(recovered, paid)
    result = money_line(
        status=status,
        closed_from="",
        claimed=loss,
        loss=calc.loss,
        compensation=calc.compensation,
        deductible=calc.deductible,
        payable=calc.payable - raised,
        rooms=(calc.per_claim_limit, calc.event_room, calc.aggregate_room),
        paid=paid,
        recovery_raised=raised,
        recovery_received=D("0"),
    )

    covered = result.marketplace_paid + result.insurer_paid + result.to_pay
    assert result.seller_bore == max(D("0"), result.loss - covered)
    reasons = result.deductible + sum((cut.amount for cut in result.limit_cuts), D("0"))
    assert reasons + result.unpaid == result.seller_bore
    assert result.owed_back == raised


# The line read from a claim's stored figures, on the database.


def read(claim: Claim) -> Claim:
    return claims_with_money_line(Claim.objects.filter(pk=claim.pk)).get()


@pytest.mark.django_db
def test_a_stored_claim_names_the_per_claim_limit_beside_the_limit_that_set_its_payable():
    """Loss 80 000 on a cover of 50 000 per claim; the aggregate limit left 30 000."""
    claim = factories.ClaimFactory(
        status=ClaimStatus.APPROVED,
        claimed_amount=D("80000.00"),
        deductible_amount=D("500.00"),
        payable_amount=D("30000.00"),
        limit_applied=LimitApplied.AGGREGATE,
    )

    result = claim_money_line(read(claim))

    assert result.limit_cuts == (
        LimitCut(limit=LimitApplied.PER_CLAIM, amount=D("29500.00")),
        LimitCut(limit=LimitApplied.AGGREGATE, amount=D("20000.00")),
    )
    assert result.to_pay == D("30000.00")
    assert result.seller_bore == D("50000.00")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("closed_from", "reason"),
    [
        (ClaimStatus.REJECTED, NoPayableReason.REJECTED),
        (ClaimStatus.INFO_REQUESTED, NoPayableReason.UNANSWERED),
    ],
)
def test_a_stored_closed_claim_says_what_it_was_closed_from(closed_from, reason):
    claim = factories.ClaimFactory(status=ClaimStatus.CLOSED, payable_amount=D("39142.00"))
    ClaimTransition.objects.create(
        claim=claim,
        transition="close",
        source_state=closed_from,
        target_state=ClaimStatus.CLOSED,
        at=claim.created_at,
        actor_kind=ActorKind.SYSTEM,
    )

    result = claim_money_line(read(claim))

    assert result.no_payable == reason
    assert result.payable == D("0.00")


@pytest.mark.django_db
def test_a_stored_paid_claim_with_a_recovery_reads_net_of_it():
    claim = factories.ClaimFactory(
        status=ClaimStatus.PAID,
        compensation_amount=D("10000.00"),
        deductible_amount=D("500.00"),
        payable_amount=D("1500.00"),
    )
    factories.PayoutFactory(claim=claim, amount=D("7500.00"))
    factories.RecoveryFactory(claim=claim, amount=D("6000.00"))

    result = claim_money_line(read(claim))

    assert (result.insurer_paid, result.seller_bore, result.owed_back) == (
        D("1500.00"),
        D("500.00"),
        D("6000.00"),
    )
