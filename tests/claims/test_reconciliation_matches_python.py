"""The set-based reconciliation of claims/reconciliation/sql.py against the Python rules it
mirrors: on any policy, each claim the run touches ends with the money, flags and state that
`calculate_payable`, `release_flags` and `triage_target` give, the claims it releases for
approval together holding no more than the limits' room."""

import copy
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from claims.assessment import claim_calculate, claim_due_on, event_key, release_flags
from claims.calculation import (
    HOLDING,
    Calculation,
    calculate_payable,
    recovery_due,
    triage_target,
)
from claims.choices import (
    ClaimFlag,
    ClaimStatus,
    CompensationReason,
    LimitApplied,
    RecoveryStatus,
    RunState,
    SystemNote,
)
from claims.compensation import claim_for_compensation, compensation_match
from claims.models import (
    Claim,
    ClaimTransition,
    MarketplaceCompensation,
    ReconciliationRun,
    Recovery,
)
from claims.reconciliation.run import reconciliation_run, reconciliation_start
from policies.calculation import ZERO, money
from policies.calendar import add_working_days
from policies.choices import COVER_BY_PERIL, Cover, Peril
from policies.models import Policy
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal
SHIPMENTS = 4


def released_note(claim: Claim) -> str:
    return ClaimTransition.objects.get(claim=claim, transition="release").note_code


def cents(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low, high).map(lambda n: D(n).scaleb(-2))


def everyday(*, at_least: int = 0) -> st.SearchStrategy[Decimal]:
    """Return sums of `at_least` cents or more, up to 10 000.00; round ones often, so that
    limits tie."""
    return st.one_of(
        st.integers(1 if at_least else 0, 40).map(lambda n: D(n * 250).quantize(D("0.01"))),
        cents(at_least, 1_000_000),
    )


def tenths(*, at_least: int = 0, at_most: int = 20) -> st.SearchStrategy[Decimal]:
    """Return sums of tenths up to 2.00: they tie all the time, and in binary floats (SQLite's
    arithmetic) 1.00 - 0.70 is not 0.30."""
    return st.integers(at_least, at_most).map(lambda n: D(n * 10).scaleb(-2))


def worlds_of(
    amounts, *, large: st.SearchStrategy[Decimal], paid: st.SearchStrategy[Decimal]
) -> st.SearchStrategy[dict]:
    """Return policies whose sums of money `amounts` draws; `large`, claimed amounts above
    what the marketplace has `paid` on each record, so something is often left to pay."""
    positive = amounts(at_least=1)
    # Limits so high that nothing reaches them, as on most real policies.
    generous = st.just(D("1000000.00"))
    terms = st.fixed_dictionaries(
        {
            "per_claim_limit": amounts() | generous,
            "deductible": st.just(D("0.00")) | amounts(),
            "per_event_limit": st.none() | amounts(),
        }
    )
    claim = st.fixed_dictionaries(
        {
            # Shipments 2n and 2n + 1 share an order: claims on both, of one peril and day,
            # are one event.
            "shipment": st.integers(0, SHIPMENTS - 1),
            "peril": st.sampled_from([Peril.DAMAGE, Peril.LOSS, Peril.RETURN]),
            "day": st.integers(0, 1),
            "status": st.sampled_from(
                [
                    ClaimStatus.AWAITING_COMPENSATION,
                    ClaimStatus.AWAITING_COMPENSATION,
                    ClaimStatus.UNDER_REVIEW,
                    ClaimStatus.APPROVED,
                    ClaimStatus.PAID,
                    ClaimStatus.WITHDRAWN,
                ]
            ),
            "claimed": positive | large,
            "assessed_percent": st.none() | st.integers(0, 100),
            "flags": st.one_of(
                st.just([]),
                st.just([ClaimFlag.COMPENSATION_WAIT_PENDING]),
                st.lists(st.sampled_from(list(ClaimFlag)), unique=True, max_size=3),
            ),
            "paused_days": st.integers(0, 5),
            # Of the loss: what a paid claim was paid, or an approved one holds.
            "payout_percent": st.integers(1, 100),
            "held_by": st.sampled_from(
                [LimitApplied.NONE, LimitApplied.PER_EVENT, LimitApplied.AGGREGATE]
            ),
            # Each at most half the payout, so what is raised never exceeds what was paid.
            "recoveries": st.lists(st.tuples(st.integers(1, 50), st.booleans()), max_size=2),
            "prior_compensation": st.none() | paid,
            "new_compensations": st.lists(
                st.tuples(st.sampled_from(list(CompensationReason)), paid, st.booleans()),
                max_size=3,
            ),
        }
    )
    return st.fixed_dictionaries(
        {
            "cargo": terms,
            "return_logistics": terms,
            "aggregate_limit": amounts() | generous,
            "auto_approve_threshold": amounts() | generous,
            "claims": st.lists(claim, min_size=1, max_size=6),
        }
    )


