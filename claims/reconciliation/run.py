"""A reconciliation run: count the marketplace's compensation on claims, chunk by chunk.

A run takes the compensation records not yet counted on a claim, up to the newest id when
it starts, and works through them in chunks of ids, each one transaction of the statements
in `claims.reconciliation.sql`. A chunk takes only records no run has examined, and the
run's counts move in the same transaction as the chunk: killed anywhere, the run resumes
where it stopped and counts nothing twice. On workers, each chunk is a task of its own
(`reconciliation_spread` queues them), so every worker on every machine shares one run,
and the chunk that finds nothing left finishes it; `reconciliation_run` drives a run in
one process instead, on PostgreSQL `workers` chunks side by side on connections of their
own. Each chunk also moves the run's heartbeat, by which a run whose worker died is found
and resumed (claims/long_tasks.py).
"""

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from django.db import connection, transaction
from django.db.models import F, Max, Min, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from claims.choices import (
    RunState,
)
from claims.models import (
    MarketplaceCompensation,
    ReconciliationRun,
)
from claims.reconciliation.sql import (
    CLAIMS,
    STAGE,
    assess_claims,
    log_releases,
    mark_records,
    raise_recoveries,
    record_discrepancies,
    stage_records,
    update_claims,
)
from claims.tasks import (
    reconciliation_chunk_task,
    reconciliation_report_make_task,
    reconciliation_run_task,
)
from policies.outbox import outbox_enqueue, outbox_enqueue_many

# Larger chunks spread the per-chunk sums of payouts and the commit over more rows;
# memory grows with the chunk (about 210 MiB peak at this size, two at once), not the run.
CHUNK = ReconciliationRun._meta.get_field("chunk").default


@dataclass
class ChunkCounts:
    processed: int = 0
    matched: int = 0
    discrepancies: int = 0
    recoveries: int = 0
    released: int = 0


def reconciliation_start(*, trigger: str, user=None, chunk: int = CHUNK) -> ReconciliationRun:
    """Return the run under way, or a new one over the records not yet counted, in chunks
    of `chunk` records."""
    with transaction.atomic():
        running = ReconciliationRun.objects.select_for_update().filter(state=RunState.RUNNING)
        if run := running.first():
            return run
        # A record is examined once; one left without a claim is attached when a
        # claim for its shipment is filed later (claims/matching.py).
        pending = MarketplaceCompensation.objects.filter(run=None, claim=None)
        bounds = pending.aggregate(low=Min("pk"), top=Max("pk"))
        now = timezone.now()
        return ReconciliationRun.objects.create(
            state=RunState.RUNNING,
            trigger=trigger,
            triggered_by=user,
            started_at=now,
            heartbeat_at=now,
            total=pending.count(),
            cursor=(bounds["low"] or 1) - 1,
            upper_bound=bounds["top"] or 0,
            chunk=chunk,
        )


def reconciliation_request(*, trigger: str, user=None) -> ReconciliationRun:
    """Start a run (or return the one under way) and queue its work for a worker."""
    with transaction.atomic():
        run = reconciliation_start(trigger=trigger, user=user)
        outbox_enqueue(task=reconciliation_run_task, run_id=run.pk)
    return run


def reconciliation_run(
    *, run_id: int, workers: int = 1, seconds: float | None = None
) -> ReconciliationRun:
    """Work through the run's records, `workers` chunks at a time; return the run when done.

    Chunks are the run's fixed slices of ids, and what is left to do is read
    from the records themselves (not yet examined), so any number of drivers,
    started anew after a crash or side by side, share the work and do each
    record once. With `seconds`, no chunk but the first begins after that many
    seconds, and the run is returned still running for a continuation to go on.
    """
    run = ReconciliationRun.objects.get(pk=run_id)
    # SQLite lets one writer in at a time: a second connection would only wait. Inside a
    # transaction, another connection would not see what it has not committed.
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        workers = 1
    deadline = None if seconds is None else time.monotonic() + seconds
    begun = False
    while run.state == RunState.RUNNING and (first := _first_pending(run)) is not None:
        if begun and _past(deadline):
            return run
        begun = True
        _each(
            [
                partial(_reconcile_chunk, run_id=run.pk, cell=cell, chunk=run.chunk)
                for cell in _cells(run, first)
            ],
            workers=workers,
            deadline=deadline,
        )
        run.refresh_from_db()
    return _finish_if_done(run_id)


def reconciliation_spread(*, run_id: int) -> ReconciliationRun:
    """Queue a task for each chunk of the run with records left (or finish the run if none
    is left); return the run.

    Spread twice (a sweep beside a redelivered task), a chunk is queued twice: the second
    task waits for the first and then finds its records examined.
    """
    run = ReconciliationRun.objects.get(pk=run_id)
    if run.state != RunState.RUNNING:
        return run
    first = _first_pending(run)
    if first is None:
        return _finish_if_done(run_id)
    with transaction.atomic():
        ReconciliationRun.objects.filter(pk=run_id).update(heartbeat_at=timezone.now())
        outbox_enqueue_many(
            task=reconciliation_chunk_task,
            calls=[{"run_id": run_id, "cell": cell} for cell in _cells(run, first)],
        )
    return run


