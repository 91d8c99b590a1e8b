"""The claim lifecycle: one service per transition, each allowed only from its source states
and only to its actors: triage and release by the system; review, information requests,
approval within the authority limit (above it, a senior's sign-off or send-back), rejection
and reopening with a reason by adjusters; payment by an adjuster or the payment job;
withdrawal by the seller; closing by the system after the 30-day appeal window or 30 days
without the seller's reply. (Submission, which completes filing, lives in claims/filing.py.)

Each service locks the claim's policy and then the claim (always in that
order), checks who may act, moves the state through the model's transition
method, writes the transition log and writes its follow-ups to the outbox.
The state field is protected and the model carries ConcurrentTransitionMixin,
so a second writer working from a stale copy fails instead of overwriting.
"""

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed, has_transition_perm

from claims.assessment import (
    INFO_REPLY_WINDOW_DAYS,
    claim_due_on,
    claim_flags,
    claim_recalculate,
    compensation_known,
    release_flags,
)
from claims.calculation import SHARED_LIMITS, Calculation, triage_target
from claims.choices import ClaimStatus, LimitApplied, MessageAuthor, RejectionCode, SystemNote
from claims.errors import ClaimErrorCode, PermissionDeniedError
from claims.evidence import InspectedFile, evidence_atomic, evidence_store
from claims.locks import claim_lock
from claims.models import Claim, ClaimMessage, ClaimTransition, Payout
from claims.notes import system_note, system_note_text
from claims.outputs.notifications import sellers_notify_later
from claims.outputs.webhooks import (
    StatusChange,
    webhook_status_changed,
    webhooks_status_changed_many,
)
from claims.tasks import (
    claim_pay_task,
    claims_pay_task,
    rejection_letter_make_task,
    settlement_act_make_task,
)
from claims.templatetags.money import rub
from policies.actors import Actor
from policies.calendar import working_days_between
from policies.choices import ActorKind
from policies.errors import ConflictError, DomainError, ErrorCode
from policies.models import User
from policies.outbox import outbox_enqueue, outbox_enqueue_many
from policies.services import new_reference


def claim_authorize(*, claim: Claim, name: str, actor: Actor) -> None:
    """Refuse a transition the state does not allow, or that this actor may not make."""
    method = getattr(claim, name)
    if not can_proceed(method):
        raise ConflictError(
            ClaimErrorCode.TRANSITION_NOT_ALLOWED,
            _("Claim %(number)s is %(status)s: “%(action)s” is not possible now.")
            % {"number": claim.number, "status": claim.get_status_display(), "action": name},
            extra={"status": claim.status, "transition": name},
        )
    allowed = (
        has_transition_perm(method, actor.user)
        if actor.kind == ActorKind.USER
        else actor.kind == ActorKind.SYSTEM or actor.marketplace.pk == claim.marketplace_id
    )
    if not allowed:
        raise PermissionDeniedError(
            ErrorCode.PERMISSION_DENIED,
            _("You may not %(action)s claim %(number)s.")
            % {"action": name, "number": claim.number},
        )


def claim_transition(
    *,
    claim: Claim,
    name: str,
    actor: Actor,
    note: str = "",
    internal_note: str = "",
    system: dict | None = None,
    **kwargs,
) -> ClaimTransition:
    """Move the claim by `name` and log the step: `note` is a person's words, `system` the
    system's own note (`claims.notes.system_note`)."""
    source = claim.status
    getattr(claim, name)(**kwargs)
    now = timezone.now()
    claim.status_changed_at = now
    claim.due_on = claim_due_on(claim)
    claim.save()
    logged = ClaimTransition.objects.create(
        claim=claim,
        transition=name,
        source_state=source,
        target_state=claim.status,
        at=now,
        note=note,
        internal_note=internal_note,
        **(system or {}),
        **actor.log_fields(),
    )
    webhook_status_changed(claim=claim, source=source, at=now)
    sellers_notify_later([(claim.pk, claim.status)])
    return logged


def room_note(*, payable: Decimal, limit_applied: str) -> dict:
    """Return the system's note (`claims.notes`) of a payable a limit shared with other
    claims cut: approved for what that limit still allows, or nothing left of it; {} if no
    such limit cut it."""
    if limit_applied not in SHARED_LIMITS:
        return {}
    per_event = limit_applied == LimitApplied.PER_EVENT
    if payable > 0:
        code = (
            SystemNote.APPROVED_PER_EVENT_ROOM if per_event else SystemNote.APPROVED_AGGREGATE_ROOM
        )
        return system_note(code, payable=payable)
    return system_note(SystemNote.NO_PER_EVENT_ROOM if per_event else SystemNote.NO_AGGREGATE_ROOM)


