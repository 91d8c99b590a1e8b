"""Celery tasks: each takes ids, calls one domain function and owns its retries.

The domain writes these tasks to the outbox (policies/outbox.py), which hands them to
Celery after the commit; the tasks import the domain inside the function body.
"""

import datetime as dt
import logging
import time

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from policies.tasks import TRANSIENT_RETRY

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def claims_triage_task(*, claim_ids: list[int]) -> int:
    """Triage the claims filed together; each in its own transaction, safe to repeat."""
    from claims.lifecycle import claim_triage

    for claim_id in claim_ids:
        claim_triage(claim_id=claim_id)
    return len(claim_ids)


def _pay_approved(claim_id: int) -> str:
    """Pay a straight-through approval; a claim paid or changed meanwhile is left alone."""
    from claims.choices import ClaimStatus
    from claims.lifecycle import claim_pay
    from claims.models import Claim
    from policies.actors import Actor
    from policies.errors import DomainError

    if not Claim.objects.filter(pk=claim_id, status=ClaimStatus.APPROVED).exists():
        return "skipped"
    try:
        return claim_pay(claim_id=claim_id, actor=Actor.system()).status
    except DomainError as exc:
        # Left approved for an adjuster to settle by hand, with the reason logged.
        logger.warning("claim %s not paid automatically: %s", claim_id, exc)
        return exc.code


@shared_task(acks_late=True)
def claim_pay_task(*, claim_id: int) -> str:
    return _pay_approved(claim_id)


@shared_task(acks_late=True)
def claims_pay_task(*, claim_ids: list[int]) -> int:
    for claim_id in claim_ids:
        _pay_approved(claim_id)
    return len(claim_ids)


@shared_task(acks_late=True)
def claims_release_waiting_task() -> int:
    from claims.jobs import claims_release_waiting

    return claims_release_waiting(today=timezone.localdate())


@shared_task(acks_late=True)
def claims_flag_sla_breaches_task() -> int:
    from claims.jobs import claims_flag_sla_breaches

    return claims_flag_sla_breaches(today=timezone.localdate())


@shared_task(acks_late=True)
def claims_close_due_task() -> int:
    from claims.jobs import claims_close_due

    return claims_close_due(today=timezone.localdate())


@shared_task(acks_late=True)
def webhook_deliver_task(*, delivery_id: int) -> str:
    """Make the first attempt at a webhook right after its transition.

    A failed attempt schedules the next one on the delivery itself, which
    `webhooks_retry_due_task` on the beat schedule makes when its backoff has
    passed: no task message is held for hours, and this one has finished.
    """
    from claims.outputs.webhooks import webhook_attempt

    return webhook_attempt(delivery_id=delivery_id).status


@shared_task(acks_late=True)
def webhooks_retry_due_task() -> int:
    """Attempt the due deliveries for at most a slice; the next beat takes the rest."""
    from claims.outputs.webhooks import webhook_attempt, webhooks_due

    # Held past the broker's visibility timeout, the message would be delivered again.
    deadline = time.monotonic() + settings.LONG_TASK_SLICE_SECONDS
    attempted = 0
    while time.monotonic() < deadline and (due := webhooks_due(now=timezone.now())):
        for delivery_id in due:
            if time.monotonic() >= deadline:
                break
            webhook_attempt(delivery_id=delivery_id)
            attempted += 1
    return attempted


@shared_task(acks_late=True)
def reconciliation_run_task(*, run_id: int) -> str:
    """Start (or resume) a reconciliation: queue a task for each chunk with records left."""
    from claims.reconciliation.run import reconciliation_fail, reconciliation_spread

    try:
        return reconciliation_spread(run_id=run_id).state
    except Exception as exc:
        reconciliation_fail(run_id=run_id, error=f"{type(exc).__name__}: {exc}")
        raise


@shared_task(acks_late=True)
def reconciliation_chunk_task(*, run_id: int, cell: int) -> str:
    """Reconcile one chunk of a run, on whichever worker takes it; the last one finishes it."""
    from claims.reconciliation.run import reconciliation_chunk, reconciliation_fail

    try:
        return reconciliation_chunk(run_id=run_id, cell=cell).state
    except Exception as exc:
        reconciliation_fail(run_id=run_id, error=f"{type(exc).__name__}: {exc}")
        raise


@shared_task(acks_late=True)
def reconciliation_nightly_task() -> int:
    from claims.reconciliation.run import reconciliation_request

    return reconciliation_request(trigger="schedule").pk


@shared_task(acks_late=True)
def long_tasks_resume_stale_task() -> int:
    """Resume the reconciliation runs and report imports whose worker died."""
    from claims.long_tasks import long_tasks_resume_stale

    resumed = long_tasks_resume_stale()
    return sum(map(len, resumed.values()))


# Once a month: an I/O error is retried now, not in a month.
@shared_task(acks_late=True, **TRANSIENT_RETRY)
def bordereaux_monthly_task() -> list[int]:
    """Make last month's premium and claims bordereaux, CSV and PDF (run on the 1st)."""
    last_month = timezone.localdate().replace(day=1) - dt.timedelta(days=1)
    return bordereaux_make_task.run(month=last_month.isoformat())


@shared_task(acks_late=True, **TRANSIENT_RETRY)
def bordereaux_make_task(*, month: str) -> list[int]:
    """Make the premium and claims bordereaux, CSV and PDF, of the month of `month`."""
    from claims.outputs.bordereaux import ROWS
    from claims.outputs.documents import bordereau_pdf_make

    day = dt.date.fromisoformat(month)
    return [bordereau_pdf_make(kind=kind, month=day).pk for kind in ROWS]


@shared_task(acks_late=True, **TRANSIENT_RETRY)
def claims_status_notify_task(*, changes: list[tuple[int, str]]) -> int:
    from claims.outputs.notifications import claims_status_notify

    return claims_status_notify(changes=changes)


@shared_task(acks_late=True, **TRANSIENT_RETRY)
def claim_acknowledgement_make_task(*, claim_ids: list[int]) -> int:
    from claims.outputs.documents import claim_acknowledgement_make

    for claim_id in claim_ids:
        claim_acknowledgement_make(claim_id=claim_id)
    return len(claim_ids)


@shared_task(acks_late=True, **TRANSIENT_RETRY)
def settlement_act_make_task(*, claim_id: int) -> int:
    from claims.outputs.documents import settlement_act_make

    return settlement_act_make(claim_id=claim_id).pk


@shared_task(acks_late=True, **TRANSIENT_RETRY)
def rejection_letter_make_task(*, claim_id: int, transition_id: int) -> int:
    from claims.outputs.documents import rejection_letter_make

    return rejection_letter_make(claim_id=claim_id, transition_id=transition_id).pk


@shared_task(acks_late=True, **TRANSIENT_RETRY)
def reconciliation_report_make_task(*, run_id: int) -> int:
    from claims.outputs.documents import reconciliation_report_make

    return reconciliation_report_make(run_id=run_id).pk


@shared_task(acks_late=True)
def report_import_run_task(*, import_id: int) -> str:
    """Import a stored report for a slice, its continuation queued; a redelivered task goes
    on from the rows not yet written, and one beside a live driver returns at once."""
    from claims.long_tasks import report_import_run_slice

    return report_import_run_slice(import_id=import_id).status