worlds = st.one_of(
    worlds_of(everyday, large=cents(1_000_000, 5_000_000), paid=everyday(at_least=1)),
    worlds_of(tenths, large=tenths(at_least=10), paid=tenths(at_least=1, at_most=7)),
)


@dataclass
class Built:
    """A policy as built, with the facts the Python rules read kept beside it."""

    policy: Policy
    claims: list[Claim] = field(default_factory=list)
    paid: dict[int, Decimal] = field(default_factory=dict)
    held: dict[int, Decimal] = field(default_factory=dict)
    received: dict[int, Decimal] = field(default_factory=dict)
    raised: dict[int, Decimal] = field(default_factory=dict)
    new_records: list[MarketplaceCompensation] = field(default_factory=list)
    prior_compensation: dict[int, Decimal] = field(default_factory=dict)


def build(world: dict) -> Built:
    """Make the policy, its claims, payouts, recoveries and unmatched compensation records."""
    policy = factories.PolicyFactory(
        product_version__aggregate_limit=world["aggregate_limit"],
        product_version__auto_approve_threshold=world["auto_approve_threshold"],
        product_version__covers=[],
    )
    for cover in (Cover.CARGO, Cover.RETURN_LOGISTICS):
        factories.CoverTermsFactory(
            product_version=policy.product_version, cover=cover, **world[cover]
        )
    shipments = [
        factories.ShipmentFactory(policy=policy, order_id=f"order-{n // 2}")
        for n in range(SHIPMENTS)
    ]
    built = Built(policy=policy)
    taken: set[tuple[int, str]] = set()
    today = timezone.localdate()
    # Each record is paid on a day of its own, so none repeats another (a duplicate is not
    # counted; that rule is tested elsewhere).
    paid_on = iter(today - dt.timedelta(days=n) for n in range(1000))
    for spec in world["claims"]:
        shipment = shipments[spec["shipment"]]
        if (shipment.pk, spec["peril"]) in taken:
            continue
        taken.add((shipment.pk, spec["peril"]))
        status = spec["status"]
        if (
            status == ClaimStatus.AWAITING_COMPENSATION
            and COVER_BY_PERIL[spec["peril"]] != Cover.CARGO
        ):
            status = ClaimStatus.UNDER_REVIEW
        claimed = spec["claimed"]
        assessed = (
            None
            if spec["assessed_percent"] is None or status == ClaimStatus.AWAITING_COMPENSATION
            else money(claimed * spec["assessed_percent"] / 100)
        )
        event_date = today - dt.timedelta(days=10 + spec["day"])
        claim = factories.ClaimFactory(
            shipment=shipment,
            peril=spec["peril"],
            event_date=event_date,
            event_key=event_key(shipment=shipment, peril=spec["peril"], event_date=event_date),
            status=status,
            claimed_amount=claimed,
            assessed_amount=assessed,
            flags=[str(flag) for flag in spec["flags"]],
            sla_paused_days=spec["paused_days"],
            compensation_amount=spec["prior_compensation"] or ZERO,
        )
        built.claims.append(claim)
        built.paid[claim.pk] = built.received[claim.pk] = built.raised[claim.pk] = ZERO
        built.held[claim.pk] = ZERO
        if status in HOLDING:
            claim.payable_amount = built.held[claim.pk] = money(
                claim.loss_amount * spec["payout_percent"] / 100
            )
            claim.limit_applied = spec["held_by"]
            claim.save(update_fields=["payable_amount", "limit_applied"])
        if status == ClaimStatus.PAID:
            payout = max(D("0.01"), money(claim.loss_amount * spec["payout_percent"] / 100))
            factories.PayoutFactory(claim=claim, amount=payout)
            built.paid[claim.pk] = payout
            for share, received in spec["recoveries"]:
                amount = money(payout * share / 100)
                if amount <= 0:
                    continue
                factories.RecoveryFactory(
                    claim=claim,
                    amount=amount,
                    status=RecoveryStatus.RECEIVED if received else RecoveryStatus.OPEN,
                    received_on=today if received else None,
                )
                built.raised[claim.pk] += amount
                if received:
                    built.received[claim.pk] += amount
        if spec["prior_compensation"]:
            # Counted by an earlier match: the run adds to it and never counts it again.
            factories.CompensationFactory(
                shipment=shipment,
                claim=claim,
                matched_at=timezone.now(),
                reason=fitting_reason(spec["peril"]),
                amount=spec["prior_compensation"],
                paid_on=next(paid_on),
            )
        built.prior_compensation[claim.pk] = spec["prior_compensation"] or ZERO
        for reason, amount, linked in spec["new_compensations"]:
            built.new_records.append(
                factories.CompensationFactory(
                    shipment=shipment if linked else None,
                    shipment_external_id=shipment.external_id,
                    seller=shipment.seller,
                    marketplace=shipment.marketplace,
                    reason=reason,
                    amount=amount,
                    paid_on=next(paid_on),
                )
            )
    return built


