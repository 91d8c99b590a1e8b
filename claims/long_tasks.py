"""The long tasks, a reconciliation run and a report import, on workers that may die.

No task message is held for longer than the broker's visibility timeout, which can then be
minutes: a reconciliation run is a task per chunk (claims/reconciliation/run.py), and an
import task drives its row for a slice (`LONG_TASK_SLICE_SECONDS`), then queues its
continuation through the outbox and returns. Every chunk moves the row's heartbeat in its
own transaction; a row still running whose heartbeat stopped for `LONG_TASK_STALE_AFTER`
lost its worker, and `long_tasks_resume_stale` (on the beat schedule) queues its
continuation. Both resume from what their rows say was done. One driver of an import at a
time: a task that finds another driving it (a message redelivered or resumed beside a live
one) returns at once.
"""

import contextlib
import datetime as dt
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from claims.choices import RunState
from claims.models import ReconciliationRun, ReportImport, ReportImportStatus
from claims.reports.importing import report_import_run
from claims.tasks import reconciliation_run_task, report_import_run_task
from policies.outbox import outbox_enqueue, outbox_enqueue_many

# The high half of a driver's advisory lock key, the row's id the low half. One bigint key:
# PostgreSQL keeps it apart from the (run, cell) pairs the chunks of a run lock.
REPORT_IMPORT_DRIVER = 2


@contextlib.contextmanager
def driver_lock(*, kind: int, pk: int) -> Iterator[bool]:
    """Hold the lock of the one driver of row `pk` for the block; yield whether it was free.

    A PostgreSQL session lock: it goes with the connection of a worker that dies. Without
    PostgreSQL (SQLite, tasks run in-process) there is one driver anyway.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    key = kind << 32 | pk
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        [free] = cursor.fetchone()
    try:
        yield free
    finally:
        # A connection lost meanwhile took the lock with it.
        if free:
            with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def report_import_run_slice(*, import_id: int) -> ReportImport:
    """Drive the import for a slice as its one driver, then queue the rest; return it."""
    with driver_lock(kind=REPORT_IMPORT_DRIVER, pk=import_id) as alone:
        if not alone:
            return ReportImport.objects.get(pk=import_id)
        imported = report_import_run(import_id=import_id, seconds=settings.LONG_TASK_SLICE_SECONDS)
    if imported.status == ReportImportStatus.RUNNING:
        with transaction.atomic():
            outbox_enqueue(task=report_import_run_task, import_id=import_id)
    return imported


def long_tasks_resume_stale(*, now: dt.datetime | None = None) -> dict[str, list[int]]:
    """Queue a continuation of every run and import whose heartbeat stopped; return their ids.

    Their heartbeat is set to now with it: the next sweeps leave each to its continuation
    for another `LONG_TASK_STALE_AFTER`, so a sweep never adds a second driver to a row
    that a live one drives.
    """
    now = now or timezone.now()
    cutoff = now - settings.LONG_TASK_STALE_AFTER
    with transaction.atomic():
        runs = _claim_stale(
            ReconciliationRun.objects.filter(state=RunState.RUNNING), "started_at", cutoff, now
        )
        imports = _claim_stale(
            ReportImport.objects.filter(status=ReportImportStatus.RUNNING),
            "created_at",
            cutoff,
            now,
        )
        outbox_enqueue_many(task=reconciliation_run_task, calls=[{"run_id": pk} for pk in runs])
        outbox_enqueue_many(
            task=report_import_run_task, calls=[{"import_id": pk} for pk in imports]
        )
    return {"runs": runs, "imports": imports}


def _claim_stale(rows: QuerySet, since: str, cutoff: dt.datetime, now: dt.datetime) -> list[int]:
    """Return the ids of `rows` not heard from since `cutoff`, their heartbeat set to `now`."""
    # A row whose chunk is committing is locked, and alive.
    stale = list(
        rows.annotate(alive=Coalesce("heartbeat_at", since))
        .filter(alive__lt=cutoff)
        .select_for_update(skip_locked=True)
        .values_list("pk", flat=True)
    )
    rows.filter(pk__in=stale).update(heartbeat_at=now)
    return stale
