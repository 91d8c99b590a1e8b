"""A claim's assessment: its payable, its flags, its due date and every time window it runs on."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from claims.calculation import (
    HOLDING,
    Calculation,
    calculate_payable,
)
from claims.choices import (
    ClaimFlag,
    ClaimSource,
    ClaimStatus,
    LimitApplied,
)
from claims.models import (
    Claim,
)
from claims.selectors import (
    claim_compensation_total,
    event_held_by_others,
    event_paid_by_others,
    policy_usage,
)
from policies.calendar import add_working_days, working_days_between
from policies.choices import COVER_BY_PERIL, EVENT_KIND_BY_PERIL, Cover, Peril
from policies.models import Shipment, ShipmentEvent

DECISION_WORKING_DAYS = 14


PAYMENT_WORKING_DAYS = 14


APPEAL_WINDOW_DAYS = 30


def appeal_by(*, decided_on: dt.date) -> dt.date:
    """Return the last day to appeal a decision (a rejection) of `decided_on`.

    The rejection letter, the claim's page and the job that closes claims all keep to it:
    a claim closes on the day after.
    """
    return decided_on + dt.timedelta(days=APPEAL_WINDOW_DAYS)


def appeal_window_passed_before(*, today: dt.date) -> dt.datetime:
    """Return the moment before which a decision's appeal window has run out by `today`: the
    start of the earliest day whose decisions `appeal_by` still lets the seller appeal."""
    first_still_open = today - dt.timedelta(days=APPEAL_WINDOW_DAYS)
    return timezone.make_aware(dt.datetime.combine(first_still_open, dt.time.min))


INFO_REPLY_WINDOW_DAYS = 30


def event_key(*, shipment: Shipment, peril: str, event_date: dt.date) -> str:
    """Return the key of the loss event: same order, same kind of event, same day."""
    return f"{shipment.order_id}|{peril}|{event_date.isoformat()}"


# The one flag a release clears: the wait it names is what the release ends. The set-based
# release of reconciliation (claims/reconciliation/sql.py) removes this same flag.
RELEASE_CLEARS = ClaimFlag.COMPENSATION_WAIT_PENDING


def release_flags(*, flags: list[str]) -> list[str]:
    """Return the flags a released claim keeps: the judgement of its submission, less the wait.

    Nothing but the compensation is new at release, so the rest of that judgement stands.
    """
    return [flag for flag in flags if flag != RELEASE_CLEARS]


def claim_due_on(claim: Claim) -> dt.date | None:
    """Return the date the next service level falls due; none while the clock is paused."""
    if claim.status in (ClaimStatus.SUBMITTED, ClaimStatus.UNDER_REVIEW) and claim.sla_started_on:
        return add_working_days(claim.sla_started_on, DECISION_WORKING_DAYS + claim.sla_paused_days)
    if claim.status == ClaimStatus.APPROVED and claim.decided_at:
        return add_working_days(timezone.localdate(claim.decided_at), PAYMENT_WORKING_DAYS)
    return None


@dataclass(frozen=True)
class SlaClock:
    """The service level running on a claim, in working days: the decision's or the payment's."""

    payment: bool
    allowed: int
    used: int
    # Working days the decision clock stood still while the claim waited on the seller.
    paused: int
    running: bool
    due_on: dt.date | None
    overdue: bool


def claim_sla_clock(claim: Claim, *, today: dt.date) -> SlaClock | None:
    """Return the claim's service-level clock as of `today`; None where none runs (a claim
    waiting on the marketplace, or decided and done with)."""
    if claim.status == ClaimStatus.APPROVED and claim.decided_at:
        start = timezone.localdate(claim.decided_at)
        due = add_working_days(start, PAYMENT_WORKING_DAYS)
        return SlaClock(
            payment=True,
            allowed=PAYMENT_WORKING_DAYS,
            used=working_days_between(start, today),
            paused=0,
            running=True,
            due_on=due,
            overdue=due < today,
        )
    deciding = (ClaimStatus.SUBMITTED, ClaimStatus.UNDER_REVIEW, ClaimStatus.INFO_REQUESTED)
    if claim.status not in deciding or not claim.sla_started_on:
        return None
    paused = claim.sla_paused_days
    waiting = claim.status == ClaimStatus.INFO_REQUESTED and claim.info_requested_at is not None
    if waiting:
        # The pause running now: the due date moves on until the seller answers.
        paused += working_days_between(timezone.localdate(claim.info_requested_at), today)
    allowed = DECISION_WORKING_DAYS + paused
    due = None if waiting else add_working_days(claim.sla_started_on, allowed)
    return SlaClock(
        payment=False,
        allowed=DECISION_WORKING_DAYS,
        used=max(0, working_days_between(claim.sla_started_on, today) - paused),
        paused=paused,
        running=not waiting,
        due_on=due,
        overdue=due is not None and due < today,
    )


def claim_calculate(*, claim: Claim) -> Calculation:
    """Return the claim's calculation with what is known now about limits and compensation.

    The other claims' payouts and holds count against the limits; an approved claim keeps
    to what it holds (its stored payable). Read under the policy's lock (claims/locks.py),
    the figures cannot move before the caller's commit.
    """
    version = claim.policy.product_version
    terms = version.covers.get(cover=claim.cover)
    usage = policy_usage(policy_id=claim.policy_id, exclude_claim_id=claim.pk)
    holding = claim.status in HOLDING
    return calculate_payable(
        loss=claim.loss_amount,
        compensation=claim.compensation_amount,
        deductible=terms.deductible,
        per_claim_limit=terms.per_claim_limit,
        per_event_limit=terms.per_event_limit,
        event_paid_by_others=event_paid_by_others(claim=claim),
        event_held_by_others=event_held_by_others(claim=claim),
        aggregate_limit=version.aggregate_limit,
        policy_paid_by_others=usage.paid,
        policy_held_by_others=usage.held,
        policy_recovery_received=usage.recovery_received,
        held=claim.payable_amount if holding else None,
        held_by=claim.limit_applied if holding else LimitApplied.NONE,
    )


def claim_recalculate(*, claim: Claim) -> Calculation:
    """Bring the claim's stored figures up to date; the caller saves."""
    claim.compensation_amount = claim_compensation_total(claim_id=claim.pk)
    calc = claim_calculate(claim=claim)
    claim.deductible_amount = calc.deductible
    claim.payable_amount = calc.payable
    claim.limit_applied = calc.limit_applied
    return calc