def fitting_reason(peril: str) -> str:
    return (
        CompensationReason.DAMAGE
        if COVER_BY_PERIL[peril] == Cover.CARGO
        else CompensationReason.TRANSPORT_COSTS
    )


def expected_calculation(*, built: Built, claim: Claim, compensation: Decimal) -> Calculation:
    """Return `calculate_payable` over the built facts: the other claims' payouts, holds and
    money received back, on the policy and on the claim's event, and what the claim holds."""
    version = built.policy.product_version
    terms = version.covers.get(cover=claim.cover)
    others = [other for other in built.claims if other.pk != claim.pk]
    same_event = [other for other in others if other.event_key == claim.event_key]
    holding = claim.status in HOLDING
    return calculate_payable(
        loss=claim.loss_amount,
        compensation=compensation,
        deductible=terms.deductible,
        per_claim_limit=terms.per_claim_limit,
        per_event_limit=terms.per_event_limit,
        event_paid_by_others=sum(
            (built.paid[o.pk] - built.received[o.pk] for o in same_event), start=ZERO
        ),
        aggregate_limit=version.aggregate_limit,
        policy_paid_by_others=sum((built.paid[o.pk] for o in others), start=ZERO),
        policy_recovery_received=sum((built.received[o.pk] for o in others), start=ZERO),
        event_held_by_others=sum((built.held[o.pk] for o in same_event), start=ZERO),
        policy_held_by_others=sum((built.held[o.pk] for o in others), start=ZERO),
        held=built.held[claim.pk] if holding else None,
        held_by=claim.limit_applied if holding else LimitApplied.NONE,
    )


def expected_crowded(*, built: Built, calcs: dict[int, Calculation]) -> set[int]:
    """Return the released claims that triage would approve but the room the claims released
    before them (in the order filed) leaves too short: they go to a person."""
    threshold = built.policy.product_version.auto_approve_threshold
    crowded, policy_queue, event_queue = set(), ZERO, {}
    for claim in sorted(built.claims, key=lambda c: c.pk):
        calc = calcs.get(claim.pk)
        if calc is None or claim.status != ClaimStatus.AWAITING_COMPENSATION:
            continue
        target = triage_target(
            cover=claim.cover,
            flags=release_flags(flags=claim.flags),
            payable=calc.payable,
            auto_approve_threshold=threshold,
            compensation_known=True,
        )
        if target != ClaimStatus.APPROVED:
            continue
        policy_queue += calc.payable
        event_queue[claim.event_key] = event_queue.get(claim.event_key, ZERO) + calc.payable
        if policy_queue > calc.aggregate_room or (
            calc.event_room is not None and event_queue[claim.event_key] > calc.event_room
        ):
            crowded.add(claim.pk)
    return crowded


def reconcile() -> ReconciliationRun:
    run = reconciliation_start(trigger="manual")
    return reconciliation_run(run_id=run.pk)


