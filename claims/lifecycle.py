"""The claim lifecycle of DESIGN §5: one service per transition.

Each service locks the claim's policy and then the claim (always in that
order), checks who may act, moves the state through the model's transition
method, writes the transition log and leaves side effects for after commit.
The state field is protected and the model carries ConcurrentTransitionMixin,
so a second writer working from a stale copy fails instead of overwriting.
"""

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed, has_transition_perm

from claims.calculation import Calculation, calculate_payable, triage_target
from claims.choices import ClaimStatus, MessageAuthor, RejectionCode
from claims.eligibility import check_hard_rules, is_marketplace_verified, judgement_flags
from claims.errors import ClaimErrorCode
from claims.evidence import evidence_add
from claims.matching import compensations_attach_unmatched
from claims.models import Claim, ClaimMessage, ClaimTransition, Payout
from claims.notifications import sellers_notify_later
from claims.selectors import (
    claim_compensation_total,
    claim_get_for_update,
    event_paid_by_others,
    policy_lock,
    policy_usage,
)
from claims.tasks import (
    claim_acknowledgement_make_task,
    claim_pay_task,
    claim_triage_task,
    claims_pay_task,
    claims_triage_task,
    rejection_letter_make_task,
    settlement_act_make_task,
)
from claims.webhooks import StatusChange, webhook_status_changed, webhooks_status_changed_many
from policies.actors import Actor
from policies.calendar import add_working_days, working_days_between
from policies.choices import ActorKind
from policies.errors import ConflictError, DomainError
from policies.models import ShipmentEvent, User
from policies.services import new_reference

DECISION_WORKING_DAYS = 14
PAYMENT_WORKING_DAYS = 14


class PermissionDeniedError(DomainError):
    status = 403


def claim_lock(*, claim_id: int) -> Claim:
    """Lock the claim's policy, then the claim, and return the claim."""
    policy_id = Claim.objects.values_list("policy_id", flat=True).get(pk=claim_id)
    policy_lock(policy_id=policy_id)
    return claim_get_for_update(claim_id=claim_id)


def _authorize(*, claim: Claim, name: str, actor: Actor) -> None:
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
            ClaimErrorCode.PERMISSION_DENIED,
            _("You may not %(action)s claim %(number)s.")
            % {"action": name, "number": claim.number},
        )


def claim_due_on(claim: Claim) -> dt.date | None:
    """Return the date the next service level falls due; none while the clock is paused."""
    if claim.status in (ClaimStatus.SUBMITTED, ClaimStatus.UNDER_REVIEW) and claim.sla_started_on:
        return add_working_days(claim.sla_started_on, DECISION_WORKING_DAYS + claim.sla_paused_days)
    if claim.status == ClaimStatus.APPROVED and claim.decided_at:
        return add_working_days(timezone.localdate(claim.decided_at), PAYMENT_WORKING_DAYS)
    return None


def _transition(
    *,
    claim: Claim,
    name: str,
    actor: Actor,
    note: str = "",
    internal_note: str = "",
    **kwargs,
) -> ClaimTransition:
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
        **actor.log_fields(),
    )
    webhook_status_changed(claim=claim, source=source, at=now)
    sellers_notify_later([(claim.pk, claim.status)])
    return logged


def claim_calculate(*, claim: Claim) -> Calculation:
    """Return the claim's calculation with what is known now about limits and compensation."""
    version = claim.policy.product_version
    terms = version.covers.get(cover=claim.cover)
    usage = policy_usage(policy_id=claim.policy_id, exclude_claim_id=claim.pk)
    return calculate_payable(
        loss=claim.loss_amount,
        compensation=claim.compensation_amount,
        deductible=terms.deductible,
        per_claim_limit=terms.per_claim_limit,
        per_event_limit=terms.per_event_limit,
        event_paid_by_others=event_paid_by_others(claim=claim),
        aggregate_limit=version.aggregate_limit,
        policy_paid_by_others=usage.paid,
        policy_recovered=usage.recovered,
    )


