"""Eligibility: the hard rules that stop a claim from being filed at all, each with its code.

The judgement rules, which never refuse a claim but flag it for an adjuster, are part of
its assessment (claims/assessment.py).
"""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from claims.choices import EligibilityCode
from claims.errors import ClaimNotEligible
from claims.models import Claim
from policies.choices import COVER_BY_PERIL, PolicyStatus
from policies.ingest import policy_on
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
    zone: dt.tzinfo | None = None,
) -> EligibilityCode | None:
    """Return the first hard rule the claim breaks, or None; reads nothing from the database.

    `zone` is the current time zone, which a batch works out once."""
    if shipment.seller_id != seller.pk:
        return EligibilityCode.SHIPMENT_NOT_OWNED
    if claimed_amount <= 0:
        return EligibilityCode.AMOUNT_NOT_POSITIVE
    if event_date > today:
        return EligibilityCode.EVENT_IN_FUTURE
    if event_date < timezone.localdate(shipment.shipped_at, zone):
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
    policy = policy_on(covering_policies(seller_ids={seller.pk}).get(seller.pk, []), event_date)
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