def compensation_wait_over(*, event_date: dt.date, wait_days: int, on: dt.date) -> bool:
    """Whether the marketplace's time to compensate a loss of `event_date` has run out by `on`.

    Past it, a compensation not received is taken as zero.
    """
    return on >= event_date + dt.timedelta(days=wait_days)


def compensation_known(*, claim: Claim, received: bool, today: dt.date) -> bool:
    """Whether the claim's compensation is known: some was `received`, or the wait is over."""
    return received or compensation_wait_over(
        event_date=claim.event_date,
        wait_days=claim.policy.product_version.cargo_compensation_wait_days,
        on=today,
    )


def claim_flags(
    *,
    claim: Claim,
    today: dt.date,
    compensation_known: bool,
    event_kinds: set[str] | None = None,
    zone: dt.tzinfo | None = None,
) -> list[str]:
    """Return the claim's judgement flags; `event_kinds` saves a query when already known,
    `zone` (the current time zone) a lookup per claim of a batch."""
    version = claim.policy.product_version
    shipment = claim.shipment
    if event_kinds is None:
        event_kinds = set(
            ShipmentEvent.objects.filter(shipment_id=claim.shipment_id).values_list(
                "kind", flat=True
            )
        )
    notified = timezone.localdate(claim.submitted_at, zone) if claim.submitted_at else today
    return judgement_flags(
        peril=claim.peril,
        event_date=claim.event_date,
        notified_on=notified,
        claimed_amount=claim.claimed_amount,
        declared_value=shipment.declared_value,
        known_fee=shipment.reverse_logistics_fee,
        category=shipment.category,
        notification_window_days=version.notification_window_days,
        max_declared_value=version.max_declared_value,
        excluded_categories=version.excluded_categories,
        compensation_wait_days=version.cargo_compensation_wait_days,
        compensation_known=compensation_known,
        marketplace_verified=is_marketplace_verified(
            source=claim.source, peril=claim.peril, event_kinds=event_kinds
        ),
    )


def is_marketplace_verified(*, source: str, peril: str, event_kinds: set[str]) -> bool:
    """Whether the marketplace itself vouches for the loss: it sent the claim or the event."""
    return source in (ClaimSource.MARKETPLACE, ClaimSource.REPORT) or (
        EVENT_KIND_BY_PERIL[peril] in event_kinds
    )


def judgement_flags(
    *,
    peril: str,
    event_date: dt.date,
    notified_on: dt.date,
    claimed_amount: Decimal,
    declared_value: Decimal,
    known_fee: Decimal | None,
    category: str,
    notification_window_days: int,
    max_declared_value: Decimal | None,
    excluded_categories: list[str],
    compensation_wait_days: int,
    compensation_known: bool,
    marketplace_verified: bool,
) -> list[str]:
    """Return the codes of the judgement rules the claim trips, in a stable order.

    None of them refuses the claim: each only sends it to an adjuster. Late
    notice in particular is no ground to refuse by itself.
    """
    flags = []
    if notified_on > event_date + dt.timedelta(days=notification_window_days):
        flags.append(ClaimFlag.LATE_NOTICE)
    if max_declared_value is not None and declared_value > max_declared_value:
        flags.append(ClaimFlag.VALUE_ABOVE_MAXIMUM)
    excluded = {c.strip().casefold() for c in excluded_categories}
    if category and category.strip().casefold() in excluded:
        flags.append(ClaimFlag.EXCLUDED_CATEGORY)
    if (
        peril == Peril.LOSS
        and not compensation_known
        and not compensation_wait_over(
            event_date=event_date, wait_days=compensation_wait_days, on=notified_on
        )
    ):
        flags.append(ClaimFlag.COMPENSATION_WAIT_PENDING)
    ceiling = (
        known_fee
        if COVER_BY_PERIL[peril] == Cover.RETURN_LOGISTICS and known_fee is not None
        else declared_value
    )
    if claimed_amount > ceiling:
        flags.append(ClaimFlag.AMOUNT_ABOVE_VALUE)
    if not marketplace_verified:
        flags.append(ClaimFlag.NOT_MARKETPLACE_VERIFIED)
    return [str(flag) for flag in flags]
