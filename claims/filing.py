"""Filing claims: one claim, a batch, a preview before filing, and the claims a marketplace's
events open. Every claim, whoever files it, goes through `claims_file_many`.
"""

import datetime as dt
from collections.abc import Container, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from claims.assessment import (
    claim_calculate,
    claim_due_on,
    claim_flags,
    claim_recalculate,
    compensation_known,
    event_key,
)
from claims.calculation import LIMIT_ORDER, Calculation, LimitCut, limit_cuts, triage_target
from claims.choices import ClaimSource, ClaimStatus, EligibilityCode, MessageAuthor, SystemNote
from claims.compensation import (
    claim_money_changed,
    compensations_attach,
    compensations_fitting,
    unmatched_for_shipments,
)
from claims.eligibility import (
    check_hard_rules,
    covering_policies,
    hard_rule_violation,
    not_eligible,
)
from claims.errors import ClaimNotEligible
from claims.evidence import (
    InspectedFile,
    evidence_atomic,
    evidence_inspect_all,
    evidence_store,
)
from claims.lifecycle import claim_authorize, claim_transition
from claims.locks import claim_lock
from claims.models import (
    Claim,
    ClaimMessage,
    ClaimTransition,
    MarketplaceCompensation,
)
from claims.notes import system_note
from claims.outputs.notifications import sellers_notify_later
from claims.outputs.webhooks import StatusChange, webhooks_status_changed_many
from claims.tasks import claim_acknowledgement_make_task, claims_triage_task
from policies.actors import Actor
from policies.calculation import ZERO
from policies.choices import COVER_BY_PERIL, PERIL_BY_EVENT_KIND, ShipmentEventKind
from policies.errors import DomainError, ErrorCode
from policies.ingest import (
    CREATED,
    UNCHANGED,
    InArray,
    ItemResult,
    build,
    bulk_write,
    by_external_id,
    field_errors,
    insert_rows,
    insert_values,
    policy_on,
    shipment_events_record_bulk,
    unknown_shipment,
)
from policies.models import Marketplace, Policy, Seller, Shipment, ShipmentEvent, User
from policies.outbox import outbox_enqueue
from policies.services import new_reference


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


@dataclass(frozen=True)
class SubmissionFacts:
    """What submitting claims on some shipments reads, in one query per table."""

    event_kinds: dict[int, set[str]]
    unmatched: dict[int, list[MarketplaceCompensation]]


def submission_facts(*, shipments: list[Shipment]) -> SubmissionFacts:
    """Return the shipments' event kinds and the compensation not yet counted for them."""
    event_kinds: dict[int, set[str]] = {}
    for shipment_id, kind in ShipmentEvent.objects.filter(
        InArray(F("shipment_id"), {s.pk for s in shipments})
    ).values_list("shipment_id", "kind"):
        event_kinds.setdefault(shipment_id, set()).add(kind)
    return SubmissionFacts(
        event_kinds=event_kinds, unmatched=unmatched_for_shipments(shipments=shipments)
    )


def submission_prepare(
    *,
    claim: Claim,
    facts: SubmissionFacts,
    today: dt.date,
    now: dt.datetime,
    taken: Container[int] = (),
    zone: dt.tzinfo | None = None,
) -> list[MarketplaceCompensation]:
    """Set on `claim` what its submission sets; return the compensation records it counts.

    The one submission step of a batch and of a draft submitted alone: the records
    already received for its shipment that fit its peril (but those `taken` by another
    claim of the batch), its flags with what is known of the compensation now, and the
    start of its service clock. Its payable is worked out by the triage that follows.
    """
    counted = compensations_fitting(
        records=facts.unmatched.get(claim.shipment_id, []), peril=claim.peril, taken=taken
    )
    claim.compensation_amount = sum((record.amount for record in counted), ZERO)
    claim.submitted_at = now
    claim.sla_started_on = today
    claim.flags = claim_flags(
        claim=claim,
        today=today,
        compensation_known=compensation_known(claim=claim, received=bool(counted), today=today),
        event_kinds=facts.event_kinds.get(claim.shipment_id, set()),
        zone=zone,
    )
    return counted


