"""The marketplace's compensation: its records, the one rule that says which claim a record
counts on, and the recoveries raised when it comes after a payout.
"""

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from claims.assessment import claim_recalculate
from claims.calculation import compensation_fits, recovery_due
from claims.choices import (
    ClaimStatus,
    CompensationReason,
    RecoveryStatus,
)
from claims.errors import ClaimErrorCode, PermissionDeniedError
from claims.lifecycle import claim_release
from claims.locks import claim_lock
from claims.models import (
    Claim,
    MarketplaceCompensation,
    Recovery,
)
from claims.selectors import claim_paid, claim_recoveries_raised
from policies.actors import Actor
from policies.choices import (
    ActorKind,
    Peril,
)
from policies.errors import DomainError
from policies.ingest import (
    CREATED,
    ERROR,
    UNCHANGED,
    ItemResult,
    by_external_id,
    conflict,
    differing_values,
    ensure_valid,
    insert_values,
    item_seller,
    sellers_by_ref,
    unknown_seller,
    values_by_external_id,
    with_retry_on_race,
)
from policies.models import Marketplace, Seller, Shipment
from policies.services import single_result

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


# What a replayed record is compared on; a relation by its key.
COMPENSATION_VALUES = ("seller", "shipment_external_id", "reason", "amount", "paid_on")


def compensations_record_bulk(
    *, marketplace: Marketplace, items: list[dict], source: str, with_records: bool = True
) -> list[ItemResult]:
    """Store marketplace payouts, each counted once by its external id.

    `item["seller"]` is the marketplace's seller id or a Seller; the shipment
    is referred to by its external id and may not be known yet: the record is
    kept, to be matched or reported as a discrepancy by reconciliation. Items
    come with their fields validated (API serializer, CSV parser, or
    `compensation_record`): a million-row import must not check each twice.
    With `with_records` each answer carries its record; an import that only
    counts the answers goes without, as a model object per row costs more
    than the row's insert.
    """

    def write():
        sellers = sellers_by_ref(marketplace=marketplace, items=items)
        shipments = values_by_external_id(
            Shipment.objects,
            marketplace=marketplace,
            ids=(i["shipment"] for i in items),
            fields=("pk", "seller"),
        )
        existing = values_by_external_id(
            MarketplaceCompensation.objects,
            marketplace=marketplace,
            ids=(i["external_id"] for i in items),
            fields=COMPENSATION_VALUES,
        )
        results, new = [], {}
        for item in items:
            external_id = item["external_id"]
            seller = item_seller(item, sellers=sellers, marketplace=marketplace)
            if seller is None:
                results.append(ItemResult.error(external_id, unknown_seller()))
                continue
            values = {
                "seller": seller.pk,
                "shipment_external_id": item["shipment"],
                "reason": item["reason"],
                "amount": item["amount"],
                "paid_on": item["paid_on"],
            }
            stored = existing.get(external_id) or new.get(external_id)
            if stored is not None:
                if differing := differing_values(stored, values):
                    results.append(conflict(external_id, differing))
                else:
                    status = UNCHANGED if external_id in existing else CREATED
                    results.append(ItemResult(external_id, status))
                continue
            shipment = shipments.get(item["shipment"])
            if shipment is not None and shipment["seller"] != seller.pk:
                results.append(
                    ItemResult.error(
                        external_id, {"shipment": [_("The shipment belongs to another seller.")]}
                    )
                )
                continue
            new[external_id] = {**values, "shipment": shipment and shipment["pk"]}
            results.append(ItemResult(external_id, CREATED))
        insert_values(
            MarketplaceCompensation,
            [
                {
                    "marketplace_id": marketplace.pk,
                    "external_id": external_id,
                    "seller_id": row["seller"],
                    "shipment_external_id": row["shipment_external_id"],
                    "shipment_id": row["shipment"],
                    "reason": row["reason"],
                    "amount": row["amount"],
                    "paid_on": row["paid_on"],
                    "source": source,
                }
                for external_id, row in new.items()
            ],
        )
        return results

    results = with_retry_on_race(write)
    if with_records:
        records = by_external_id(
            MarketplaceCompensation.objects.select_related("seller", "claim"),
            marketplace=marketplace,
            ids=(r.external_id for r in results if r.status != ERROR),
        )
        for result in results:
            if result.status != ERROR:
                result.obj = records[result.external_id]
    return results


