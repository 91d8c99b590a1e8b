"""Which claim a marketplace compensation record counts on: the one rule, used everywhere."""

from django.db.models import Q, QuerySet
from django.utils import timezone

from claims.calculation import compensation_fits
from claims.choices import ClaimStatus, CompensationReason
from claims.models import Claim, MarketplaceCompensation
from policies.choices import Peril
from policies.models import Shipment

# Where a shipment has claims under several perils, the payout goes to the
# peril its reason names first.
PREFERRED_PERIL = {
    CompensationReason.LOSS: Peril.LOSS,
    CompensationReason.SUBSTITUTION: Peril.LOSS,
    CompensationReason.DAMAGE: Peril.DAMAGE,
    CompensationReason.DEFECT: Peril.DAMAGE,
}

UNMATCHABLE_STATUSES = (ClaimStatus.DRAFT, ClaimStatus.WITHDRAWN)


def claim_for_compensation(
    *, compensation: MarketplaceCompensation, claims: list[Claim]
) -> Claim | None:
    """Return the claim among the shipment's `claims` that the payout reduces, if any."""
    fitting = [
        claim
        for claim in claims
        if claim.status not in UNMATCHABLE_STATUSES
        and compensation_fits(reason=compensation.reason, peril=claim.peril)
    ]
    preferred = PREFERRED_PERIL.get(compensation.reason)
    fitting.sort(key=lambda claim: (claim.peril != preferred, claim.pk))
    return fitting[0] if fitting else None


def unmatched_for_shipment(*, shipment: Shipment) -> QuerySet[MarketplaceCompensation]:
    """Return the payouts not yet counted that name the shipment, linked to it or not yet."""
    return MarketplaceCompensation.objects.filter(
        Q(shipment_id=shipment.pk)
        | Q(
            shipment=None,
            marketplace_id=shipment.marketplace_id,
            seller_id=shipment.seller_id,
            shipment_external_id=shipment.external_id,
        ),
        claim=None,
    )


def compensations_attach_unmatched(*, claim: Claim) -> int:
    """Count on `claim` the payouts already received for its shipment that fit its peril.

    The marketplace often pays before the seller files; its payout still
    reduces the loss. Return how many records were attached.
    """
    ids = [
        compensation.pk
        for compensation in unmatched_for_shipment(shipment=claim.shipment)
        if compensation_fits(reason=compensation.reason, peril=claim.peril)
    ]
    return MarketplaceCompensation.objects.filter(pk__in=ids, claim=None).update(
        claim=claim, shipment=claim.shipment, matched_at=timezone.now()
    )