def claim_recalculate(*, claim: Claim) -> Calculation:
    """Bring the claim's stored figures up to date; the caller saves."""
    claim.compensation_amount = claim_compensation_total(claim_id=claim.pk)
    calc = claim_calculate(claim=claim)
    claim.deductible_amount = calc.deductible
    claim.payable_amount = calc.payable
    claim.limit_applied = calc.limit_applied
    return calc


def _compensation_known(claim: Claim, today: dt.date) -> bool:
    wait = claim.policy.product_version.cargo_compensation_wait_days
    return claim.compensations.exists() or today >= claim.event_date + dt.timedelta(days=wait)


def claim_flags(
    *,
    claim: Claim,
    today: dt.date,
    compensation_known: bool,
    event_kinds: set[str] | None = None,
) -> list[str]:
    """Return the claim's judgement flags; `event_kinds` saves a query when already known."""
    version = claim.policy.product_version
    shipment = claim.shipment
    if event_kinds is None:
        event_kinds = set(
            ShipmentEvent.objects.filter(shipment_id=claim.shipment_id).values_list(
                "kind", flat=True
            )
        )
    notified = timezone.localdate(claim.submitted_at) if claim.submitted_at else today
    return judgement_flags(
        peril=claim.peril,
        event_date=claim.event_date,
        notified_on=notified,
        claimed_amount=claim.claimed_amount,
        declared_value=shipment.declared_value,
        known_fee=shipment.reverse_logistics_fee,
        category=shipment.category,
        notification_window_days=version.notification_window_days,
        max_declared_value=version.max_declared_value,
        excluded_categories=version.excluded_categories,
        compensation_wait_days=version.cargo_compensation_wait_days,
        compensation_known=compensation_known,
        marketplace_verified=is_marketplace_verified(
            source=claim.source, peril=claim.peril, event_kinds=event_kinds
        ),
    )


def _route(*, claim: Claim, name: str, today: dt.date) -> None:
    """Triage or release the claim to where its flags and payable send it."""
    # Releasing takes the compensation as known: paid, or zero once the wait is over.
    known = name == "release" or _compensation_known(claim, today)
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
        claim.sla_started_on = today
    if target == ClaimStatus.APPROVED:
        claim.decided_at = timezone.now()
    _transition(claim=claim, name=name, actor=Actor.system(), target=target)
    if target == ClaimStatus.APPROVED:
        transaction.on_commit(lambda: claim_pay_task.delay(claim_id=claim.pk))


@transaction.atomic
def claim_submit(*, claim_id: int, actor: Actor) -> Claim:
    """Submit a draft; triage runs right after the commit."""
    claim = claim_lock(claim_id=claim_id)
    _authorize(claim=claim, name="submit", actor=actor)
    check_hard_rules(
        seller=claim.seller,
        shipment=claim.shipment,
        peril=claim.peril,
        event_date=claim.event_date,
        claimed_amount=claim.claimed_amount,
        today=timezone.localdate(),
        exclude_claim_id=claim.pk,
    )
    compensations_attach_unmatched(claim=claim)
    claim.submitted_at = timezone.now()
    claim.sla_started_on = timezone.localdate()
    claim.flags = claim_flags(claim=claim, today=timezone.localdate(), compensation_known=False)
    claim_recalculate(claim=claim)
    _transition(claim=claim, name="submit", actor=actor)
    transaction.on_commit(lambda: claim_triage_task.delay(claim_id=claim.pk))
    transaction.on_commit(lambda: claim_acknowledgement_make_task.delay(claim_ids=[claim.pk]))
    return claim


