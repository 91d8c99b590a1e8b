"""Eligibility (DESIGN §4): hard rules that refuse a claim, judgement flags that route it."""

import datetime as dt
from decimal import Decimal

from claims.choices import ClaimFlag, EligibilityCode
from claims.errors import ClaimNotEligible
from claims.models import Claim
from policies.choices import COVER_BY_PERIL, Cover, Peril, PolicyStatus
from policies.models import Policy, Seller, Shipment

# A policy that was active on the event date: still active, or since expired.
COVERING_STATUSES = (PolicyStatus.ACTIVE, PolicyStatus.EXPIRED)


def covering_policy(*, seller: Seller, on: dt.date) -> Policy | None:
    """Return the seller's policy that was in force on `on`, if any."""
    return (
        Policy.objects.select_related("product_version")
        .filter(
            seller=seller,
            status__in=COVERING_STATUSES,
            period_start__lte=on,
            period_end__gte=on,
        )
        .order_by("-period_start")
        .first()
    )


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
    if shipment.seller_id != seller.pk:
        raise ClaimNotEligible(
            EligibilityCode.SHIPMENT_NOT_OWNED, EligibilityCode.SHIPMENT_NOT_OWNED.label
        )
    if claimed_amount <= 0:
        raise ClaimNotEligible(
            EligibilityCode.AMOUNT_NOT_POSITIVE, EligibilityCode.AMOUNT_NOT_POSITIVE.label
        )
    if event_date > today:
        raise ClaimNotEligible(
            EligibilityCode.EVENT_IN_FUTURE, EligibilityCode.EVENT_IN_FUTURE.label
        )
    if event_date < shipment.shipped_at.date():
        raise ClaimNotEligible(
            EligibilityCode.EVENT_BEFORE_COVER, EligibilityCode.EVENT_BEFORE_COVER.label
        )
    policy = covering_policy(seller=seller, on=event_date)
    if policy is None:
        raise ClaimNotEligible(
            EligibilityCode.NO_ACTIVE_POLICY, EligibilityCode.NO_ACTIVE_POLICY.label
        )
    if not policy.product_version.covers.filter(cover=COVER_BY_PERIL[peril]).exists():
        raise ClaimNotEligible(
            EligibilityCode.COVER_NOT_IN_PRODUCT, EligibilityCode.COVER_NOT_IN_PRODUCT.label
        )
    duplicates = Claim.objects.filter(shipment=shipment, peril=peril)
    if exclude_claim_id is not None:
        duplicates = duplicates.exclude(pk=exclude_claim_id)
    if duplicates.exists():
        raise ClaimNotEligible(
            EligibilityCode.DUPLICATE_CLAIM, EligibilityCode.DUPLICATE_CLAIM.label
        )
    return policy


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
