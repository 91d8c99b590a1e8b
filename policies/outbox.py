"""The one door for side effects: follow-up tasks written in the transaction that calls for
them, handed to Celery once it commits, and sent again until they finish.

A service calls `outbox_enqueue(task=claim_triage_task, claim_id=claim.pk)` inside its
transaction: the row commits with the change or not at all. After the commit the
dispatcher publishes the row's task; if the broker is unreachable the row simply stays
pending and the request that wrote it still succeeds. `outbox_sweep`, on the beat
schedule, publishes what was never sent and sends again what was sent but never finished
(its worker died), so no follow-up is lost. Tasks are idempotent, so a row sent twice
does no harm. This is the only module that hands work to Celery.
"""

import datetime as dt
import logging
from collections.abc import Iterable

import structlog
from celery import Task, current_app
from celery.signals import task_failure, task_retry, task_success
from django.conf import settings
from django.db import transaction
from django.db.models import Case, Count, F, Min, Q, Value, When
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from policies.choices import OutboxStatus
from policies.models import OutboxMessage

logger = logging.getLogger(__name__)

# Published task ids carry the row, so the worker's signals can mark it finished.
TASK_ID_PREFIX = "outbox-"
OPEN = (OutboxStatus.PENDING, OutboxStatus.DISPATCHED)
# A sweep sends at most this many rows; the next sweep takes the rest.
SWEEP_BATCH = 5000


def outbox_enqueue(*, task: Task, **kwargs) -> OutboxMessage:
    """Write a follow-up of `task` with `kwargs` in the caller's transaction; return its row."""
    [message] = outbox_enqueue_many(task=task, calls=[kwargs])
    return message


def outbox_enqueue_many(*, task: Task, calls: Iterable[dict]) -> list[OutboxMessage]:
    """Write one follow-up of `task` per kwargs in `calls`, in one insert; return the rows."""
    now = timezone.now()
    # Bound by the request (django-structlog) or, in a worker, by the task that wrote the row.
    request_id = structlog.contextvars.get_contextvars().get("request_id", "")[:64]
    messages = OutboxMessage.objects.bulk_create(
        [
            OutboxMessage(task=task.name, kwargs=kwargs, created_at=now, request_id=request_id)
            for kwargs in calls
        ],
        batch_size=5000,
    )
    ids = [message.pk for message in messages]
    if ids:
        transaction.on_commit(lambda: outbox_dispatch(ids=ids))
    return messages


def _task_id(message_id: int, attempt: int) -> str:
    return f"{TASK_ID_PREFIX}{message_id}-{attempt}"


def _message_id(task_id: str | None) -> int | None:
    if not task_id or not task_id.startswith(TASK_ID_PREFIX):
        return None
    return int(task_id.removeprefix(TASK_ID_PREFIX).split("-", 1)[0])


def outbox_dispatch(*, ids: list[int]) -> int:
    """Publish the open rows among `ids`; return how many went out.

    A broker that cannot be reached stops the round: the rows left stay as they
    were, for the sweep to send once the broker is back.
    """
    sent: list[int] = []
    rows = OutboxMessage.objects.filter(pk__in=ids, status__in=OPEN).values_list(
        "pk", "task", "kwargs", "attempts", "request_id"
    )
    # Eager tasks run here, in-process: their own errors are theirs to raise, not the broker's.
    unreachable = () if current_app.conf.task_always_eager else (BrokerError, OSError)
    try:
        for message_id, name, kwargs, attempts, request_id in rows.order_by("pk").iterator():
            # django-structlog sends the bound id in the message's headers, and the worker
            # binds it again: the sweep's late sending keeps the request's id too.
            context = {"request_id": request_id} if request_id else {}
            try:
                with structlog.contextvars.bound_contextvars(**context):
                    current_app.tasks[name].apply_async(
                        kwargs=kwargs, task_id=_task_id(message_id, attempts + 1)
                    )
            except unreachable as exc:
                logger.warning("outbox: broker unreachable, %s left for the sweep: %s", name, exc)
                OutboxMessage.objects.filter(pk=message_id).update(
                    error=f"{type(exc).__name__}: {exc}"
                )
                break
            sent.append(message_id)
    finally:
        # One statement for the round, whatever stopped it.
        OutboxMessage.objects.filter(pk__in=sent).update(
            # An eager task has already finished here: its row is done, not merely sent.
            status=Case(
                When(status=OutboxStatus.DONE, then=Value(OutboxStatus.DONE)),
                default=Value(OutboxStatus.DISPATCHED),
            ),
            dispatched_at=timezone.now(),
            attempts=F("attempts") + 1,
        )
    return len(sent)