def claims_submitted(*, claims: list[Claim], at: dt.datetime) -> None:
    """Send what follows a submission: the webhooks, and one triage task after the commit."""
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
    ids = [claim.pk for claim in claims]
    if ids:
        transaction.on_commit(lambda: claims_triage_task.delay(claim_ids=ids))
        transaction.on_commit(lambda: claim_acknowledgement_make_task.delay(claim_ids=ids))


def claims_released(*, released: list[StatusChange], at: dt.datetime) -> None:
    """Send what follows a bulk release: the webhooks, and payment of the approved ones."""
    webhooks_status_changed_many(changes=released, at=at)
    sellers_notify_later((change.claim_id, change.target) for change in released)
    approved = [c.claim_id for c in released if c.target == ClaimStatus.APPROVED]
    for start in range(0, len(approved), 1000):
        part = approved[start : start + 1000]
        transaction.on_commit(lambda part=part: claims_pay_task.delay(claim_ids=part))


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
    _authorize(claim=claim, name="start_review", actor=Actor.for_user(adjuster))
    claim.assignee = adjuster
    _transition(claim=claim, name="start_review", actor=Actor.for_user(adjuster))
    return claim


@transaction.atomic
def claim_assign(*, claim_id: int, adjuster: User) -> Claim:
    claim = claim_lock(claim_id=claim_id)
    if not adjuster.has_perm("claims.review_claim"):
        raise PermissionDeniedError(
            ClaimErrorCode.PERMISSION_DENIED, _("Only adjusters can be assigned claims.")
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
            ClaimErrorCode.PERMISSION_DENIED, _("Only adjusters can assess claims.")
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
    _authorize(claim=claim, name="request_info", actor=Actor.for_user(adjuster))
    claim.info_requested_at = timezone.now()
    if claim.assignee_id is None:
        claim.assignee = adjuster
    ClaimMessage.objects.create(
        claim=claim, author_kind=MessageAuthor.ADJUSTER, author=adjuster, body=body
    )
    _transition(claim=claim, name="request_info", actor=Actor.for_user(adjuster), note=body)
    return claim


@transaction.atomic
def claim_provide_info(*, claim_id: int, user: User, message: str = "", files=()) -> Claim:
    """Take the seller's answer (a message, files or both) and resume the review."""
    if not (message or "").strip() and not files:
        raise DomainError(
            ClaimErrorCode.MESSAGE_REQUIRED,
            _("Write an answer or attach a file."),
            fields={"message": [_("Write an answer or attach a file.")]},
        )
    claim = claim_lock(claim_id=claim_id)
    _authorize(claim=claim, name="provide_info", actor=Actor.for_user(user))
    if message.strip():
        ClaimMessage.objects.create(
            claim=claim, author_kind=MessageAuthor.SELLER, author=user, body=message.strip()
        )
    for upload in files:
        evidence_add(claim=claim, upload=upload, user=user)
    if claim.info_requested_at:
        claim.sla_paused_days += working_days_between(
            timezone.localdate(claim.info_requested_at), timezone.localdate()
        )
    claim.info_requested_at = None
    _transition(claim=claim, name="provide_info", actor=Actor.for_user(user), note=message.strip())
    return claim


@transaction.atomic
def claim_approve(*, claim_id: int, adjuster: User, note: str = "") -> Claim:
    """Approve within the adjuster's authority; above it, queue the claim for a senior's sign-off.

    A claim waiting for sign-off stays under review with `signoff_requested_by`
    set; approving it again by an adjuster whose limit covers the payable is
    the sign-off. Approval above one's own limit never approves.
    """
    claim = claim_lock(claim_id=claim_id)
    actor = Actor.for_user(adjuster)
    _authorize(claim=claim, name="approve", actor=actor)
    calc = claim_recalculate(claim=claim)
    if calc.payable > adjuster.authority_limit:
        if claim.signoff_requested_by_id is None:
            claim.signoff_requested_by = adjuster
            claim.signoff_requested_at = timezone.now()
            claim.save()
            return claim
        raise PermissionDeniedError(
            ClaimErrorCode.OVER_AUTHORITY_LIMIT,
            _("The payable %(payable)s is above your authority limit of %(limit)s.")
            % {"payable": calc.payable, "limit": adjuster.authority_limit},
        )
    internal = ""
    if claim.signoff_requested_by_id and claim.signoff_requested_by_id != adjuster.pk:
        internal = _("Signed off for %(requester)s.") % {"requester": claim.signoff_requested_by}
    claim.signoff_requested_by = None
    claim.signoff_requested_at = None
    claim.decided_at = timezone.now()
    _transition(claim=claim, name="approve", actor=actor, note=note, internal_note=internal)
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
    _authorize(claim=claim, name="reject", actor=Actor.for_user(adjuster))
    claim.rejection_code = code
    claim.rejection_reason = text
    claim.decided_at = timezone.now()
    claim.signoff_requested_by = None
    claim.signoff_requested_at = None
    rejection = _transition(claim=claim, name="reject", actor=Actor.for_user(adjuster), note=text)
    transaction.on_commit(
        lambda: rejection_letter_make_task.delay(claim_id=claim.pk, transition_id=rejection.pk)
    )
    return claim


@transaction.atomic
def claim_pay(
    *,
    claim_id: int,
    actor: Actor,
    reference: str = "",
    paid_on: dt.date | None = None,
) -> Claim:
    """Pay an approved claim once: one Payout of the payable as computed now, under the locks."""
    claim = claim_lock(claim_id=claim_id)
    _authorize(claim=claim, name="pay", actor=actor)
    calc = claim_recalculate(claim=claim)
    if calc.payable <= 0:
        raise DomainError(
            ClaimErrorCode.NOTHING_PAYABLE,
            _("Nothing is payable on claim %(number)s: reject it with a reason instead.")
            % {"number": claim.number},
        )
    payout = Payout(
        claim=claim,
        amount=calc.payable,
        paid_on=paid_on or timezone.localdate(),
        reference=(reference or "").strip() or new_reference("PAY"),
        calculation=calc.as_record(),
        created_by=actor.user,
    )
    payout.full_clean()
    payout.save()
    _transition(
        claim=claim,
        name="pay",
        actor=actor,
        note=_("Paid %(amount)s, reference %(reference)s.")
        % {"amount": payout.amount, "reference": payout.reference},
    )
    transaction.on_commit(lambda: settlement_act_make_task.delay(claim_id=claim.pk))
    return claim


@transaction.atomic
def claim_withdraw(*, claim_id: int, user: User, note: str = "") -> Claim:
    claim = claim_lock(claim_id=claim_id)
    _authorize(claim=claim, name="withdraw", actor=Actor.for_user(user))
    _transition(claim=claim, name="withdraw", actor=Actor.for_user(user), note=note)
    return claim


@transaction.atomic
def claim_reopen(*, claim_id: int, adjuster: User, reason: str) -> Claim:
    """Reopen on appeal or new facts; the decision clock starts again."""
    text = _require_text(
        reason, ClaimErrorCode.REASON_REQUIRED, "reason", _("Say why the claim is reopened.")
    )
    claim = claim_lock(claim_id=claim_id)
    _authorize(claim=claim, name="reopen", actor=Actor.for_user(adjuster))
    claim.rejection_code = ""
    claim.rejection_reason = ""
    claim.decided_at = None
    claim.sla_started_on = timezone.localdate()
    claim.sla_paused_days = 0
    claim.assignee = adjuster
    _transition(claim=claim, name="reopen", actor=Actor.for_user(adjuster), note=text)
    return claim


@transaction.atomic
def claim_close(*, claim_id: int, note: str = "") -> Claim:
    claim = claim_lock(claim_id=claim_id)
    _authorize(claim=claim, name="close", actor=Actor.system())
    _transition(claim=claim, name="close", actor=Actor.system(), note=note)
    return claim