def route_note(*, target: str, payable: Decimal, limit_applied: str) -> dict:
    """Return the note of a triage or release to `target`: on an approval, or where nothing is
    left to pay (the claim goes to a person), what the limits shared with other claims left."""
    if target == ClaimStatus.APPROVED or payable <= 0:
        return room_note(payable=payable, limit_applied=limit_applied)
    return {}


def _route(*, claim: Claim, name: str, today: dt.date) -> None:
    """Triage or release the claim to where its flags and payable send it."""
    # Releasing takes the compensation as known: paid, or zero once the wait is over.
    known = name == "release" or compensation_known(
        claim=claim, received=claim.compensations.exists(), today=today
    )
    if name == "release":
        # The judgement of submission stands; only the compensation wait is over.
        claim.flags = release_flags(flags=claim.flags)
    else:
        claim.flags = claim_flags(claim=claim, today=today, compensation_known=known)
    calc = claim_recalculate(claim=claim)
    target = triage_target(
        cover=claim.cover,
        flags=claim.flags,
        payable=calc.payable,
        auto_approve_threshold=claim.policy.product_version.auto_approve_threshold,
        compensation_known=known,
    )
    if target == ClaimStatus.AWAITING_COMPENSATION:
        claim.sla_started_on = None
    elif name == "release":
        # The decision clock starts anew at release, with no pause behind it.
        claim.sla_started_on = today
        claim.sla_paused_days = 0
    # Approved, the claim holds its payable (claims.calculation.HOLDING).
    note = route_note(target=target, payable=calc.payable, limit_applied=calc.limit_applied)
    if target == ClaimStatus.APPROVED:
        claim.decided_at = timezone.now()
    claim_transition(claim=claim, name=name, actor=Actor.system(), system=note, target=target)
    if target == ClaimStatus.APPROVED:
        outbox_enqueue(task=claim_pay_task, claim_id=claim.pk)


def claims_released(*, released: list[StatusChange], at: dt.datetime) -> None:
    """Send what follows a bulk release: the webhooks, and payment of the approved ones."""
    webhooks_status_changed_many(changes=released, at=at)
    sellers_notify_later((change.claim_id, change.target) for change in released)
    approved = [c.claim_id for c in released if c.target == ClaimStatus.APPROVED]
    outbox_enqueue_many(
        task=claims_pay_task,
        calls=(
            {"claim_ids": approved[start : start + 1000]} for start in range(0, len(approved), 1000)
        ),
    )


@transaction.atomic
def claim_triage(*, claim_id: int) -> Claim:
    """Route a submitted claim; a claim already routed is left as it is."""
    claim = claim_lock(claim_id=claim_id)
    if claim.status == ClaimStatus.SUBMITTED:
        _route(claim=claim, name="triage", today=timezone.localdate())
    return claim


@transaction.atomic
def claim_release(*, claim_id: int) -> Claim:
    """Release a claim that waited for the marketplace's compensation.

    The compensation is now known, or taken as zero once the wait has passed.
    """
    claim = claim_lock(claim_id=claim_id)
    if claim.status == ClaimStatus.AWAITING_COMPENSATION:
        _route(claim=claim, name="release", today=timezone.localdate())
    return claim


@transaction.atomic
def claim_start_review(*, claim_id: int, adjuster: User) -> Claim:
    claim = claim_lock(claim_id=claim_id)
    claim_authorize(claim=claim, name="start_review", actor=Actor.for_user(adjuster))
    claim.assignee = adjuster
    claim_transition(claim=claim, name="start_review", actor=Actor.for_user(adjuster))
    return claim


@transaction.atomic
def claim_assign(*, claim_id: int, adjuster: User) -> Claim:
    claim = claim_lock(claim_id=claim_id)
    if not adjuster.has_perm("claims.review_claim"):
        raise PermissionDeniedError(
            ErrorCode.PERMISSION_DENIED, _("Only adjusters can be assigned claims.")
        )
    claim.assignee = adjuster
    claim.save(update_fields=["assignee", "updated_at"])
    return claim