def reconciliation_chunk(*, run_id: int, cell: int) -> ReconciliationRun:
    """Reconcile one chunk of the run; return the run, finished if nothing is left."""
    run = ReconciliationRun.objects.get(pk=run_id)
    if run.state == RunState.RUNNING:
        _reconcile_chunk(run_id=run_id, cell=cell, chunk=run.chunk)
    return _finish_if_done(run_id)


def _finish_if_done(run_id: int) -> ReconciliationRun:
    """Mark the run done, its report queued, once no record of it is left; return the run.

    Chunks finishing at once may all find nothing left: the row lock lets one finish it.
    """
    with transaction.atomic():
        run = ReconciliationRun.objects.select_for_update().get(pk=run_id)
        if run.state == RunState.RUNNING and _first_pending(run) is None:
            run.unmatched = max(0, run.total - run.matched)
            run.state = RunState.DONE
            run.finished_at = timezone.now()
            run.save()
            outbox_enqueue(task=reconciliation_report_make_task, run_id=run_id)
    return run


def _first_pending(run: ReconciliationRun) -> int | None:
    pending = MarketplaceCompensation.objects.filter(run=None, claim=None, pk__lte=run.upper_bound)
    return pending.aggregate(first=Min("pk"))["first"]


def _cells(run: ReconciliationRun, first: int) -> range:
    """Return the run's chunks from the one holding record `first` to its last."""
    return range((first - 1) // run.chunk, (run.upper_bound - 1) // run.chunk + 1)


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def _each(calls: list, *, workers: int, deadline: float | None = None) -> None:
    """Make the calls, `workers` at a time, each thread on a database connection of its own;
    those that would begin after `deadline` are left, but the first `workers` always run."""
    if workers == 1 or len(calls) == 1:
        for n, call in enumerate(calls):
            if n and _past(deadline):
                return
            call()
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(_on_own_connection, call, None if n < workers else deadline)
            for n, call in enumerate(calls)
        ]
        try:
            for future in futures:
                future.result()
        except BaseException:
            # The run is failed by its caller: the chunks not yet begun need not run first.
            for future in futures:
                future.cancel()
            raise


def _on_own_connection(call, deadline: float | None) -> None:
    if _past(deadline):
        return
    try:
        call()
    finally:
        connection.close()


@transaction.atomic
def _reconcile_chunk(*, run_id: int, cell: int, chunk: int) -> None:
    """Reconcile the records with ids in (cell × chunk, (cell + 1) × chunk] not yet examined."""
    now = timezone.now()
    counts = ChunkCounts()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Two drivers of one run (a redelivered task beside a live one) take turns on a
            # chunk: the second then finds its records examined and counts nothing.
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [run_id, cell])
            # Index lookups and small joins: compiling them costs more than it saves.
            cursor.execute("SET LOCAL jit = off")
        # A run this connection cannot see at all is an error, not work done.
        state, upper_bound = (
            ReconciliationRun.objects.filter(pk=run_id).values_list("state", "upper_bound").get()
        )
        if state != RunState.RUNNING:
            return
        hi = min((cell + 1) * chunk, upper_bound)
        stage_records(cursor, cell * chunk, hi)
        cursor.execute(f"SELECT COUNT(*), COUNT(claim_id) FROM {STAGE}")
        counts.processed, counts.matched = cursor.fetchone()
        mark_records(cursor, run_id, now)
        counts.discrepancies = record_discrepancies(cursor, run_id)
        if counts.matched:
            assess_claims(cursor)
            update_claims(cursor, now)
            counts.recoveries = raise_recoveries(cursor, now)
            counts.released = log_releases(cursor, now)
            cursor.execute(f"DROP TABLE {CLAIMS}")
        cursor.execute(f"DROP TABLE {STAGE}")
        if connection.vendor == "postgresql":
            # Check the foreign keys now, while the run's row is not yet locked below, so
            # the other chunk's driver does not wait for those checks at this commit.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    ReconciliationRun.objects.filter(pk=run_id).update(
        heartbeat_at=timezone.now(),
        cursor=Greatest("cursor", Value(hi)),
        processed=F("processed") + counts.processed,
        matched=F("matched") + counts.matched,
        discrepancies_found=F("discrepancies_found") + counts.discrepancies,
        recoveries_raised=F("recoveries_raised") + counts.recoveries,
        claims_released=F("claims_released") + counts.released,
    )


def reconciliation_fail(*, run_id: int, error: str) -> None:
    ReconciliationRun.objects.filter(pk=run_id, state=RunState.RUNNING).update(
        state=RunState.FAILED, error=error[:5000], finished_at=timezone.now()
    )