@transaction.atomic
def compensation_record(
    *,
    marketplace: Marketplace,
    external_id: str,
    seller: Seller,
    shipment_external_id: str,
    reason: str,
    amount: Decimal,
    paid_on: dt.date,
    source: str,
) -> tuple[MarketplaceCompensation, bool]:
    """Store one marketplace payout; return it and whether it was created."""
    ensure_valid(
        MarketplaceCompensation(
            marketplace=marketplace,
            external_id=external_id,
            seller=seller,
            shipment_external_id=shipment_external_id,
            reason=reason,
            amount=amount,
            paid_on=paid_on,
            source=source,
        )
    )
    [result] = compensations_record_bulk(
        marketplace=marketplace,
        source=source,
        items=[
            {
                "external_id": external_id,
                "seller": seller,
                "shipment": shipment_external_id,
                "reason": reason,
                "amount": amount,
                "paid_on": paid_on,
            }
        ],
    )
    return single_result(result)


@transaction.atomic
def compensation_match(*, compensation_id: int) -> Claim | None:
    """Count one compensation record on the claim it reduces and settle the consequences.

    Return the claim, or None while there is no claim (or no shipment) to
    count it on. Matching an already matched record changes nothing.
    """
    compensation = MarketplaceCompensation.objects.select_for_update().get(pk=compensation_id)
    if compensation.claim_id is not None:
        return None
    if compensation.shipment_id is None:
        shipment = Shipment.objects.filter(
            marketplace_id=compensation.marketplace_id,
            external_id=compensation.shipment_external_id,
            seller_id=compensation.seller_id,
        ).first()
        if shipment is None:
            return None
        compensation.shipment = shipment
    claims = list(Claim.objects.filter(shipment_id=compensation.shipment_id))
    claim = claim_for_compensation(compensation=compensation, claims=claims)
    if claim is not None:
        compensation.claim = claim
        compensation.matched_at = timezone.now()
    compensation.save(update_fields=["shipment", "claim", "matched_at"])
    if claim is None:
        return None
    return claim_compensation_changed(claim_id=claim.pk, compensation=compensation)


@transaction.atomic
def claim_compensation_changed(
    *, claim_id: int, compensation: MarketplaceCompensation | None = None
) -> Claim:
    """Recompute the claim with all compensation now known.

    A waiting claim is released; a paid one whose payable fell below its
    payout gets a Recovery of the difference (the seller owes it back).
    """
    claim = claim_lock(claim_id=claim_id)
    if claim.status == ClaimStatus.AWAITING_COMPENSATION:
        return claim_release(claim_id=claim_id)
    calc = claim_recalculate(claim=claim)
    claim.save()
    due = recovery_due(
        paid=claim_paid(claim_id=claim.pk),
        recoveries_raised=claim_recoveries_raised(claim_id=claim.pk),
        payable_now=calc.payable,
    )
    if due > 0:
        Recovery.objects.create(
            claim=claim, compensation=compensation, amount=due, raised_at=timezone.now()
        )
    return claim


@transaction.atomic
def recovery_receive(
    *, recovery_id: int, received_on: dt.date, reference: str = "", actor: Actor
) -> Recovery:
    """Record that the seller paid a recovery back; it frees aggregate limit again."""
    recovery = Recovery.objects.select_related("claim").get(pk=recovery_id)
    claim_lock(claim_id=recovery.claim_id)
    recovery = Recovery.objects.select_for_update().get(pk=recovery_id)
    if actor.kind == ActorKind.USER and not actor.user.has_perm("claims.pay_claim"):
        raise PermissionDeniedError(
            ClaimErrorCode.PERMISSION_DENIED, _("You may not record money received.")
        )
    if recovery.status == RecoveryStatus.RECEIVED:
        raise DomainError(
            ClaimErrorCode.RECOVERY_ALREADY_RECEIVED, _("This recovery is already received.")
        )
    recovery.status = RecoveryStatus.RECEIVED
    recovery.received_on = received_on
    recovery.reference = reference
    recovery.full_clean()
    recovery.save()
    return recovery
