"""Long tasks go in pieces: a reconciliation run a task per chunk, an import in slices, each
queuing its continuation; each chunk moves a heartbeat, by which the sweep resumes a row
whose worker died, and never one a live worker drives."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from claims.choices import ClaimStatus, RunState
from claims.long_tasks import (
    REPORT_IMPORT_DRIVER,
    driver_lock,
    long_tasks_resume_stale,
    report_import_run_slice,
)
from claims.models import (
    Claim,
    MarketplaceCompensation,
    ReconciliationRun,
    ReportImport,
    ReportImportStatus,
    ReportLine,
)
from claims.reconciliation.run import reconciliation_start
from claims.reports import importing
from claims.reports.importing import report_import_create, report_import_run
from claims.tasks import (
    reconciliation_chunk_task,
    reconciliation_nightly_task,
    reconciliation_report_make_task,
    reconciliation_run_task,
    report_import_run_task,
)
from policies.models import OutboxMessage
from tests import factories
from tests.claims.reports.test_importing import FROM_BUYER_AT_CANCEL, goods, logistics, week

pytestmark = pytest.mark.django_db

RECORDS = 6
LONG_AGO = dt.timedelta(hours=1)


def queued(task) -> list[dict]:
    return list(OutboxMessage.objects.filter(task=task.name).values_list("kwargs", flat=True))


def claims_with_compensation(
    count: int, status: str = ClaimStatus.AWAITING_COMPENSATION
) -> list[Claim]:
    claims = [factories.ClaimFactory(status=status, source="marketplace") for _ in range(count)]
    for claim in claims:
        factories.CompensationFactory(
            shipment=None,
            shipment_external_id=claim.shipment.external_id,
            seller=claim.seller,
            marketplace=claim.marketplace,
            amount=Decimal("4000.00"),
        )
    return claims


def stalled_run() -> ReconciliationRun:
    run = reconciliation_start(trigger="test")
    ReconciliationRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - LONG_AGO)
    return run


# the sweep


def test_a_run_with_a_fresh_heartbeat_is_not_resumed():
    claims_with_compensation(1)
    reconciliation_start(trigger="test")

    resumed = long_tasks_resume_stale()

    assert resumed == {"runs": [], "imports": []}
    assert queued(reconciliation_run_task) == []


def test_a_run_whose_heartbeat_stopped_is_resumed_once_and_not_again_while_it_beats():
    claims_with_compensation(1)
    run = stalled_run()

    first = long_tasks_resume_stale()
    again = long_tasks_resume_stale()
    later = long_tasks_resume_stale(now=timezone.now() + settings.LONG_TASK_STALE_AFTER * 2)

    assert first["runs"] == [run.pk]
    assert again["runs"] == []
    assert later["runs"] == [run.pk]
    assert queued(reconciliation_run_task) == [{"run_id": run.pk}] * 2


def test_a_run_from_before_heartbeats_counts_from_its_start():
    claims_with_compensation(1)
    run = reconciliation_start(trigger="test")
    ReconciliationRun.objects.filter(pk=run.pk).update(
        heartbeat_at=None, started_at=timezone.now() - LONG_AGO
    )

    assert long_tasks_resume_stale()["runs"] == [run.pk]


def test_finished_runs_are_never_resumed():
    run = stalled_run()
    ReconciliationRun.objects.filter(pk=run.pk).update(state=RunState.DONE)

    assert long_tasks_resume_stale()["runs"] == []


def report(seller) -> ReportImport:
    day = timezone.localdate() - dt.timedelta(days=1)
    shipments = [factories.ShipmentFactory(policy__seller=seller) for _ in range(3)]
    content = week(
        goods(9001, "7711.0.0", "Продажа", "Продажа", Decimal("1120.50"), day),
        *[
            logistics(9002 + n, s.external_id, FROM_BUYER_AT_CANCEL, Decimal("50"), day, returns=1)
            for n, s in enumerate(shipments)
        ],
        goods(9008, "7711.0.0", "Продажа", "Сторно продаж", Decimal("1120.50"), day),
    )
    return report_import_create(
        marketplace=seller.marketplace,
        seller=seller,
        content=content,
        filename="week.json",
        source="upload",
    )


@pytest.fixture
def seller():
    return factories.PolicyFactory(
        period_start=timezone.localdate() - dt.timedelta(days=90),
        period_end=timezone.localdate() + dt.timedelta(days=90),
    ).seller


def test_a_report_import_whose_heartbeat_stopped_is_resumed_and_a_live_one_is_not(seller):
    stalled, live = report(seller), report(seller)
    ReportImport.objects.filter(pk=stalled.pk).update(
        status=ReportImportStatus.RUNNING, heartbeat_at=timezone.now() - LONG_AGO
    )
    ReportImport.objects.filter(pk=live.pk).update(
        status=ReportImportStatus.RUNNING, heartbeat_at=timezone.now()
    )

    resumed = long_tasks_resume_stale()

    assert resumed == {"runs": [], "imports": [stalled.pk]}
    assert queued(report_import_run_task) == [{"import_id": stalled.pk}]


# slices


def test_a_run_task_queues_a_task_per_chunk_and_the_last_chunk_to_finish_ends_the_run():
    claims = claims_with_compensation(RECORDS)
    run = reconciliation_start(trigger="test", chunk=2)
    ReconciliationRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - LONG_AGO)

    assert reconciliation_run_task(run_id=run.pk) == RunState.RUNNING

    run.refresh_from_db()
    assert run.processed == 0
    assert run.heartbeat_at > timezone.now() - dt.timedelta(minutes=1)
    chunks = queued(reconciliation_chunk_task)
    records = MarketplaceCompensation.objects.values_list("pk", flat=True)
    assert sorted(c["cell"] for c in chunks) == sorted({(pk - 1) // 2 for pk in records})
    assert {c["run_id"] for c in chunks} == {run.pk}

    # Workers take chunks in any order; only the last one finishes the run.
    states = [reconciliation_chunk_task(**call) for call in reversed(chunks)]

    run.refresh_from_db()
    assert states == [RunState.RUNNING] * (len(chunks) - 1) + [RunState.DONE]
    assert (run.processed, run.matched, run.claims_released) == (6, 6, 6)
    assert queued(reconciliation_report_make_task) == [{"run_id": run.pk}]
    for claim in claims:
        assert claim.transitions.filter(transition="release").count() == 1


def test_a_run_spread_twice_counts_each_record_once_and_finishes_once():
    claims = claims_with_compensation(RECORDS)
    run = reconciliation_start(trigger="test", chunk=2)

    # A sweep beside a redelivered task: every chunk is queued twice.
    reconciliation_run_task(run_id=run.pk)
    reconciliation_run_task(run_id=run.pk)
    chunks = queued(reconciliation_chunk_task)
    for call in chunks:
        reconciliation_chunk_task(**call)

    run.refresh_from_db()
    assert len(chunks) == 2 * len({c["cell"] for c in chunks})
    assert (run.state, run.processed, run.matched, run.claims_released) == (
        RunState.DONE,
        6,
        6,
        6,
    )
    assert queued(reconciliation_report_make_task) == [{"run_id": run.pk}]
    assert reconciliation_run_task(run_id=run.pk) == RunState.DONE
    assert len(queued(reconciliation_chunk_task)) == len(chunks)
    for claim in claims:
        assert claim.transitions.filter(transition="release").count() == 1


def test_the_nightly_reconciliation_queues_its_run_instead_of_driving_it_in_its_own_message():
    claims_with_compensation(1)

    run_id = reconciliation_nightly_task()

    run = ReconciliationRun.objects.get(pk=run_id)
    assert (run.state, run.trigger, run.processed) == (RunState.RUNNING, "schedule", 0)
    assert queued(reconciliation_run_task) == [{"run_id": run_id}]


def test_a_report_import_in_slices_ends_as_one_uninterrupted_import(seller, monkeypatch):
    monkeypatch.setattr(importing, "CHUNK", 2)

    def state(imported) -> tuple:
        imported.refresh_from_db()
        lines = ReportLine.objects.filter(report=imported)
        return (
            sorted(lines.values_list("line", "key", "outcome", "reason", "counted")),
            imported.status,
            imported.outcomes,
            imported.processed,
            Claim.objects.count(),
        )

    with transaction.atomic():
        expected = state(report_import_run(import_id=report(seller).pk))
        transaction.set_rollback(True)
    assert expected[2] == {"netted": 2, "claim_opened": 3}

    sliced = report(seller)
    runs = 1
    while report_import_run(import_id=sliced.pk, seconds=0).status == ReportImportStatus.RUNNING:
        runs += 1

    assert runs > 2
    assert state(sliced) == expected
    assert sliced.heartbeat_at is not None


# one driver


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_import_task_beside_a_live_driver_of_its_import_returns_at_once_and_queues_nothing(
    seller,
):
    if connection.vendor != "postgresql":
        pytest.skip("the drivers' lock is PostgreSQL's; elsewhere tasks run in-process")
    imported = report(seller)
    holding, release = threading.Event(), threading.Event()

    def live_driver():
        try:
            with driver_lock(kind=REPORT_IMPORT_DRIVER, pk=imported.pk):
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=live_driver)
    thread.start()
    try:
        assert holding.wait(10)
        beside = report_import_run_slice(import_id=imported.pk)
    finally:
        release.set()
        thread.join(30)

    assert (beside.status, beside.processed) == (ReportImportStatus.PENDING, 0)
    assert queued(report_import_run_task) == []
    assert report_import_run_slice(import_id=imported.pk).status == ReportImportStatus.DONE