@transaction.atomic
def claim_assess(*, claim_id: int, adjuster: User, assessed_amount: Decimal) -> Claim:
    """Record the adjuster's verified loss; only under review, never above the claimed amount."""
    claim = claim_lock(claim_id=claim_id)
    if claim.status != ClaimStatus.UNDER_REVIEW:
        raise ConflictError(
            ClaimErrorCode.NOT_UNDER_REVIEW,
            _("The assessed loss can be changed only while the claim is under review."),
        )
    if not adjuster.has_perm("claims.review_claim"):
        raise PermissionDeniedError(
            ErrorCode.PERMISSION_DENIED, _("Only adjusters can assess claims.")
        )
    if assessed_amount < 0 or assessed_amount > claim.claimed_amount:
        raise DomainError(
            ClaimErrorCode.ASSESSED_ABOVE_CLAIMED,
            _("The assessed loss must lie between 0 and the claimed amount (%(claimed)s).")
            % {"claimed": claim.claimed_amount},
            fields={"assessed_amount": [_("Between 0 and the claimed amount.")]},
        )
    claim.assessed_amount = assessed_amount
    # A sign-off was asked for an amount that no longer stands.
    claim.signoff_requested_by = None
    claim.signoff_requested_at = None
    claim_recalculate(claim=claim)
    claim.full_clean(exclude=["status"])
    claim.save()
    return claim


def _require_text(value: str, code: ClaimErrorCode, field: str, message: str) -> str:
    text = (value or "").strip()
    if not text:
        raise DomainError(code, message, fields={field: [message]})
    return text


@transaction.atomic
def claim_request_info(*, claim_id: int, adjuster: User, message: str) -> Claim:
    """Ask the seller for information; the service clock pauses until the answer."""
    body = _require_text(
        message, ClaimErrorCode.MESSAGE_REQUIRED, "message", _("Write what the seller must send.")
    )
    claim = claim_lock(claim_id=claim_id)
    claim_authorize(claim=claim, name="request_info", actor=Actor.for_user(adjuster))
    claim.info_requested_at = timezone.now()
    if claim.assignee_id is None:
        claim.assignee = adjuster
    ClaimMessage.objects.create(
        claim=claim, author_kind=MessageAuthor.ADJUSTER, author=adjuster, body=body
    )
    claim_transition(claim=claim, name="request_info", actor=Actor.for_user(adjuster), note=body)
    return claim


@evidence_atomic()
def claim_provide_info(
    *,
    claim_id: int,
    user: User,
    message: str = "",
    files: Sequence[UploadedFile | InspectedFile] = (),
) -> Claim:
    """Take the seller's answer (a message, files or both) and resume the review."""
    if not (message or "").strip() and not files:
        raise DomainError(
            ClaimErrorCode.MESSAGE_REQUIRED,
            _("Write an answer or attach a file."),
            fields={"message": [_("Write an answer or attach a file.")]},
        )
    claim = claim_lock(claim_id=claim_id)
    claim_authorize(claim=claim, name="provide_info", actor=Actor.for_user(user))
    if message.strip():
        ClaimMessage.objects.create(
            claim=claim, author_kind=MessageAuthor.SELLER, author=user, body=message.strip()
        )
    evidence_store(claim=claim, files=files, user=user)
    if claim.info_requested_at:
        claim.sla_paused_days += working_days_between(
            timezone.localdate(claim.info_requested_at), timezone.localdate()
        )
    claim.info_requested_at = None
    claim_transition(
        claim=claim, name="provide_info", actor=Actor.for_user(user), note=message.strip()
    )
    return claim


def _step_record(*, claim: Claim, name: str, actor: Actor, note: str = "", internal: str = ""):
    """Log a sign-off step: it moves no state, so no webhook or letter follows it."""
    ClaimTransition.objects.create(
        claim=claim,
        transition=name,
        source_state=claim.status,
        target_state=claim.status,
        at=timezone.now(),
        note=note,
        internal_note=internal,
        **actor.log_fields(),
    )


def _payable_or_refuse(*, claim: Claim) -> Calculation:
    """Return the claim's calculation worked out anew; refuse if it leaves nothing to pay."""
    calc = claim_recalculate(claim=claim)
    if calc.payable <= 0:
        refused = _("Nothing is payable on claim %(number)s: reject it with a reason instead.")
        why = system_note_text(**room_note(payable=calc.payable, limit_applied=calc.limit_applied))
        raise DomainError(
            ClaimErrorCode.NOTHING_PAYABLE,
            " ".join(filter(None, [why, refused % {"number": claim.number}])),
            extra={"limit_applied": calc.limit_applied},
        )
    return calc


def _approved(*, claim: Claim, actor: Actor, calc: Calculation, note: str, internal: str = ""):
    claim.signoff_requested_by = None
    claim.signoff_requested_at = None
    claim.decided_at = timezone.now()
    claim_transition(
        claim=claim,
        name="approve",
        actor=actor,
        note=note,
        internal_note=internal,
        system=room_note(payable=calc.payable, limit_applied=calc.limit_applied),
    )


