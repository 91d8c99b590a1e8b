"""The marketplace's compensation: its records, the one rule that says which claim a record
counts on, and the recoveries raised when it comes after a payout.
"""

import datetime as dt
from collections.abc import Container, Iterable
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Q
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
    RecoveryReceipt,
)
from claims.selectors import claim_paid, claim_recoveries_raised, recovery_received
from claims.templatetags.money import rub
from policies.actors import Actor
from policies.calculation import money
from policies.choices import (
    ActorKind,
    Peril,
)
from policies.errors import ConflictError, DomainError, ErrorCode, PolicyErrorCode
from policies.ingest import (
    ERROR,
    EXTERNAL_KEY,
    InArray,
    ItemResult,
    bulk_write,
    by_external_id,
    displaced,
    ensure_valid,
    insert_values,
    item_seller,
    sellers_by_ref,
    unknown_seller,
    values_by_external_id,
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


def unmatched_for_shipments(
    *, shipments: Iterable[Shipment]
) -> dict[int, list[MarketplaceCompensation]]:
    """Return, per shipment id, the records not yet counted on a claim that name it.

    A record names a shipment when it is linked to it, or when it is not linked yet
    (the shipment arrived after the record) but carries the shipment's marketplace,
    seller and external id. One query however many shipments.
    """
    shipments = list(shipments)
    by_reference = {(s.marketplace_id, s.seller_id, s.external_id): s.pk for s in shipments}
    records = MarketplaceCompensation.objects.filter(
        Q(InArray(F("shipment_id"), {s.pk for s in shipments}))
        | Q(
            # The marketplace first, so the lookup uses its index on a large table.
            InArray(F("shipment_external_id"), {s.external_id for s in shipments}),
            shipment=None,
            marketplace_id__in={s.marketplace_id for s in shipments},
        ),
        claim=None,
    )
    found: dict[int, list[MarketplaceCompensation]] = {}
    for record in records:
        shipment_id = record.shipment_id or by_reference.get(
            (record.marketplace_id, record.seller_id, record.shipment_external_id)
        )
        if shipment_id is not None:
            found.setdefault(shipment_id, []).append(record)
    return found


def compensations_fitting(
    *, records: Iterable[MarketplaceCompensation], peril: str, taken: Container[int] = ()
) -> list[MarketplaceCompensation]:
    """Return the records among `records` that reduce a loss by `peril`, but those `taken`."""
    return [
        record
        for record in records
        if compensation_fits(reason=record.reason, peril=peril) and record.pk not in taken
    ]


def compensations_attach(*, counted_on: dict[int, Claim], at: dt.datetime) -> None:
    """Count each record (by id) on its claim in `counted_on`, unless counted meanwhile.

    The marketplace often pays before the seller files; its payout still reduces the loss.
    """
    by_claim: dict[int, tuple[Claim, list[int]]] = {}
    for record_id, claim in counted_on.items():
        by_claim.setdefault(claim.pk, (claim, []))[1].append(record_id)
    for claim, record_ids in by_claim.values():
        MarketplaceCompensation.objects.filter(pk__in=record_ids, claim=None).update(
            claim=claim, shipment=claim.shipment, matched_at=at
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

    sellers = sellers_by_ref(marketplace=marketplace, items=items)
    shipments = values_by_external_id(
        Shipment.objects,
        marketplace=marketplace,
        ids=(i["shipment"] for i in items),
        fields=("pk", "seller"),
    )

    def item_values(item):
        seller = item_seller(item, sellers=sellers, marketplace=marketplace)
        if seller is None:
            return ItemResult.error(item["external_id"], unknown_seller())
        return {
            "seller": seller.pk,
            "shipment_external_id": item["shipment"],
            "reason": item["reason"],
            "amount": item["amount"],
            "paid_on": item["paid_on"],
        }

    def new_record(item, values):
        shipment = shipments.get(item["shipment"])
        if shipment is not None and shipment["seller"] != values["seller"]:
            return ItemResult.error(
                item["external_id"],
                {"shipment": [_("The shipment belongs to another seller.")]},
            )
        return {**values, "shipment": shipment and shipment["pk"]}

    def insert(rows):
        skipped = insert_values(
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
                for external_id, row in rows.items()
            ],
            key=EXTERNAL_KEY,
        )
        return displaced(row["external_id"] for row in skipped)

    results = bulk_write(
        marketplace=marketplace,
        items=items,
        stored=MarketplaceCompensation.objects,
        compared=COMPENSATION_VALUES,
        values=item_values,
        new=new_record,
        insert=insert,
    )
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
    return claim_money_changed(claim_id=claim.pk, compensation=compensation)


@transaction.atomic
def claim_money_changed(
    *, claim_id: int, compensation: MarketplaceCompensation | None = None
) -> Claim:
    """Recompute the claim with all it is owed now known: its loss and its compensation.

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


def recovery_receive_allowed(user) -> bool:
    """Whether `user` may record money a seller paid back: staff who may change recoveries."""
    return user.is_active and user.is_staff and user.has_perm("claims.change_recovery")


def _receipt_refused(field: str, message: str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_ERROR, message, fields={field: [message]})


@transaction.atomic
def recovery_receive(
    *,
    recovery_id: int,
    amount: Decimal,
    received_on: dt.date,
    reference: str,
    actor: Actor,
) -> RecoveryReceipt:
    """Record a payment the seller made towards a recovery; return its receipt.

    A part payment leaves the rest owed; the recovery is received once its receipts add up
    to it. Every payment back frees as much of the aggregate limit again. The same
    reference twice on one recovery is a replay, refused: nothing is counted twice.
    """
    if actor.kind == ActorKind.USER and not recovery_receive_allowed(actor.user):
        raise PermissionDeniedError(
            ErrorCode.PERMISSION_DENIED, _("You may not record money received.")
        )
    claim_id = Recovery.objects.filter(pk=recovery_id).values_list("claim_id", flat=True).first()
    if claim_id is None:
        raise DomainError(ErrorCode.NOT_FOUND, _("There is no such recovery."))
    # The claim first, then its recovery: the order every change of a claim's money takes.
    claim_lock(claim_id=claim_id)
    recovery = Recovery.objects.select_for_update().get(pk=recovery_id)
    reference = reference.strip()
    if not reference:
        raise _receipt_refused("reference", _("Enter the payment reference."))
    amount = None if amount is None else money(amount)
    if amount is None or amount <= 0:
        raise _receipt_refused("amount", _("Enter the amount received, above zero."))
    if received_on is None or received_on > timezone.localdate():
        raise _receipt_refused("received_on", _("The date received cannot be in the future."))
    if recovery.receipts.filter(reference=reference).exists():
        raise ConflictError(
            ClaimErrorCode.RECOVERY_RECEIPT_RECORDED,
            _("The payment %(reference)s is already recorded on this recovery.")
            % {"reference": reference},
            fields={"reference": [_("Already recorded on this recovery.")]},
        )
    owed = recovery.amount - recovery_received(recovery_id=recovery.pk)
    if owed <= 0:
        raise ConflictError(
            ClaimErrorCode.RECOVERY_ALREADY_RECEIVED, _("This recovery is already received.")
        )
    if amount > owed:
        message = _("Only %(owed)s is still owed on this recovery.") % {"owed": rub(owed)}
        raise DomainError(
            ClaimErrorCode.RECOVERY_RECEIPT_ABOVE_OWED, message, fields={"amount": [message]}
        )
    receipt = RecoveryReceipt(
        recovery=recovery,
        amount=amount,
        received_on=received_on,
        reference=reference,
        recorded_by=actor.user,
    )
    receipt.full_clean()
    receipt.save()
    recovery.status = RecoveryStatus.RECEIVED if amount == owed else RecoveryStatus.PARTLY_RECEIVED
    recovery.save(update_fields=["status"])
    return receipt


def compensation_link_allowed(user) -> bool:
    """Whether `user` may count a compensation on a claim by hand: staff who handle either."""
    if not (user.is_active and user.is_staff):
        return False
    return user.has_perm("claims.change_marketplacecompensation") or user.has_perm(
        "claims.review_claim"
    )


@transaction.atomic
def compensation_link(*, compensation_id: int, claim_number: str, user) -> Claim:
    """Count a compensation on a claim of its seller that an adjuster names; return the claim
    recomputed.

    For records the rule of `compensation_match` cannot place: an Ozon accrual names no
    item, so only a person can tell which claim it pays. A record that names an item goes
    only to that item's claim.
    """
    if not compensation_link_allowed(user):
        raise PermissionDeniedError(
            ErrorCode.PERMISSION_DENIED, _("You may not link compensation to claims.")
        )
    # The record first, then the claim's policy and the claim: the order compensation_match
    # takes them in, so the two never wait on each other in a circle.
    compensation = MarketplaceCompensation.objects.select_for_update().get(pk=compensation_id)
    claim_id = (
        Claim.objects.filter(number=claim_number.strip()).values_list("pk", flat=True).first()
    )
    if claim_id is None:
        raise DomainError(
            ErrorCode.NOT_FOUND,
            _("There is no claim %(number)s.") % {"number": claim_number.strip()},
            fields={"claim_number": [_("No claim has this number.")]},
        )
    claim = claim_lock(claim_id=claim_id)
    if compensation.claim_id is not None:
        raise DomainError(
            ErrorCode.CONFLICT,
            _("The compensation is already counted on claim %(number)s.")
            % {"number": compensation.claim.number},
        )
    if claim.seller_id != compensation.seller_id:
        raise DomainError(
            PolicyErrorCode.SELLER_MISMATCH,
            _("Claim %(number)s belongs to another seller.") % {"number": claim.number},
            fields={"claim_number": [_("The claim belongs to another seller.")]},
        )
    names_another_item = (
        compensation.shipment_id is not None and compensation.shipment_id != claim.shipment_id
    ) or (
        compensation.shipment_external_id
        and compensation.shipment_external_id != claim.shipment.external_id
    )
    if names_another_item:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            _("The compensation names item %(item)s; claim %(number)s is for another item.")
            % {"item": compensation.shipment_external_id, "number": claim.number},
            fields={"claim_number": [_("The claim is for another item.")]},
        )
    if claim.status in UNMATCHABLE_STATUSES:
        raise DomainError(
            ClaimErrorCode.TRANSITION_NOT_ALLOWED,
            _("Claim %(number)s is %(status)s: it counts no compensation.")
            % {"number": claim.number, "status": claim.get_status_display().lower()},
            fields={"claim_number": [_("The claim counts no compensation.")]},
        )
    compensation.claim = claim
    compensation.shipment = claim.shipment
    compensation.matched_at = timezone.now()
    compensation.save(update_fields=["claim", "shipment", "matched_at"])
    return claim_money_changed(claim_id=claim.pk, compensation=compensation)
