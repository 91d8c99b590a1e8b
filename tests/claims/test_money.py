"""The rules of money as pure functions (payable = assessed − compensation − deductible, capped by
the per-claim, per-event and aggregate limits): a test per branch, worked examples."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claims.calculation import (
    calculate_payable,
    compensation_fits,
    recovery_due,
    seller_bore,
    triage_target,
)
from claims.choices import ClaimStatus, LimitApplied

D = Decimal
NO_LIMITS = {
    "per_claim_limit": D("1000000"),
    "per_event_limit": None,
    "event_paid_by_others": D("0"),
    "aggregate_limit": D("10000000"),
    "policy_paid_by_others": D("0"),
    "policy_recovery_received": D("0"),
}


def calc(**overrides):
    args = {"loss": D("0"), "compensation": D("0"), "deductible": D("0"), **NO_LIMITS}
    args.update(overrides)
    return calculate_payable(**args)


def test_cargo_damage_worked_example():
    """Loss 12 000, marketplace paid 4 000, deductible 500: the insurer pays 7 500."""
    result = calc(
        loss=D("12000"),
        compensation=D("4000"),
        deductible=D("500"),
        per_claim_limit=D("50000"),
        per_event_limit=D("100000"),
    )

    assert result.net == D("8000.00")
    assert result.deductible == D("500.00")
    assert result.after_deductible == D("7500.00")
    assert result.payable == D("7500.00")
    assert result.limit_applied == LimitApplied.NONE
    assert result.seller_bore == D("500.00")


def test_late_compensation_worked_example_raises_recovery_of_6000():
    """A further 6 000 arrives after 7 500 was paid: payable falls to 1 500, 6 000 is owed."""
    later = calc(loss=D("12000"), compensation=D("10000"), deductible=D("500"))

    assert later.payable == D("1500.00")
    assert recovery_due(paid=D("7500"), recoveries_raised=D("0"), payable_now=later.payable) == D(
        "6000.00"
    )


def test_return_logistics_non_buyout_worked_example():
    """A 50 ₽ reverse-logistics fee, no compensation, no deductible: all 50 ₽ paid."""
    result = calc(loss=D("50.00"), per_claim_limit=D("5000"))

    assert result.payable == D("50.00")
    assert result.seller_bore == D("0.00")


def test_cargo_loss_above_the_per_claim_limit_worked_example():
    """An 80 000 ₽ loss under a 50 000 ₽ item limit: 50 000 paid, the seller bears 30 000."""
    result = calc(loss=D("80000"), deductible=D("500"), per_claim_limit=D("50000"))

    assert result.after_deductible == D("79500.00")
    assert result.payable == D("50000.00")
    assert result.limit_applied == LimitApplied.PER_CLAIM
    assert result.seller_bore == D("30000.00")


def test_deductible_larger_than_the_net_loss_leaves_nothing_payable():
    result = calc(loss=D("800"), compensation=D("500"), deductible=D("500"))

    assert result.deductible == D("300.00")
    assert result.payable == D("0.00")


def test_compensation_above_the_loss_makes_net_zero_and_seller_bears_nothing():
    result = calc(loss=D("1000"), compensation=D("1500"), deductible=D("100"))

    assert result.net == D("0.00")
    assert result.payable == D("0.00")
    assert result.seller_bore == D("0.00")


def test_per_event_limit_caps_the_second_claim_of_one_event():
    result = calc(
        loss=D("70000"),
        per_claim_limit=D("50000"),
        per_event_limit=D("100000"),
        event_paid_by_others=D("80000"),
    )

    assert result.event_room == D("20000.00")
    assert result.payable == D("20000.00")
    assert result.limit_applied == LimitApplied.PER_EVENT


def test_no_per_event_limit_means_no_event_cap():
    result = calc(loss=D("70000"), per_event_limit=None, event_paid_by_others=D("10000000"))

    assert result.event_room is None
    assert result.payable == D("70000.00")


def test_aggregate_limit_caps_the_payable():
    result = calc(loss=D("9000"), aggregate_limit=D("100000"), policy_paid_by_others=D("95000"))

    assert result.payable == D("5000.00")
    assert result.limit_applied == LimitApplied.AGGREGATE


def test_money_received_back_frees_aggregate_room():
    result = calc(
        loss=D("9000"),
        aggregate_limit=D("100000"),
        policy_paid_by_others=D("95000"),
        policy_recovery_received=D("3000"),
    )

    assert result.aggregate_room == D("8000.00")
    assert result.payable == D("8000.00")


def test_amounts_round_half_up_to_kopecks():
    result = calc(loss=D("100.005"), compensation=D("0.004"))

    assert result.loss == D("100.01")
    assert result.compensation == D("0.00")
    assert result.payable == D("100.01")


def test_the_smallest_limit_wins_and_names_itself():
    result = calc(
        loss=D("60000"),
        per_claim_limit=D("50000"),
        per_event_limit=D("100000"),
        event_paid_by_others=D("70000"),
        aggregate_limit=D("1000000"),
    )

    assert result.payable == D("30000.00")
    assert result.limit_applied == LimitApplied.PER_EVENT


def test_seller_bore_is_loss_less_compensation_less_payable():
    assert seller_bore(loss=D("12000"), compensation=D("4000"), payable=D("7500")) == D("500.00")


def test_recovery_due_counts_what_was_already_raised():
    assert recovery_due(paid=D("7500"), recoveries_raised=D("6000"), payable_now=D("0")) == D(
        "1500.00"
    )
    assert recovery_due(paid=D("7500"), recoveries_raised=D("0"), payable_now=D("8000")) == D(
        "0.00"
    )


@pytest.mark.parametrize(
    ("reason", "peril", "fits"),
    [
        ("loss", "loss", True),
        ("damage", "loss", True),
        ("defect", "damage", True),
        ("transport_costs", "non_buyout", True),
        ("transport_costs", "damage", False),
        ("loss", "return", False),
        ("other", "refusal", True),
        ("other", "damage", True),
    ],
)
def test_which_compensation_reduces_which_peril(reason, peril, fits):
    assert compensation_fits(reason=reason, peril=peril) is fits


def test_triage_sends_cargo_to_wait_for_compensation():
    target = triage_target(
        cover="cargo",
        flags=[],
        payable=D("100"),
        auto_approve_threshold=D("10000"),
        compensation_known=False,
    )

    assert target == ClaimStatus.AWAITING_COMPENSATION


@pytest.mark.parametrize(
    ("flags", "payable", "expected"),
    [
        ([], D("50"), ClaimStatus.APPROVED),
        (["late_notice"], D("50"), ClaimStatus.UNDER_REVIEW),
        ([], D("0"), ClaimStatus.UNDER_REVIEW),
        ([], D("10000.01"), ClaimStatus.UNDER_REVIEW),
        ([], D("10000.00"), ClaimStatus.APPROVED),
    ],
)
def test_triage_approves_only_clean_claims_with_something_under_the_threshold(
    flags, payable, expected
):
    target = triage_target(
        cover="return_logistics",
        flags=flags,
        payable=payable,
        auto_approve_threshold=D("10000"),
        compensation_known=True,
    )

    assert target == expected


money = st.decimals(min_value=0, max_value=10_000_000, places=2, allow_nan=False)


@given(
    loss=money,
    compensation=money,
    deductible=money,
    per_claim=money,
    per_event=st.none() | money,
    event_paid=money,
    aggregate=money,
    policy_paid=money,
    recovered=money,
)
def test_payable_never_negative_and_never_above_any_bound(
    loss,
    compensation,
    deductible,
    per_claim,
    per_event,
    event_paid,
    aggregate,
    policy_paid,
    recovered,
):
    result = calculate_payable(
        loss=loss,
        compensation=compensation,
        deductible=deductible,
        per_claim_limit=per_claim,
        per_event_limit=per_event,
        event_paid_by_others=event_paid,
        aggregate_limit=aggregate,
        policy_paid_by_others=policy_paid,
        policy_recovery_received=recovered,
    )

    assert result.payable >= 0
    assert result.payable <= max(D(0), loss - compensation)
    assert result.payable <= per_claim
    if per_event is not None:
        assert result.payable <= max(D(0), per_event - event_paid)
    assert result.payable <= max(D(0), aggregate - policy_paid + recovered)
    assert result.seller_bore >= 0
    # Indemnity: what the seller got from both never exceeds the loss.
    assert min(compensation, loss) + result.payable <= loss
    assert result.payable == result.payable.quantize(D("0.01"))