def assert_reconciliation_matches_python(built: Built) -> None:
    before = {claim.pk: claim for claim in built.claims}
    recoveries_before = set(Recovery.objects.values_list("pk", flat=True))
    # Where the Python rule of claims.compensation counts each new record.
    counted: dict[int, list[MarketplaceCompensation]] = {}
    for record in built.new_records:
        shipment_claims = [
            c for c in built.claims if c.shipment.external_id == record.shipment_external_id
        ]
        claim = claim_for_compensation(compensation=record, claims=shipment_claims)
        if claim is not None:
            counted.setdefault(claim.pk, []).append(record)
    today = timezone.localdate()
    compensations = {
        pk: built.prior_compensation[pk] + sum((record.amount for record in records), start=ZERO)
        for pk, records in counted.items()
    }
    calcs = {
        pk: expected_calculation(built=built, claim=before[pk], compensation=compensation)
        for pk, compensation in compensations.items()
    }
    # What the Python path reads, before the run moves what the other claims hold.
    python = {}
    for pk, compensation in compensations.items():
        probe = copy.copy(before[pk])
        probe.compensation_amount = compensation
        python[pk] = claim_calculate(claim=probe)
    crowded = expected_crowded(built=built, calcs=calcs)

    run = reconcile()

    assert run.state == RunState.DONE
    matched = dict(MarketplaceCompensation.objects.filter(run=run).values_list("pk", "claim_id"))
    assert matched == {
        record.pk: next((pk for pk, records in counted.items() if record in records), None)
        for record in built.new_records
    }
    released = 0
    for after in Claim.objects.filter(pk__in=before):
        was = before[after.pk]
        new_recoveries = list(
            Recovery.objects.filter(claim=after).exclude(pk__in=recoveries_before)
        )
        if after.pk not in counted:
            assert claim_state(after) == claim_state(was)
            assert new_recoveries == []
            continue
        compensation, calc = compensations[after.pk], calcs[after.pk]
        event(f"limit applied: {calc.limit_applied or 'none'}")
        assert python[after.pk] == calc
        assert (
            after.compensation_amount,
            after.deductible_amount,
            after.payable_amount,
            after.limit_applied,
        ) == (compensation, calc.deductible, calc.payable, calc.limit_applied)
        due = recovery_due(
            paid=built.paid[after.pk],
            recoveries_raised=built.raised[after.pk],
            payable_now=calc.payable,
        )
        assert [r.amount for r in new_recoveries] == ([due] if due > 0 else [])
        if due > 0:
            event("recovery raised")
        if was.status != ClaimStatus.AWAITING_COMPENSATION:
            assert (after.status, after.flags, after.sla_paused_days) == (
                was.status,
                was.flags,
                was.sla_paused_days,
            )
            continue
        released += 1
        flags = release_flags(flags=was.flags)
        target = triage_target(
            cover=was.cover,
            flags=flags,
            payable=calc.payable,
            auto_approve_threshold=built.policy.product_version.auto_approve_threshold,
            compensation_known=True,
        )
        if after.pk in crowded:
            target = ClaimStatus.UNDER_REVIEW
            event("crowded out")
            assert released_note(after) == SystemNote.CROWDED_OUT
        event(f"released to {target}")
        assert (after.status, after.flags) == (target, flags)
        assert (after.sla_started_on, after.sla_paused_days) == (today, 0)
        assert after.due_on == claim_due_on(after)
        assert (after.decided_at is not None) == (target == ClaimStatus.APPROVED)
    assert run.claims_released == released


def claim_state(claim: Claim) -> tuple:
    """Return what the run may change on a claim."""
    return (
        claim.status,
        claim.flags,
        claim.sla_paused_days,
        claim.compensation_amount,
        claim.deductible_amount,
        claim.payable_amount,
        claim.limit_applied,
    )


def one_claim(*, per_claim_limit: str, auto_approve_threshold: str = "1000000.00", **claim) -> dict:
    """Return a policy of one cargo claim, without a deductible or any other limit in reach."""
    terms = {"per_claim_limit": D(per_claim_limit), "deductible": ZERO, "per_event_limit": None}
    spec = {
        "shipment": 0,
        "peril": Peril.DAMAGE,
        "day": 0,
        "status": ClaimStatus.AWAITING_COMPENSATION,
        "claimed": D("1.00"),
        "assessed_percent": None,
        "flags": [],
        "paused_days": 0,
        "payout_percent": 100,
        "recoveries": [],
        "prior_compensation": None,
        "new_compensations": [(CompensationReason.DAMAGE, D("0.70"), False)],
        **claim,
    }
    return {
        "cargo": terms,
        "return_logistics": terms,
        "aggregate_limit": D("1000000.00"),
        "auto_approve_threshold": D(auto_approve_threshold),
        "claims": [spec],
    }


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds)
# In SQLite's floats 1.00 - 0.70 is 0.30000000000000004 and 0.70 - 0.40 is
# 0.29999999999999993: a limit of 0.30 is then applied, a threshold of 0.30 passed and a
# payout of 0.30 found above its payable, where the Decimal rules find them equal. Random
# draws meet these ties too seldom to rely on.
@example(world=one_claim(per_claim_limit="0.30"))
@example(world=one_claim(per_claim_limit="1000000.00", auto_approve_threshold="0.30"))
@example(
    world=one_claim(
        per_claim_limit="1000000.00",
        status=ClaimStatus.PAID,
        claimed=D("0.70"),
        payout_percent=43,
        new_compensations=[(CompensationReason.DAMAGE, D("0.40"), True)],
    )
)
def test_reconciliation_settles_every_claim_as_the_python_rules_do(world):
    # Each example on a database of its own making, undone after.
    with transaction.atomic():
        # given
        built = build(world)
        # when, then
        assert_reconciliation_matches_python(built)
        transaction.set_rollback(True)


