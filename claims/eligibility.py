"""Eligibility (DESIGN §4): hard rules that refuse a claim, judgement flags that route it."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from claims.choices import ClaimFlag, ClaimSource, EligibilityCode
from claims.errors import ClaimNotEligible
from claims.models import Claim
from policies.choices import COVER_BY_PERIL, EVENT_KIND_BY_PERIL, Cover, Peril, PolicyStatus
from policies.models import Policy, Seller, Shipment

# A policy that was active on the event date: still active, or since expired.
COVERING_STATUSES = (PolicyStatus.ACTIVE, PolicyStatus.EXPIRED)


def covering_policies(*, seller_ids: set[int]) -> dict[int, list[Policy]]:
    """Return, per seller, the policies that may cover an event, with their covers loaded."""
    policies = (
        Policy.objects.filter(seller_id__in=seller_ids, status__in=COVERING_STATUSES)
        .select_related("product_version")
        .prefetch_related("product_version__covers")
        .order_by("-period_start")
    )
    by_seller: dict[int, list[Policy]] = {}
    for policy in policies:
        by_seller.setdefault(policy.seller_id, []).append(policy)
    return by_seller


def policy_covering(policies: list[Policy], on: dt.date) -> Policy | None:
    """Return the policy among `policies` that was in force on `on`, if any."""
    return next((p for p in policies if p.period_start <= on <= p.period_end), None)


def hard_rule_violation(
    *,
    seller: Seller,
    shipment: Shipment,
    peril: str,
    event_date: dt.date,
    claimed_amount: Decimal,
    today: dt.date,
    policy: Policy | None,
    duplicate: bool,
) -> EligibilityCode | None:
    """Return the first hard rule the claim breaks, or None; reads nothing from the database."""
    if shipment.seller_id != seller.pk:
        return EligibilityCode.SHIPMENT_NOT_OWNED
    if claimed_amount <= 0:
        return EligibilityCode.AMOUNT_NOT_POSITIVE
    if event_date > today:
        return EligibilityCode.EVENT_IN_FUTURE
    if event_date < timezone.localdate(shipment.shipped_at):
        return EligibilityCode.EVENT_BEFORE_COVER
    if policy is None:
        return EligibilityCode.NO_ACTIVE_POLICY
    if COVER_BY_PERIL[peril] not in {c.cover for c in policy.product_version.covers.all()}:
        return EligibilityCode.COVER_NOT_IN_PRODUCT
    if duplicate:
        return EligibilityCode.DUPLICATE_CLAIM
    return None


def not_eligible(code: EligibilityCode) -> ClaimNotEligible:
    return ClaimNotEligible(code, code.label)


def check_hard_rules(
    *,
    seller: Seller,
    shipment: Shipment,
    peril: str,
    event_date: dt.date,
    claimed_amount: Decimal,
    today: dt.date,
    exclude_claim_id: int | None = None,
) -> Policy:
    """Return the policy that covers the claim, or raise ClaimNotEligible with the rule's code."""
    policy = policy_covering(
        covering_policies(seller_ids={seller.pk}).get(seller.pk, []), event_date
    )
    duplicates = Claim.objects.filter(shipment=shipment, peril=peril)
    if exclude_claim_id is not None:
        duplicates = duplicates.exclude(pk=exclude_claim_id)
    code = hard_rule_violation(
        seller=seller,
        shipment=shipment,
        peril=peril,
        event_date=event_date,
        claimed_amount=claimed_amount,
        today=today,
        policy=policy,
        duplicate=duplicates.exists(),
    )
    if code is not None:
        raise not_eligible(code)
    return policy


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
        and notified_on < event_date + dt.timedelta(days=compensation_wait_days)
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
