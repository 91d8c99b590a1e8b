"""A reconciliation worker killed with SIGKILL mid-run: another finishes it, nothing twice."""

import os
import signal
import subprocess
from decimal import Decimal

import pytest
from celery import Celery
from django.db import connection

from claims.choices import ClaimStatus, RunState
from claims.models import Claim, MarketplaceCompensation, ReconciliationRun
from claims.reconciliation.run import reconciliation_start
from tests import factories
from tests.test_celery_worker import BROKER_URL, broker_reachable
from tests.workers import QUEUE, start_worker, wait_for

pytestmark = [
    pytest.mark.broker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
RECORDS = 300


def start_reconciliation_worker() -> subprocess.Popen:
    # Redelivery within seconds, so the second worker takes the killed one's task at once.
    return start_worker(
        broker_url=BROKER_URL,
        loglevel="warning",
        CELERY_VISIBILITY_TIMEOUT="3",
        CELERY_UNACKED_RESTORE_INTERVAL="1",
        CELERY_UNACKED_RESTORE_THROTTLE="1",
    )


def test_a_killed_worker_leaves_a_run_another_one_finishes_exactly():
    if not broker_reachable():
        pytest.skip(f"NO BROKER REACHABLE at {BROKER_URL}: the crash test did not run")
    if connection.vendor != "postgresql":
        pytest.skip("worker processes need a shared database: runs in CI's PostgreSQL pass")
    policy = factories.PolicyFactory()
    for n in range(RECORDS):
        claim = factories.ClaimFactory(
            status=ClaimStatus.UNDER_REVIEW,
            shipment=factories.ShipmentFactory(policy=policy, external_id=f"crash-{n}"),
        )
        factories.CompensationFactory(
            shipment=None,
            shipment_external_id=claim.shipment.external_id,
            seller=claim.seller,
            marketplace=claim.marketplace,
            amount=Decimal("100.00"),
        )
    run = reconciliation_start(trigger="test", chunk=2)
    producer = Celery(broker=BROKER_URL, set_as_current=False)
    producer.conf.task_default_queue = QUEUE
    producer.control.purge()
    first = start_reconciliation_worker()
    second = None
    try:
        producer.send_task(
            "claims.tasks.reconciliation_run_task",
            kwargs={"run_id": run.pk},
            queue=QUEUE,
        )
        started = wait_for(lambda: ReconciliationRun.objects.get(pk=run.pk).cursor > 0, 60)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        interrupted = ReconciliationRun.objects.get(pk=run.pk)
        second = start_reconciliation_worker()
        finished = wait_for(
            lambda: ReconciliationRun.objects.get(pk=run.pk).state == RunState.DONE, 90
        )
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                worker.terminate()
                worker.wait(15)
        output = "\n".join(w.stdout.read()[-2000:] for w in (first, second) if w is not None)

    run.refresh_from_db()
    assert started, output
    assert interrupted.state == RunState.RUNNING and interrupted.processed < RECORDS, output
    assert finished, output
    assert (run.total, run.processed, run.matched, run.unmatched) == (RECORDS, RECORDS, RECORDS, 0)
    assert MarketplaceCompensation.objects.filter(claim=None).count() == 0
    assert set(Claim.objects.values_list("compensation_amount", flat=True)) == {Decimal("100.00")}
