"""Celery tasks of the policy side: each takes ids, calls one service and owns its retries."""

from celery import shared_task
from django.utils import timezone

# Documents and e-mail retry on I/O errors; a document is made once per event, so a
# redelivered task finds it stored.
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