@transaction.atomic
def claim_approve(*, claim_id: int, adjuster: User, note: str = "") -> Claim:
    """Approve within the adjuster's authority; above it, queue the claim for a senior's sign-off.

    A claim waiting for sign-off stays under review with `signoff_requested_by` set and the
    request in its log (with the note for the seller, which the sign-off carries); only
    `claim_sign_off` approves it then. Approval above one's own limit never approves.

    The payable is worked out anew under the policy's lock, with what the policy's other
    claims were paid or hold: approved, the claim holds it until paid or released. A claim
    the shared limits leave less for is approved for what is left, and says so; one they
    leave nothing for is not approved.
    """
    claim = claim_lock(claim_id=claim_id)
    actor = Actor.for_user(adjuster)
    claim_authorize(claim=claim, name="approve", actor=actor)
    if claim.awaiting_signoff:
        raise ConflictError(
            ClaimErrorCode.AWAITING_SIGNOFF,
            _("Claim %(number)s awaits the sign-off of a senior adjuster, asked by %(who)s.")
            % {"number": claim.number, "who": claim.signoff_requested_by},
        )
    calc = _payable_or_refuse(claim=claim)
    if calc.payable > adjuster.authority_limit:
        claim.signoff_requested_by = adjuster
        claim.signoff_requested_at = timezone.now()
        claim.save()
        _step_record(claim=claim, name="request_signoff", actor=actor, note=note.strip())
        return claim
    _approved(claim=claim, actor=actor, calc=calc, note=note)
    return claim


def _signoff_check(*, claim: Claim, senior: User, name: str) -> Calculation:
    """Refuse a sign-off step on a claim that awaits none, by the adjuster who asked for it,
    or by one whose authority limit does not cover the payable; return the calculation."""
    claim_authorize(claim=claim, name="approve", actor=Actor.for_user(senior))
    if not claim.awaiting_signoff:
        raise ConflictError(
            ClaimErrorCode.NOT_AWAITING_SIGNOFF,
            _("Claim %(number)s awaits no sign-off.") % {"number": claim.number},
            extra={"transition": name},
        )
    if claim.signoff_requested_by_id == senior.pk:
        raise PermissionDeniedError(
            ClaimErrorCode.OWN_SIGNOFF_REQUEST,
            _("Another adjuster signs off the approval you asked for."),
        )
    calc = _payable_or_refuse(claim=claim)
    if calc.payable > senior.authority_limit:
        raise PermissionDeniedError(
            ClaimErrorCode.OVER_AUTHORITY_LIMIT,
            _("The payable %(payable)s is above your authority limit of %(limit)s.")
            % {"payable": rub(calc.payable), "limit": rub(senior.authority_limit)},
        )
    return calc


def signoff_allowed(*, claim: Claim, user: User) -> bool:
    """Whether `user` may sign off the claim or send it back: it awaits a sign-off asked by
    someone else, and the user may approve it with a limit that covers its payable."""
    return (
        claim.awaiting_signoff
        and claim.signoff_requested_by_id != user.pk
        and has_transition_perm(claim.approve, user)
        and claim.payable_amount <= user.authority_limit
    )


@transaction.atomic
def claim_sign_off(*, claim_id: int, senior: User, note: str = "") -> Claim:
    """Approve, as a senior within their own limit, a claim another adjuster asked them to.

    The note for the seller is the senior's, or else the one the adjuster wrote when asking.
    """
    claim = claim_lock(claim_id=claim_id)
    calc = _signoff_check(claim=claim, senior=senior, name="sign_off")
    requester = claim.signoff_requested_by
    asked = claim.transitions.filter(transition="request_signoff").order_by("-at", "-pk").first()
    _approved(
        claim=claim,
        actor=Actor.for_user(senior),
        calc=calc,
        note=note.strip() or (asked.note if asked else ""),
        internal=_("Signed off for %(requester)s.") % {"requester": requester},
    )
    return claim


@transaction.atomic
def claim_send_back(*, claim_id: int, senior: User, note: str) -> Claim:
    """Decline to sign off: the claim stays under review, back with the adjuster who asked,
    with the senior's note (for the adjusters, not the seller) in its log."""
    text = _require_text(
        note,
        ClaimErrorCode.REASON_REQUIRED,
        "note",
        _("Say what the adjuster should look at again."),
    )
    claim = claim_lock(claim_id=claim_id)
    _signoff_check(claim=claim, senior=senior, name="send_back")
    claim.assignee = claim.signoff_requested_by
    claim.signoff_requested_by = None
    claim.signoff_requested_at = None
    claim.save()
    _step_record(claim=claim, name="send_back", actor=Actor.for_user(senior), internal=text)
    return claim