# The drifts between the two releases, one test each, on both paths.


def release_by_python(*, claim: Claim, amount: Decimal) -> None:
    compensation_match(
        compensation_id=factories.CompensationFactory(shipment=claim.shipment, amount=amount).pk
    )


def release_by_reconciliation(*, claim: Claim, amount: Decimal) -> None:
    factories.CompensationFactory(
        shipment=None,
        shipment_external_id=claim.shipment.external_id,
        seller=claim.seller,
        marketplace=claim.marketplace,
        amount=amount,
    )
    reconcile()


RELEASES = pytest.mark.parametrize(
    "release", [release_by_python, release_by_reconciliation], ids=["python", "reconciliation"]
)


@RELEASES
def test_release_keeps_the_judgement_flags_of_submission(release):
    # given a waiting claim judged late at submission; today's facts would judge it clean
    claim = factories.ClaimFactory(
        status=ClaimStatus.AWAITING_COMPENSATION,
        source="marketplace",
        flags=[ClaimFlag.COMPENSATION_WAIT_PENDING, ClaimFlag.LATE_NOTICE],
    )
    factories.ShipmentEventFactory(shipment=claim.shipment, kind="damaged")

    # when the marketplace's compensation releases it
    release(claim=claim, amount=D("4000.00"))

    # then only the wait is over: the late notice still sends it to a person
    claim.refresh_from_db()
    assert (claim.status, claim.flags) == (ClaimStatus.UNDER_REVIEW, [ClaimFlag.LATE_NOTICE])
    assert claim.payable_amount == D("7500.00")


@RELEASES
def test_release_starts_the_decision_clock_anew_without_the_days_paused_before(release):
    # given a waiting claim the marketplace has not vouched for (so judged alike either way),
    # whose clock was paused for three working days earlier on
    claim = factories.ClaimFactory(
        status=ClaimStatus.AWAITING_COMPENSATION,
        source="seller",
        flags=[ClaimFlag.NOT_MARKETPLACE_VERIFIED],
        sla_started_on=None,
        sla_paused_days=3,
    )

    # when it is released to a person
    release(claim=claim, amount=D("4000.00"))

    # then the decision is due 14 working days from today, nothing paused
    claim.refresh_from_db()
    today = timezone.localdate()
    assert claim.status == ClaimStatus.UNDER_REVIEW
    assert (claim.sla_started_on, claim.sla_paused_days) == (today, 0)
    assert claim.due_on == add_working_days(today, 14)


@pytest.mark.parametrize("together", [False, True], ids=["one run each", "one run"])
def test_claims_released_never_hold_more_than_the_aggregate_limit(together):
    # given two waiting claims of one policy, each 7,500 once compensated; room for 10,000
    policy = factories.PolicyFactory(product_version__aggregate_limit=D("10000.00"))
    first, second = (
        factories.ClaimFactory(
            status=ClaimStatus.AWAITING_COMPENSATION,
            source="marketplace",
            shipment=factories.ShipmentFactory(policy=policy),
        )
        for _ in range(2)
    )

    # when the marketplace's compensation of both comes in one run, or in a run each
    for claim in (first, second):
        factories.CompensationFactory(
            shipment=None,
            shipment_external_id=claim.shipment.external_id,
            seller=claim.seller,
            marketplace=claim.marketplace,
            amount=D("4000.00"),
        )
        if not together:
            reconcile()
    if together:
        reconcile()

    # then the first holds 7,500; the second is approved for what is left after it, or, when
    # both were decided at once, goes to a person
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.payable_amount) == (ClaimStatus.APPROVED, D("7500.00"))
    if together:
        assert second.status == ClaimStatus.UNDER_REVIEW
        assert released_note(second) == SystemNote.CROWDED_OUT
    else:
        assert (second.status, second.payable_amount) == (ClaimStatus.APPROVED, D("2500.00"))
    held = sum(
        c.payable_amount for c in Claim.objects.filter(policy=policy, status=ClaimStatus.APPROVED)
    )
    assert held <= D("10000.00")
