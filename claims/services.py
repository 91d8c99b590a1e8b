"""Writes of the claims side other than transitions: filing, compensation, recovery, jobs."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.mail import send_mass_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from claims import lifecycle
from claims.calculation import Calculation, compensation_fits, recovery_due
from claims.choices import ClaimFlag, ClaimSource, ClaimStatus, MessageAuthor, RecoveryStatus
from claims.eligibility import (
    check_hard_rules,
    covering_policies,
    hard_rule_violation,
    not_eligible,
    policy_covering,
)
from claims.errors import ClaimErrorCode, ClaimNotEligible
from claims.evidence import evidence_add
from claims.matching import claim_for_compensation
from claims.models import (
    Claim,
    ClaimMessage,
    ClaimTransition,
    MarketplaceCompensation,
    Recovery,
)
from claims.selectors import claim_paid, claim_recoveries_raised
from policies.actors import Actor
from policies.calculation import ZERO
from policies.choices import COVER_BY_PERIL, PERIL_BY_EVENT_KIND, ActorKind, ShipmentEventKind
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
    field_errors,
    insert_values,
    item_seller,
    replay_result,
    sellers_by_ref,
    shipment_events_record_bulk,
    unknown_seller,
    values_by_external_id,
    with_retry_on_race,
)
from policies.models import Marketplace, Policy, Seller, Shipment, ShipmentEvent, User
from policies.services import new_reference, single_result

APPEAL_WINDOW_DAYS = 30
INFO_REPLY_WINDOW_DAYS = 30


def event_key(*, shipment: Shipment, peril: str, event_date: dt.date) -> str:
    """Return the key of the loss event: same order, same kind of event, same day."""
    return f"{shipment.order_id}|{peril}|{event_date.isoformat()}"


@dataclass(frozen=True)
class ClaimSpec:
    """What it takes to file one claim."""

    seller: Seller
    shipment: Shipment
    peril: str
    claimed_amount: Decimal
    event_date: dt.date
    source: str
    description: str = ""
    external_id: str | None = None


def claims_file_many(
    *, actor: Actor, specs: list[ClaimSpec], submit: bool = True
) -> list[Claim | ClaimNotEligible]:
    """File claims in one pass: one query per table however many, then triage on commit.

    Answer per spec, in order, the claim or the ClaimNotEligible that refused
    it (with the hard rule's reason code). Submitted claims carry their flags,
    the marketplace's compensation already received for their shipment, their
    due date and a log of both steps, exactly as a draft submitted later would.
    """

    def write():
        today, now = timezone.localdate(), timezone.now()
        shipment_ids = {spec.shipment.pk for spec in specs}
        policies = covering_policies(seller_ids={spec.seller.pk for spec in specs})
        marketplaces = Marketplace.objects.in_bulk({spec.shipment.marketplace_id for spec in specs})
        taken = set(
            Claim.objects.filter(shipment_id__in=shipment_ids).values_list("shipment_id", "peril")
        )
        event_kinds: dict[int, set[str]] = {}
        unmatched: dict[int, list[MarketplaceCompensation]] = {}
        if submit:
            for shipment_id, kind in ShipmentEvent.objects.filter(
                shipment_id__in=shipment_ids
            ).values_list("shipment_id", "kind"):
                event_kinds.setdefault(shipment_id, set()).add(kind)
            by_reference = {
                (
                    spec.shipment.marketplace_id,
                    spec.shipment.seller_id,
                    spec.shipment.external_id,
                ): spec.shipment.pk
                for spec in specs
            }
            for compensation in MarketplaceCompensation.objects.filter(
                Q(shipment_id__in=shipment_ids)
                | Q(
                    # The marketplace first, so the lookup uses its index on a large table.
                    shipment=None,
                    marketplace_id__in={spec.shipment.marketplace_id for spec in specs},
                    shipment_external_id__in={spec.shipment.external_id for spec in specs},
                ),
                claim=None,
            ):
                shipment_id = compensation.shipment_id or by_reference.get(
                    (
                        compensation.marketplace_id,
                        compensation.seller_id,
                        compensation.shipment_external_id,
                    )
                )
                if shipment_id is not None:
                    unmatched.setdefault(shipment_id, []).append(compensation)
        answers, claims, attach = [], [], {}
        for spec in specs:
            policy = policy_covering(policies.get(spec.seller.pk, []), spec.event_date)
            code = hard_rule_violation(
                seller=spec.seller,
                shipment=spec.shipment,
                peril=spec.peril,
                event_date=spec.event_date,
                claimed_amount=spec.claimed_amount,
                today=today,
                policy=policy,
                duplicate=(spec.shipment.pk, spec.peril) in taken,
            )
            if code is not None:
                answers.append(not_eligible(code))
                continue
            taken.add((spec.shipment.pk, spec.peril))
            claim = Claim(
                number=new_reference("CL"),
                marketplace=marketplaces[spec.shipment.marketplace_id],
                external_id=spec.external_id,
                seller=spec.seller,
                policy=policy,
                shipment=spec.shipment,
                cover=COVER_BY_PERIL[spec.peril],
                peril=spec.peril,
                event_date=spec.event_date,
                event_key=event_key(
                    shipment=spec.shipment, peril=spec.peril, event_date=spec.event_date
                ),
                source=spec.source,
                description=spec.description,
                claimed_amount=spec.claimed_amount,
                status=ClaimStatus.SUBMITTED if submit else ClaimStatus.DRAFT,
                status_changed_at=now,
            )
            if errors := field_errors(claim):
                answers.append(DomainError("validation_error", _("Invalid input."), fields=errors))
                continue
            if submit:
                fitting = [
                    c
                    for c in unmatched.get(spec.shipment.pk, [])
                    if compensation_fits(reason=c.reason, peril=spec.peril) and c.pk not in attach
                ]
                attach.update({c.pk: claim for c in fitting})
                claim.compensation_amount = sum((c.amount for c in fitting), ZERO)
                claim.submitted_at = now
                claim.sla_started_on = today
                claim.flags = lifecycle.claim_flags(
                    claim=claim,
                    today=today,
                    compensation_known=False,
                    event_kinds=event_kinds.get(spec.shipment.pk, set()),
                )
                claim.due_on = lifecycle.claim_due_on(claim)
            claims.append(claim)
            answers.append(claim)
        with transaction.atomic():
            Claim.objects.bulk_create(claims)
        _log_filing(claims=claims, actor=actor, at=now, submitted=submit)
        for compensation_id, claim in attach.items():
            MarketplaceCompensation.objects.filter(pk=compensation_id, claim=None).update(
                claim=claim, shipment=claim.shipment, matched_at=now
            )
        if submit:
            lifecycle.claims_submitted(claims=claims, at=now)
        return answers

    try:
        return write()
    except IntegrityError:
        # Someone filed one of these meanwhile; a second pass reports it as a duplicate.
        return write()


def _log_filing(*, claims: list[Claim], actor: Actor, at: dt.datetime, submitted: bool) -> None:
    steps = [("create", "", ClaimStatus.DRAFT)]
    if submitted:
        steps.append(("submit", ClaimStatus.DRAFT, ClaimStatus.SUBMITTED))
    ClaimTransition.objects.bulk_create(
        ClaimTransition(
            claim=claim,
            transition=name,
            source_state=source,
            target_state=target,
            at=at,
            **actor.log_fields(),
        )
        for claim in claims
        for name, source, target in steps
    )


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
    """File one claim (submitted at once unless `submit` is off); refusals raise with a code.

    The database's one-claim-per-item-and-peril constraint backs the duplicate
    rule against concurrent filing.
    """
    [answer] = claims_file_many(
        actor=actor,
        submit=submit,
        specs=[
            ClaimSpec(
                seller=seller,
                shipment=shipment,
                peril=peril,
                claimed_amount=claimed_amount,
                event_date=event_date,
                source=source,
                description=description,
                external_id=external_id,
            )
        ],
    )
    if isinstance(answer, Exception):
        raise answer
    return answer


@transaction.atomic
@transaction.atomic
def claim_file_with_evidence(
    *,
    user: User,
    seller: Seller,
    shipment: Shipment,
    peril: str,
    event_date: dt.date,
    claimed_amount: Decimal,
    description: str = "",
    files=(),
) -> Claim:
    """File a seller's claim with its evidence files and submit it, all or nothing.

    The files are stored before the submission so that triage, run after the
    commit, sees them; a refused file leaves no claim behind.
    """
    actor = Actor.for_user(user)
    claim = claim_file(
        actor=actor,
        seller=seller,
        shipment=shipment,
        peril=peril,
        event_date=event_date,
        claimed_amount=claimed_amount,
        source=ClaimSource.SELLER,
        description=description,
        submit=False,
    )
    for upload in files:
        evidence_add(claim=claim, upload=upload, user=user)
    return lifecycle.claim_submit(claim_id=claim.pk, actor=actor)


@dataclass(frozen=True)
class ClaimPreview:
    """What filing a claim would give, worked out before anything is stored."""

    policy: Policy
    flags: list[str]
    compensation: Decimal
    calculation: Calculation


def claim_preview(
    *,
    seller: Seller,
    shipment: Shipment,
    peril: str,
    event_date: dt.date,
    claimed_amount: Decimal,
) -> ClaimPreview:
    """Return what a claim would meet if filed now; raise ClaimNotEligible as filing would.

    The same hard rules, judgement flags and calculation as filing, with the
    marketplace's compensation received so far for the shipment.
    """
    today = timezone.localdate()
    policy = check_hard_rules(
        seller=seller,
        shipment=shipment,
        peril=peril,
        event_date=event_date,
        claimed_amount=claimed_amount,
        today=today,
    )
    received = [
        c
        for c in MarketplaceCompensation.objects.filter(shipment=shipment, claim=None)
        if compensation_fits(reason=c.reason, peril=peril)
    ]
    claim = Claim(
        seller=seller,
        shipment=shipment,
        policy=policy,
        marketplace_id=shipment.marketplace_id,
        peril=peril,
        cover=COVER_BY_PERIL[peril],
        event_date=event_date,
        event_key=event_key(shipment=shipment, peril=peril, event_date=event_date),
        claimed_amount=claimed_amount,
        compensation_amount=sum((c.amount for c in received), ZERO),
        source=ClaimSource.SELLER,
    )
    wait = policy.product_version.cargo_compensation_wait_days
    known = bool(received) or today >= event_date + dt.timedelta(days=wait)
    return ClaimPreview(
        policy=policy,
        flags=lifecycle.claim_flags(claim=claim, today=today, compensation_known=known),
        compensation=claim.compensation_amount,
        calculation=lifecycle.claim_calculate(claim=claim),
    )


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


def claims_flag_sla_breaches(*, today: dt.date) -> int:
    """Flag the claims whose decision or payment is overdue and tell their adjuster.

    Return how many were flagged now; a claim already flagged is not told twice.
    """
    overdue = Claim.objects.filter(
        status__in=(ClaimStatus.SUBMITTED, ClaimStatus.UNDER_REVIEW, ClaimStatus.APPROVED),
        due_on__lt=today,
    ).select_related("assignee")
    newly = [claim for claim in overdue if ClaimFlag.SLA_BREACHED not in claim.flags]
    for claim in newly:
        claim.flags = [*claim.flags, ClaimFlag.SLA_BREACHED]
    Claim.objects.bulk_update(newly, ["flags"], batch_size=1000)
    by_adjuster: dict[str, list[str]] = {}
    for claim in newly:
        if claim.assignee_id and claim.assignee.email:
            by_adjuster.setdefault(claim.assignee.email, []).append(
                f"{claim.number} ({claim.get_status_display()}, due {claim.due_on:%d.%m.%Y})"
            )
    send_mass_mail(
        [
            (
                _("Claims past their service level"),
                "\n".join(numbers),
                None,
                [email],
            )
            for email, numbers in by_adjuster.items()
        ],
        fail_silently=True,
    )
    return len(newly)


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


def claim_amount_for_event(*, event: ShipmentEvent, shipment: Shipment) -> Decimal | None:
    """Return what a marketplace-reported event claims: its amount, or for a loss the value."""
    if event.amount is not None:
        return event.amount
    if event.kind == ShipmentEventKind.LOST:
        return shipment.declared_value
    return None


def shipment_events_ingest(*, marketplace: Marketplace, items: list[dict]) -> list[ItemResult]:
    """Store shipment events; a covered event of an insured shipment opens a claim.

    Claims are filed by `claims_file_many`, the path of every claim, so
    eligibility, flags and triage are the same; an event that cannot open a
    claim is still stored, and its result says why in `claim_error`.
    """
    results = shipment_events_record_bulk(marketplace=marketplace, items=items)
    covered = [
        r
        for r in results
        if r.status in (CREATED, UNCHANGED)
        and r.obj.kind in PERIL_BY_EVENT_KIND
        and r.obj.shipment.policy_id is not None
    ]
    claims = {
        (c.shipment_id, c.peril): c.number
        for c in Claim.objects.filter(shipment_id__in={r.obj.shipment_id for r in covered})
    }
    # Only the shipments that open a claim need their seller.
    sellers = Seller.objects.in_bulk({r.obj.shipment.seller_id for r in covered})
    for result in covered:
        result.obj.shipment.seller = sellers[result.obj.shipment.seller_id]
    to_file = []
    for result in covered:
        event = result.obj
        key = (event.shipment_id, PERIL_BY_EVENT_KIND[event.kind])
        if key in claims:
            result.extra["claim"] = claims[key]
        elif result.status == CREATED:
            to_file.append(result)
    specs = [
        ClaimSpec(
            seller=r.obj.shipment.seller,
            shipment=r.obj.shipment,
            peril=PERIL_BY_EVENT_KIND[r.obj.kind],
            claimed_amount=claim_amount_for_event(event=r.obj, shipment=r.obj.shipment)
            or Decimal("0"),
            event_date=timezone.localdate(r.obj.occurred_at),
            source=ClaimSource.MARKETPLACE,
            description=_("Reported by the marketplace (event %(id)s).")
            % {"id": r.obj.external_id},
        )
        for r in to_file
    ]
    answers = claims_file_many(actor=Actor.for_marketplace(marketplace), specs=specs)
    for result, answer in zip(to_file, answers, strict=True):
        if isinstance(answer, Claim):
            result.extra["claim"] = answer.number
        else:
            result.extra["claim_error"] = answer.extra.get("reason", answer.code)
    return results


def claims_file_bulk(*, marketplace: Marketplace, items: list[dict]) -> list[ItemResult]:
    """File claims sent by the marketplace, keyed by its own id."""
    shipments = by_external_id(
        Shipment.objects.select_related("seller"),
        marketplace=marketplace,
        ids=(i["shipment"] for i in items),
    )
    existing = by_external_id(
        Claim.objects, marketplace=marketplace, ids=(i["external_id"] for i in items)
    )
    results: list[ItemResult | None] = []
    specs, positions = [], []
    for item in items:
        external_id = item["external_id"]
        shipment = shipments.get(item["shipment"])
        if shipment is None:
            results.append(ItemResult.error(external_id, {"shipment": [_("Unknown shipment.")]}))
            continue
        values = {
            "shipment": shipment,
            "peril": item["peril"],
            "claimed_amount": item["claimed_amount"],
            "event_date": item["event_date"],
            "description": item.get("description", ""),
        }
        if (stored := existing.get(external_id)) is not None:
            results.append(replay_result(stored, values))
            continue
        positions.append(len(results))
        results.append(None)
        specs.append(
            ClaimSpec(
                seller=shipment.seller,
                source=ClaimSource.MARKETPLACE,
                external_id=external_id,
                **values,
            )
        )
        # A second item with the same id in this batch is answered from this one.
        existing[external_id] = Claim(external_id=external_id, **values)
    answers = claims_file_many(actor=Actor.for_marketplace(marketplace), specs=specs)
    for position, spec, answer in zip(positions, specs, answers, strict=True):
        results[position] = (
            ItemResult(spec.external_id, CREATED, answer)
            if isinstance(answer, Claim)
            else ItemResult.refused(spec.external_id, answer)
        )
    return results