def outbox_sweep(*, now: dt.datetime | None = None) -> int:
    """Send what is due again: rows never sent, and rows sent but not finished in time.

    A row sent `OUTBOX_MAX_ATTEMPTS` times without finishing is given up (dead) and
    shown in the admin for a person. Finished rows older than the retention are
    deleted. Return how many rows were sent.
    """
    now = now or timezone.now()
    never_sent = Q(status=OutboxStatus.PENDING, created_at__lt=now - settings.OUTBOX_GRACE)
    stalled = Q(
        status=OutboxStatus.DISPATCHED, dispatched_at__lt=now - settings.OUTBOX_REDISPATCH_AFTER
    )
    OutboxMessage.objects.filter(stalled, attempts__gte=settings.OUTBOX_MAX_ATTEMPTS).update(
        status=OutboxStatus.DEAD, finished_at=now
    )
    due = list(
        OutboxMessage.objects.filter(never_sent | stalled)
        .order_by("pk")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    sent = outbox_dispatch(ids=due)
    OutboxMessage.objects.filter(
        status=OutboxStatus.DONE, finished_at__lt=now - settings.OUTBOX_RETENTION
    ).delete()
    return sent


def outbox_resend(*, ids: list[int]) -> int:
    """Send the rows `ids` again now, given up or not, with a fresh count; return how many."""
    OutboxMessage.objects.filter(pk__in=ids).exclude(status=OutboxStatus.DONE).update(
        status=OutboxStatus.PENDING, attempts=0, finished_at=None
    )
    return outbox_dispatch(ids=ids)


def outbox_oldest_pending() -> dt.datetime | None:
    """Return when the oldest row never sent was written, or None."""
    pending = OutboxMessage.objects.filter(status=OutboxStatus.PENDING)
    return pending.aggregate(oldest=Min("created_at"))["oldest"]


def outbox_tasks_by_status() -> list[tuple[str, str, int]]:
    """Return (task, status, rows) for every pair in the outbox, finished rows included
    until the sweep deletes them."""
    rows = OutboxMessage.objects.order_by().values_list("task", "status")
    return list(rows.annotate(n=Count("pk")))


def outbox_depth() -> dict:
    """Return the rows not yet finished, by status, and the oldest of them."""
    open_rows = OutboxMessage.objects.filter(status__in=OPEN)
    counts = open_rows.order_by().values_list("status").annotate(n=Count("pk"))
    by_status = dict(counts.values_list("status", "n"))
    return {
        "pending": by_status.get(OutboxStatus.PENDING, 0),
        "dispatched": by_status.get(OutboxStatus.DISPATCHED, 0),
        "dead": OutboxMessage.objects.filter(status=OutboxStatus.DEAD).count(),
        "oldest": open_rows.aggregate(oldest=Min("created_at"))["oldest"],
    }


@task_success.connect
def _finished(sender=None, **_kwargs) -> None:
    if (message_id := _message_id(sender.request.id)) is not None:
        OutboxMessage.objects.filter(pk=message_id).update(
            status=OutboxStatus.DONE, finished_at=timezone.now(), error=""
        )


@task_retry.connect
def _retrying(sender=None, request=None, **_kwargs) -> None:
    # Celery itself sends the task again, under the same id: the sweep's clock starts over, so
    # the sweep never sends a second copy of a follow-up whose retries are still under way.
    if (message_id := _message_id(getattr(request, "id", None))) is not None:
        OutboxMessage.objects.filter(pk=message_id, status=OutboxStatus.DISPATCHED).update(
            dispatched_at=timezone.now()
        )


@task_failure.connect
def _failed(sender=None, task_id=None, exception=None, **_kwargs) -> None:
    # The row stays open: the sweep sends it again once it has waited its turn.
    if (message_id := _message_id(task_id)) is not None:
        OutboxMessage.objects.filter(pk=message_id).update(
            error=f"{type(exception).__name__}: {exception}"[:5000]
        )
