"""A claim's assessment: its payable, its flags, its due date and every time window it runs on."""

import datetime as dt

from django.utils import timezone

from claims.calculation import (
    Calculation,
    calculate_payable,
)
from claims.choices import (
    ClaimStatus,
)
from claims.eligibility import (
    is_marketplace_verified,
    judgement_flags,
)
from claims.models import (
    Claim,
)
from claims.selectors import (
    claim_compensation_total,
    event_paid_by_others,
    policy_usage,
)
from policies.calendar import add_working_days
from policies.models import Shipment, ShipmentEvent

DECISION_WORKING_DAYS = 14


PAYMENT_WORKING_DAYS = 14


APPEAL_WINDOW_DAYS = 30


INFO_REPLY_WINDOW_DAYS = 30


def event_key(*, shipment: Shipment, peril: str, event_date: dt.date) -> str:
    """Return the key of the loss event: same order, same kind of event, same day."""
    return f"{shipment.order_id}|{peril}|{event_date.isoformat()}"


def claim_due_on(claim: Claim) -> dt.date | None:
    """Return the date the next service level falls due; none while the clock is paused."""
    if claim.status in (ClaimStatus.SUBMITTED, ClaimStatus.UNDER_REVIEW) and claim.sla_started_on:
        return add_working_days(claim.sla_started_on, DECISION_WORKING_DAYS + claim.sla_paused_days)
    if claim.status == ClaimStatus.APPROVED and claim.decided_at:
        return add_working_days(timezone.localdate(claim.decided_at), PAYMENT_WORKING_DAYS)
    return None


def claim_calculate(*, claim: Claim) -> Calculation:
    """Return the claim's calculation with what is known now about limits and compensation."""
    version = claim.policy.product_version
    terms = version.covers.get(cover=claim.cover)
    usage = policy_usage(policy_id=claim.policy_id, exclude_claim_id=claim.pk)
    return calculate_payable(
        loss=claim.loss_amount,
        compensation=claim.compensation_amount,
        deductible=terms.deductible,
        per_claim_limit=terms.per_claim_limit,
        per_event_limit=terms.per_event_limit,
        event_paid_by_others=event_paid_by_others(claim=claim),
        aggregate_limit=version.aggregate_limit,
        policy_paid_by_others=usage.paid,
        policy_recovered=usage.recovered,
    )


def claim_recalculate(*, claim: Claim) -> Calculation:
    """Bring the claim's stored figures up to date; the caller saves."""
    claim.compensation_amount = claim_compensation_total(claim_id=claim.pk)
    calc = claim_calculate(claim=claim)
    claim.deductible_amount = calc.deductible
    claim.payable_amount = calc.payable
    claim.limit_applied = calc.limit_applied
    return calc


def compensation_known(claim: Claim, today: dt.date) -> bool:
    wait = claim.policy.product_version.cargo_compensation_wait_days
    return claim.compensations.exists() or today >= claim.event_date + dt.timedelta(days=wait)


def claim_flags(
    *,
    claim: Claim,
    today: dt.date,
    compensation_known: bool,
    event_kinds: set[str] | None = None,
) -> list[str]:
    """Return the claim's judgement flags; `event_kinds` saves a query when already known."""
    version = claim.policy.product_version
    shipment = claim.shipment
    if event_kinds is None:
        event_kinds = set(
            ShipmentEvent.objects.filter(shipment_id=claim.shipment_id).values_list(
                "kind", flat=True
            )
        )
    notified = timezone.localdate(claim.submitted_at) if claim.submitted_at else today
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
