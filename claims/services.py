"""Writes of the claims side other than transitions: filing, compensation, recovery, jobs."""

import datetime as dt
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from claims import lifecycle
from claims.calculation import recovery_due
from claims.choices import ClaimStatus, EligibilityCode, MessageAuthor, RecoveryStatus
from claims.eligibility import check_hard_rules
from claims.errors import ClaimErrorCode, ClaimNotEligible
from claims.matching import claim_for_compensation
from claims.models import Claim, ClaimMessage, MarketplaceCompensation, Recovery
from claims.selectors import claim_paid, claim_recoveries_raised
from policies.actors import Actor
from policies.choices import COVER_BY_PERIL, ActorKind
from policies.errors import DomainError
from policies.models import Marketplace, Seller, Shipment, User
from policies.services import new_reference, replay_or_conflict

APPEAL_WINDOW_DAYS = 30
INFO_REPLY_WINDOW_DAYS = 30


def event_key(*, shipment: Shipment, peril: str, event_date: dt.date) -> str:
    """Return the key of the loss event: same order, same kind of event, same day."""
    return f"{shipment.order_id}|{peril}|{event_date.isoformat()}"


@transaction.atomic
def claim_file(
    *,
    actor: Actor,
    seller: Seller,
    shipment: Shipment,
    peril: str,
    claimed_amount: Decimal,
    event_date: dt.date,
    source: str,
    description: str = "",
    external_id: str | None = None,
    submit: bool = True,
) -> Claim:
    """File a claim (submitted at once unless `submit` is off) after the hard eligibility rules.

    Refusals carry the rule's reason code; the database's one-claim-per-item-
    and-peril constraint backs the duplicate rule against concurrent filing.
    """
    policy = check_hard_rules(
        seller=seller,
        shipment=shipment,
        peril=peril,
        event_date=event_date,
        claimed_amount=claimed_amount,
        today=timezone.localdate(),
    )
    claim = Claim(
        number=new_reference("CL"),
        marketplace=shipment.marketplace,
        external_id=external_id,
        seller=seller,
        policy=policy,
        shipment=shipment,
        cover=COVER_BY_PERIL[peril],
        peril=peril,
        event_date=event_date,
        event_key=event_key(shipment=shipment, peril=peril, event_date=event_date),
        source=source,
        description=description,
        claimed_amount=claimed_amount,
    )
    claim.full_clean(exclude=["status"], validate_constraints=False)
    try:
        with transaction.atomic():
            claim.save()
    except IntegrityError as exc:
        raise ClaimNotEligible(
            EligibilityCode.DUPLICATE_CLAIM, EligibilityCode.DUPLICATE_CLAIM.label
        ) from exc
    lifecycle.claim_log_creation(claim=claim, actor=actor)
    if submit:
        claim = lifecycle.claim_submit(claim_id=claim.pk, actor=actor)
    return claim


@transaction.atomic
def claim_message_post(*, claim_id: int, user: User, body: str) -> ClaimMessage:
    """Add a message to the thread; the seller's own users and staff only."""
    text = (body or "").strip()
    if not text:
        raise DomainError(
            ClaimErrorCode.MESSAGE_REQUIRED,
            _("The message is empty."),
            fields={"body": [_("The message is empty.")]},
        )
    claim = Claim.objects.get(pk=claim_id)
    if user.is_staff:
        author = MessageAuthor.ADJUSTER
    elif user.seller_id == claim.seller_id:
        author = MessageAuthor.SELLER
    else:
        raise lifecycle.PermissionDeniedError(
            ClaimErrorCode.PERMISSION_DENIED, _("You may not write on this claim.")
        )
    return ClaimMessage.objects.create(claim=claim, author_kind=author, author=user, body=text)


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
    """Store one marketplace payout, counted once by its external id; reconciliation matches it.

    Return the record and whether it was created. A record for a shipment not
    (yet) known is kept, to be matched or reported as a discrepancy.
    """
    values = {
        "seller": seller,
        "shipment_external_id": shipment_external_id,
        "reason": reason,
        "amount": amount,
        "paid_on": paid_on,
    }
    existing = MarketplaceCompensation.objects.filter(
        marketplace=marketplace, external_id=external_id
    ).first()
    if existing is not None:
        replay_or_conflict(existing, values)
        return existing, False
    shipment = Shipment.objects.filter(
        marketplace=marketplace, external_id=shipment_external_id
    ).first()
    if shipment is not None and shipment.seller_id != seller.pk:
        raise DomainError(
            ClaimErrorCode.SELLER_MISMATCH,
            _("Shipment %(shipment)s belongs to another seller.")
            % {"shipment": shipment_external_id},
            fields={"shipment": [_("Belongs to another seller.")]},
        )
    compensation = MarketplaceCompensation(
        marketplace=marketplace,
        external_id=external_id,
        shipment=shipment,
        source=source,
        **values,
    )
    compensation.full_clean()
    compensation.save()
    return compensation, True


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
    claim = lifecycle.claim_lock(claim_id=claim_id)
    if claim.status == ClaimStatus.AWAITING_COMPENSATION:
        return lifecycle.claim_release(claim_id=claim_id)
    calc = lifecycle.claim_recalculate(claim=claim)
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
    lifecycle.claim_lock(claim_id=recovery.claim_id)
    recovery = Recovery.objects.select_for_update().get(pk=recovery_id)
    if actor.kind == ActorKind.USER and not actor.user.has_perm("claims.pay_claim"):
        raise lifecycle.PermissionDeniedError(
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


def claims_release_waiting(*, today: dt.date) -> int:
    """Release cargo claims whose compensation wait passed with nothing paid; return how many."""
    waiting = Claim.objects.filter(status=ClaimStatus.AWAITING_COMPENSATION).annotate(
        wait=F("policy__product_version__cargo_compensation_wait_days")
    )
    released = 0
    for claim_id, event_date, wait in waiting.values_list("pk", "event_date", "wait").iterator():
        if today >= event_date + dt.timedelta(days=wait):
            lifecycle.claim_release(claim_id=claim_id)
            released += 1
    return released


def claims_close_due(*, today: dt.date) -> int:
    """Close claims past the appeal window and info requests with no reply; return how many."""
    settled_before = timezone.make_aware(
        dt.datetime.combine(today - dt.timedelta(days=APPEAL_WINDOW_DAYS), dt.time.min)
    )
    unanswered_before = timezone.make_aware(
        dt.datetime.combine(today - dt.timedelta(days=INFO_REPLY_WINDOW_DAYS), dt.time.min)
    )
    due = Claim.objects.filter(
        Q(
            status__in=(ClaimStatus.PAID, ClaimStatus.REJECTED, ClaimStatus.WITHDRAWN),
            status_changed_at__lt=settled_before,
        )
        | Q(status=ClaimStatus.INFO_REQUESTED, status_changed_at__lt=unanswered_before)
    ).values_list("pk", flat=True)
    closed = 0
    for claim_id in list(due):
        lifecycle.claim_close(claim_id=claim_id, note=_("Closed automatically."))
        closed += 1
    return closed