@transaction.atomic
def claim_reject(*, claim_id: int, adjuster: User, code: str, reason: str) -> Claim:
    """Reject with a reason code and a text the seller reads in the rejection letter."""
    if code not in RejectionCode.values:
        raise DomainError(
            ClaimErrorCode.REASON_REQUIRED,
            _("Choose a rejection reason."),
            fields={"code": [_("Choose a rejection reason.")]},
        )
    text = _require_text(
        reason, ClaimErrorCode.REASON_REQUIRED, "reason", _("Explain the rejection to the seller.")
    )
    claim = claim_lock(claim_id=claim_id)
    claim_authorize(claim=claim, name="reject", actor=Actor.for_user(adjuster))
    claim.rejection_code = code
    claim.rejection_reason = text
    claim.decided_at = timezone.now()
    claim.signoff_requested_by = None
    claim.signoff_requested_at = None
    rejection = claim_transition(
        claim=claim, name="reject", actor=Actor.for_user(adjuster), note=text
    )
    outbox_enqueue(task=rejection_letter_make_task, claim_id=claim.pk, transition_id=rejection.pk)
    return claim


@transaction.atomic
def claim_pay(
    *,
    claim_id: int,
    actor: Actor,
    reference: str = "",
    paid_on: dt.date | None = None,
) -> Claim:
    """Pay an approved claim once: one Payout of the payable as computed now, under the locks.

    It is what the approval holds, or less if the loss fell since: never more.
    """
    claim = claim_lock(claim_id=claim_id)
    claim_authorize(claim=claim, name="pay", actor=actor)
    calc = claim_recalculate(claim=claim)
    if calc.payable <= 0:
        raise DomainError(
            ClaimErrorCode.NOTHING_PAYABLE,
            _("Nothing is payable on claim %(number)s: reject it with a reason instead.")
            % {"number": claim.number},
        )
    payout = Payout(
        claim=claim,
        policy_id=claim.policy_id,
        amount=calc.payable,
        paid_on=paid_on or timezone.localdate(),
        reference=(reference or "").strip() or new_reference("PAY"),
        calculation=calc.as_record(),
        created_by=actor.user,
    )
    payout.full_clean()
    payout.save()
    claim_transition(
        claim=claim,
        name="pay",
        actor=actor,
        system=system_note(SystemNote.PAID, amount=payout.amount, reference=payout.reference),
    )
    outbox_enqueue(task=settlement_act_make_task, claim_id=claim.pk)
    return claim


@transaction.atomic
def claim_withdraw(*, claim_id: int, user: User, note: str = "") -> Claim:
    claim = claim_lock(claim_id=claim_id)
    claim_authorize(claim=claim, name="withdraw", actor=Actor.for_user(user))
    claim_transition(claim=claim, name="withdraw", actor=Actor.for_user(user), note=note)
    return claim


@transaction.atomic
def claim_reopen(*, claim_id: int, adjuster: User, reason: str) -> Claim:
    """Reopen on appeal or new facts; the decision clock starts again."""
    text = _require_text(
        reason, ClaimErrorCode.REASON_REQUIRED, "reason", _("Say why the claim is reopened.")
    )
    claim = claim_lock(claim_id=claim_id)
    claim_authorize(claim=claim, name="reopen", actor=Actor.for_user(adjuster))
    claim.rejection_code = ""
    claim.rejection_reason = ""
    claim.decided_at = None
    claim.sla_started_on = timezone.localdate()
    claim.sla_paused_days = 0
    claim.assignee = adjuster
    claim_transition(claim=claim, name="reopen", actor=Actor.for_user(adjuster), note=text)
    return claim


@transaction.atomic
def claim_close(*, claim_id: int) -> Claim:
    """Close a claim whose info request went unanswered, or whose time to appeal ran out."""
    claim = claim_lock(claim_id=claim_id)
    claim_authorize(claim=claim, name="close", actor=Actor.system())
    why = (
        system_note(SystemNote.CLOSED_NO_REPLY, days=INFO_REPLY_WINDOW_DAYS)
        if claim.status == ClaimStatus.INFO_REQUESTED
        else system_note(SystemNote.CLOSED_APPEAL_OVER)
    )
    claim_transition(claim=claim, name="close", actor=Actor.system(), system=why)
    return claim