def claims_file_many(
    *, actor: Actor, specs: list[ClaimSpec], submit: bool = True
) -> list[Claim | ClaimNotEligible]:
    """File claims in one pass: one query per table however many, then triage on commit.

    Answer per spec, in order, the claim or the ClaimNotEligible that refused
    it (with the hard rule's reason code). Submitted claims carry their flags,
    the marketplace's compensation already received for their shipment, their
    due date and a log of both steps, exactly as a draft submitted later would.
    A claim whose place (its item and peril, or its external id) a concurrent
    filing took first is refused as a duplicate, as a filing after it would be.
    """

    zone = timezone.get_current_timezone()
    now = timezone.now()
    today = timezone.localdate(now, zone)
    shipment_ids = {spec.shipment.pk for spec in specs}
    policies = covering_policies(seller_ids={spec.seller.pk for spec in specs})
    marketplaces = Marketplace.objects.in_bulk({spec.shipment.marketplace_id for spec in specs})
    taken = set(
        Claim.objects.filter(InArray(F("shipment_id"), shipment_ids)).values_list(
            "shipment_id", "peril"
        )
    )
    facts = submission_facts(shipments=[spec.shipment for spec in specs]) if submit else None
    answers, claims, attach = [], [], {}
    for spec in specs:
        policy = policy_on(policies.get(spec.seller.pk, []), spec.event_date)
        code = hard_rule_violation(
            seller=spec.seller,
            shipment=spec.shipment,
            peril=spec.peril,
            event_date=spec.event_date,
            claimed_amount=spec.claimed_amount,
            today=today,
            policy=policy,
            duplicate=(spec.shipment.pk, spec.peril) in taken,
            zone=zone,
        )
        if code is not None:
            answers.append(not_eligible(code))
            continue
        taken.add((spec.shipment.pk, spec.peril))
        claim = build(
            Claim,
            number=new_reference("CL", today=today),
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
            answers.append(
                DomainError(ErrorCode.VALIDATION_ERROR, _("Invalid input."), fields=errors)
            )
            continue
        if submit:
            counted = submission_prepare(
                claim=claim, facts=facts, taken=attach.keys(), today=today, now=now, zone=zone
            )
            attach.update({record.pk: claim for record in counted})
            claim.due_on = claim_due_on(claim)
        claims.append(claim)
        answers.append(claim)
    if skipped := insert_rows(Claim, claims, key=("shipment_id", "peril")):
        answers = [
            not_eligible(EligibilityCode.DUPLICATE_CLAIM) if answer in skipped else answer
            for answer in answers
        ]
        claims = [claim for claim in claims if claim not in skipped]
        attach = {pk: claim for pk, claim in attach.items() if claim not in skipped}
    _log_filing(claims=claims, actor=actor, at=now, submitted=submit)
    compensations_attach(counted_on=attach, at=now)
    if submit:
        claims_submitted(claims=claims, at=now)
    return answers


def _log_filing(*, claims: list[Claim], actor: Actor, at: dt.datetime, submitted: bool) -> None:
    steps = [("create", "", ClaimStatus.DRAFT)]
    if submitted:
        steps.append(("submit", ClaimStatus.DRAFT, ClaimStatus.SUBMITTED))
    who = actor.log_fields()
    # By COPY on PostgreSQL: two log rows per claim of a report's or a bulk's batch.
    insert_values(
        ClaimTransition,
        [
            {
                "claim_id": claim.pk,
                "transition": name,
                "source_state": source,
                "target_state": target,
                "at": at,
                **who,
            }
            for claim in claims
            for name, source, target in steps
        ],
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


@evidence_atomic()
def claim_file_with_evidence(
    *,
    user: User,
    seller: Seller,
    shipment: Shipment,
    peril: str,
    event_date: dt.date,
    claimed_amount: Decimal,
    description: str = "",
    files: Sequence[UploadedFile | InspectedFile] = (),
) -> Claim:
    """File a seller's claim with its evidence files and submit it, all or nothing.

    Every file is inspected before anything is written, so a refused file leaves neither
    a claim nor a file behind. The files are stored before the submission so that
    triage, run after the commit, sees them.
    """
    files = evidence_inspect_all(files)
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
    evidence_store(claim=claim, files=files, user=user)
    return claim_submit(claim_id=claim.pk, actor=actor)


@dataclass(frozen=True)
class ClaimPreview:
    """What filing a claim would give, worked out before anything is stored: the figures,
    each limit that cuts them, the judgement flags, and where triage would send it."""

    policy: Policy
    shipment: Shipment
    flags: list[str]
    compensation: Decimal
    calculation: Calculation
    # Where triage sends the claim, and whether its payable alone (nothing, or above what
    # is approved without a person) sends it to an adjuster.
    next_status: ClaimStatus
    amount_needs_review: bool

    @property
    def limit_cuts(self) -> tuple[tuple[LimitCut, Decimal], ...]:
        """Return each limit that cuts the payable, with what it allowed, in `LIMIT_ORDER`."""
        calc = self.calculation
        rooms = (calc.per_claim_limit, calc.event_room, calc.aggregate_room)
        room_of = dict(zip(LIMIT_ORDER, rooms, strict=True))
        cuts = limit_cuts(after_deductible=calc.after_deductible, rooms=rooms)
        return tuple((cut, room_of[cut.limit]) for cut in cuts)

    @property
    def aggregate_left(self) -> Decimal:
        """Return what the policy's aggregate limit keeps once this claim is paid as claimed."""
        return self.calculation.aggregate_room - self.calculation.payable


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
    facts = submission_facts(shipments=[shipment])
    received = compensations_fitting(records=facts.unmatched.get(shipment.pk, []), peril=peril)
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
    known = compensation_known(claim=claim, received=bool(received), today=today)
    flags = claim_flags(
        claim=claim,
        today=today,
        compensation_known=known,
        event_kinds=facts.event_kinds.get(shipment.pk, set()),
    )
    calculation = claim_calculate(claim=claim)

    def route(*, flags: list[str], compensation_known: bool) -> ClaimStatus:
        return triage_target(
            cover=claim.cover,
            flags=flags,
            payable=calculation.payable,
            auto_approve_threshold=policy.product_version.auto_approve_threshold,
            compensation_known=compensation_known,
        )

    return ClaimPreview(
        policy=policy,
        shipment=shipment,
        flags=flags,
        compensation=claim.compensation_amount,
        calculation=calculation,
        next_status=route(flags=flags, compensation_known=known),
        amount_needs_review=route(flags=[], compensation_known=True) == ClaimStatus.UNDER_REVIEW,
    )


def claim_amount_for_event(*, event: ShipmentEvent, shipment: Shipment) -> Decimal | None:
    """Return what a marketplace-reported event claims: its amount, or for a loss the value."""
    if event.amount is not None:
        return event.amount
    if event.kind == ShipmentEventKind.LOST:
        return shipment.declared_value
    return None


def shipment_events_ingest(
    *, marketplace: Marketplace, items: list[dict], source: str = ClaimSource.MARKETPLACE
) -> list[ItemResult]:
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
        (shipment_id, peril): number
        for shipment_id, peril, number in Claim.objects.filter(
            InArray(F("shipment_id"), {r.obj.shipment_id for r in covered})
        ).values_list("shipment_id", "peril", "number")
    }
    # Only the shipments that open a claim need their seller.
    sellers = Seller.objects.in_bulk({r.obj.shipment.seller_id for r in covered})
    for result in covered:
        result.obj.shipment.seller = sellers[result.obj.shipment.seller_id]
    # One filing per item and peril: a second event of the batch for it is answered with
    # the first one's claim, as it would be sent after it.
    filing: dict[tuple[int, str], list[ItemResult]] = {}
    for result in covered:
        event = result.obj
        key = (event.shipment_id, PERIL_BY_EVENT_KIND[event.kind])
        if key in claims:
            result.extra["claim"] = claims[key]
        elif result.status == CREATED:
            filing.setdefault(key, []).append(result)
    to_file = [results[0] for results in filing.values()]
    zone = timezone.get_current_timezone()
    specs = [
        ClaimSpec(
            seller=r.obj.shipment.seller,
            shipment=r.obj.shipment,
            peril=PERIL_BY_EVENT_KIND[r.obj.kind],
            claimed_amount=claim_amount_for_event(event=r.obj, shipment=r.obj.shipment)
            or Decimal("0"),
            event_date=timezone.localdate(r.obj.occurred_at, zone),
            source=source,
            description=_("Reported by the marketplace (event %(id)s).")
            % {"id": r.obj.external_id},
        )
        for r in to_file
    ]
    answers = claims_file_many(actor=Actor.for_marketplace(marketplace), specs=specs)
    # A claim filed meanwhile by a concurrent writer answers its events, as on a replay.
    if meanwhile := {
        key
        for key, answer in zip(filing, answers, strict=True)
        if getattr(answer, "reason", None) == EligibilityCode.DUPLICATE_CLAIM
    }:
        claims = {
            (c.shipment_id, c.peril): c.number
            for c in Claim.objects.filter(shipment_id__in={pk for pk, _peril in meanwhile})
        }
    for (key, events), answer in zip(filing.items(), answers, strict=True):
        for result in events:
            if isinstance(answer, Claim):
                result.extra["claim"] = answer.number
            elif key in meanwhile:
                result.extra["claim"] = claims[key]
            else:
                result.extra["claim_error"] = answer.extra.get("reason", answer.code)
    return results


def claims_file_bulk(*, marketplace: Marketplace, items: list[dict]) -> list[ItemResult]:
    """File claims sent by the marketplace, keyed by its own id.

    The shipments are locked as they are read, in one order, as events lock them: a
    concurrent batch filing on the same items waits for this one's commit, then reads its
    claims as stored, as a replay sent after it.
    """
    shipments = by_external_id(
        Shipment.objects.select_related("seller")
        .select_for_update(no_key=True, of=("self",))
        .order_by("pk"),
        marketplace=marketplace,
        ids=(i["shipment"] for i in items),
    )
    specs: dict[str, ClaimSpec] = {}

    def item_values(item):
        shipment = shipments.get(item["shipment"])
        if shipment is None:
            return ItemResult.error(item["external_id"], unknown_shipment())
        return {
            "shipment": shipment,
            "peril": item["peril"],
            "claimed_amount": item["claimed_amount"],
            "event_date": item["event_date"],
            "description": item.get("description", ""),
        }

    def new_claim(item, values):
        external_id = item["external_id"]
        specs[external_id] = ClaimSpec(
            seller=values["shipment"].seller,
            source=ClaimSource.MARKETPLACE,
            external_id=external_id,
            **values,
        )
        # Unsaved until filed: a second item with the same id in this batch is answered
        # from it.
        return Claim(external_id=external_id, **values)

    def file(rows):
        answers = claims_file_many(
            actor=Actor.for_marketplace(marketplace), specs=list(specs.values())
        )
        results = {
            spec.external_id: ItemResult(spec.external_id, CREATED, answer)
            if isinstance(answer, Claim)
            else ItemResult.refused(spec.external_id, answer)
            for spec, answer in zip(specs.values(), answers, strict=True)
        }
        # A claim in the item's place may be one a concurrent batch stored under the same
        # id (for another item): then the item is answered as its replay.
        for result in results.values():
            result.raced = (
                getattr(result.refusal, "reason", None) == EligibilityCode.DUPLICATE_CLAIM
            )
        return results

    return bulk_write(
        marketplace=marketplace,
        items=items,
        stored=Claim.objects,
        values=item_values,
        new=new_claim,
        insert=file,
    )


@transaction.atomic
def claim_submit(*, claim_id: int, actor: Actor) -> Claim:
    """Submit a draft; triage runs right after the commit."""
    claim = claim_lock(claim_id=claim_id)
    claim_authorize(claim=claim, name="submit", actor=actor)
    check_hard_rules(
        seller=claim.seller,
        shipment=claim.shipment,
        peril=claim.peril,
        event_date=claim.event_date,
        claimed_amount=claim.claimed_amount,
        today=timezone.localdate(),
        exclude_claim_id=claim.pk,
    )
    today, now = timezone.localdate(), timezone.now()
    counted = submission_prepare(
        claim=claim, facts=submission_facts(shipments=[claim.shipment]), today=today, now=now
    )
    compensations_attach(counted_on={record.pk: claim for record in counted}, at=now)
    claim_transition(claim=claim, name="submit", actor=actor)
    submission_follow_ups(claim_ids=[claim.pk])
    return claim


def submission_follow_ups(*, claim_ids: list[int]) -> None:
    """Queue what follows every submission: triage, and the acknowledgement document."""
    if claim_ids:
        outbox_enqueue(task=claims_triage_task, claim_ids=claim_ids)
        outbox_enqueue(task=claim_acknowledgement_make_task, claim_ids=claim_ids)


def claims_submitted(*, claims: list[Claim], at: dt.datetime) -> None:
    """Send what follows a batch's submission: its webhooks and e-mails in bulk, then the
    follow-ups of every submission."""
    webhooks_status_changed_many(
        changes=[
            StatusChange(
                claim_id=c.pk,
                number=c.number,
                payable=c.payable_amount,
                marketplace_id=c.marketplace_id,
                source=ClaimStatus.DRAFT,
                target=ClaimStatus.SUBMITTED,
            )
            for c in claims
        ],
        at=at,
    )
    sellers_notify_later((claim.pk, ClaimStatus.SUBMITTED) for claim in claims)
    submission_follow_ups(claim_ids=[claim.pk for claim in claims])


# A claim decided for payment: a fee cancelled now lowers what is (or was) paid.
DECIDED_FOR_PAYMENT = (ClaimStatus.APPROVED, ClaimStatus.PAID, ClaimStatus.CLOSED)
# States in which a claim's loss is still being worked out: a fee reported now counts.
OPEN_FOR_LOSS = (
    ClaimStatus.DRAFT,
    ClaimStatus.SUBMITTED,
    ClaimStatus.AWAITING_COMPENSATION,
    ClaimStatus.UNDER_REVIEW,
    ClaimStatus.INFO_REQUESTED,
)


@transaction.atomic
def claim_amount_add(*, claim_id: int, amount: Decimal, note: str) -> bool:
    """Change a claim by a fee the marketplace reported for its item later (a further leg,
    or, negative, a fee it cancelled); return whether the claim's amount changed.

    While the loss is being worked out the claimed amount moves with the fee, and a
    claim whose fees are all cancelled is withdrawn where it still may be. After payment
    a cancelled fee lowers the loss, and what was paid above the new payable becomes a
    Recovery. A further leg reported after the decision is never paid silently nor
    dropped: it is written on the claim's thread for the adjuster, who may reopen it.
    """
    claim = claim_lock(claim_id=claim_id)
    cancelled_after_decision = amount < 0 and claim.status in DECIDED_FOR_PAYMENT
    if claim.status in OPEN_FOR_LOSS or cancelled_after_decision:
        claimed = max(ZERO, claim.claimed_amount + amount)
        if claimed == ZERO and can_proceed(claim.withdraw):
            claim_transition(
                claim=claim,
                name="withdraw",
                actor=Actor.system(),
                system=system_note(SystemNote.FEE_CANCELLED, row=note),
            )
            return True
        claim.claimed_amount = claimed
        if claim.assessed_amount is not None:
            claim.assessed_amount = min(claim.assessed_amount, claimed)
        claim_recalculate(claim=claim)
        claim.save()
        if cancelled_after_decision:
            claim_money_changed(claim_id=claim.pk)
        return True
    ClaimMessage.objects.create(
        claim=claim,
        author_kind=MessageAuthor.SYSTEM,
        body=_(
            "The marketplace reported a fee of %(amount)s for this item after the decision "
            "(report row %(row)s): not counted; reopen the claim to count it."
        )
        % {"amount": amount, "row": note},
    )
    return False
