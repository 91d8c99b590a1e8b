"""Celery tasks of the policy side: each takes ids, calls one service and owns its retries."""

from celery import shared_task
from django.conf import settings
from django.utils import timezone

# Retry policy. A follow-up from the outbox that does not finish (an error, a time limit, a
# dead worker) is sent again by the sweep after OUTBOX_REDISPATCH_AFTER, at most
# OUTBOX_MAX_ATTEMPTS times, then given up for a person: that is every such task's retry.
# Documents and e-mail also retry a transient I/O error at once, here, under the same task
# id, and the sweep waits while they do (policies/outbox.py, _retrying): never two copies.
# A document is made once per event, so a repeated task finds it stored. Beat jobs are
# retried by their next run, webhooks by their delivery's own backoff.
TRANSIENT_RETRY = {"autoretry_for": (OSError,), "retry_backoff": True, "max_retries": 5}


@shared_task(acks_late=True)
def policies_expire_due_task() -> int:
    from policies.services import policies_expire_due

    return policies_expire_due(today=timezone.localdate())


@shared_task(acks_late=True, **TRANSIENT_RETRY)
def policy_certificate_make_task(*, policy_id: int) -> int:
    from policies.documents import policy_certificate_make

    return policy_certificate_make(policy_id=policy_id).pk


@shared_task(acks_late=True)
def outbox_sweep_task() -> int:
    """Send the outbox's follow-ups that were never sent or never finished."""
    from policies.outbox import outbox_sweep

    return outbox_sweep()


@shared_task(acks_late=True)
def event_partitions_create_task() -> int:
    """Make the shipment events' missing partitions of this month and the months ahead."""
    from policies.partitions import event_partitions_create, partitioned

    if not partitioned():
        return 0
    made = event_partitions_create(
        today=timezone.localdate(), ahead=settings.EVENT_PARTITIONS_AHEAD_MONTHS
    )
    return len(made)
