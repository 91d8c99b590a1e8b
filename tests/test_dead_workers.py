"""Whole Celery workers killed with SIGKILL, main process and pool: a reconciliation run is
resumed by the sweep (its other chunks by any worker) and counts every record once; a
webhook whose send was cut short is on record and goes out again under the same delivery
id."""

import contextlib
import datetime as dt
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import redis
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from claims.choices import ClaimStatus, RunState
from claims.long_tasks import long_tasks_resume_stale
from claims.models import (
    Claim,
    ClaimTransition,
    MarketplaceCompensation,
    Payout,
    ReconciliationRun,
    WebhookAttemptState,
    WebhookDelivery,
    WebhookStatus,
)
from claims.outputs.webhooks import webhook_attempt
from claims.reconciliation.run import reconciliation_start
from claims.tasks import reconciliation_run_task, webhook_deliver_task
from policies.models import Marketplace
from policies.outbox import outbox_enqueue
from tests import factories
from tests.test_celery_worker import BROKER_URL, broker_reachable
from tests.workers import kill_worker, publishing_to, start_worker, stop_worker, wait_for

pytestmark = [
    pytest.mark.broker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
RECORDS = 300
CHUNK = 2
# The chunk the first worker is inside when it is killed, counted from the run's first.
HELD_CELL = 20
# No redelivery by the broker within the test: only the sweep may resume a killed run.
WORKER = {
    "pool": "prefork",
    "loglevel": "warning",
    "CELERY_VISIBILITY_TIMEOUT": "3600",
    "OUTBOX_REDISPATCH_AFTER_SECONDS": "3600",
}


@pytest.fixture
def broker():
    """Publish this process's follow-ups to the real broker, as a web process does."""
    if not broker_reachable():
        pytest.skip(f"NO BROKER REACHABLE at {BROKER_URL}: the dead-worker tests did not run")
    if connection.vendor != "postgresql":
        pytest.skip("worker processes need a shared database: runs in CI's PostgreSQL pass")
    workers = []
    with publishing_to(BROKER_URL):
        yield workers
        for worker in workers:
            if worker.poll() is None:
                stop_worker(worker)
    # The killed worker's message stays unacknowledged in Redis; no later test may get it.
    redis.Redis.from_url(BROKER_URL).flushdb()


@contextlib.contextmanager
def advisory_lock(*key: int):
    """Hold the session advisory lock `key` on the test's connection for the block."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", key)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)


def waiting_on(*key: int) -> bool:
    """Return whether another session waits for the two-key advisory lock `key`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND classid = %s AND objid = %s AND objsubid = 2)",
            key,
        )
        return cursor.fetchone()[0]


def test_a_run_whose_whole_worker_was_killed_is_resumed_by_the_sweep_exactly_once(broker):
    policy = factories.PolicyFactory()
    claims = [
        factories.ClaimFactory(
            status=ClaimStatus.AWAITING_COMPENSATION,
            source="marketplace",
            shipment=factories.ShipmentFactory(policy=policy, external_id=f"dead-{n}"),
        )
        for n in range(RECORDS)
    ]
    for claim in claims:
        factories.CompensationFactory(
            shipment=None,
            shipment_external_id=claim.shipment.external_id,
            seller=claim.seller,
            marketplace=claim.marketplace,
            amount=Decimal("100.00"),
        )
    with transaction.atomic():
        run = reconciliation_start(trigger="test", chunk=CHUNK)
        outbox_enqueue(task=reconciliation_run_task, run_id=run.pk)
    worker = start_worker(broker_url=BROKER_URL, **WORKER)
    broker.append(worker)
    # The first worker is killed inside a chunk, so the broker holds that chunk's message for
    # it: killed between two chunks, it would hold none, and the run would end without the
    # sweep. The chunk waits on its lock, which the test holds.
    # Ids go on from earlier tests: the run's chunks are counted from its first record's.
    first = MarketplaceCompensation.objects.order_by("pk").first().pk
    cell = (first - 1) // CHUNK + HELD_CELL
    before = MarketplaceCompensation.objects.filter(pk__lte=cell * CHUNK).count()
    inside = MarketplaceCompensation.objects.filter(
        pk__gt=cell * CHUNK, pk__lte=(cell + 1) * CHUNK
    ).count()
    with advisory_lock(run.pk, cell):
        held = wait_for(lambda: waiting_on(run.pk, cell), 60)
        output = kill_worker(worker)
    interrupted = ReconciliationRun.objects.get(pk=run.pk)
    second = start_worker(broker_url=BROKER_URL, **WORKER)
    broker.append(second)
    # The new worker takes the chunks still queued, but the chunk the killed one held stays
    # with the broker for an hour: the run cannot end before the sweep.
    drained = wait_for(
        lambda: ReconciliationRun.objects.get(pk=run.pk).processed == RECORDS - inside, 90
    )
    unnoticed = ReconciliationRun.objects.get(pk=run.pk).state != RunState.DONE
    # A chunk committing locks the run, and a sweep skips it as alive: the beat's next sweep
    # takes it.
    sweeps = []
    wait_for(
        lambda: (
            sweeps.append(
                long_tasks_resume_stale(now=timezone.now() + settings.LONG_TASK_STALE_AFTER * 2)
            )
            or sweeps[-1]["runs"]
        ),
        30,
    )
    # A second sweep finds the run's heartbeat fresh: no second driver.
    again = long_tasks_resume_stale()
    finished = wait_for(
        lambda: ReconciliationRun.objects.get(pk=run.pk).state == RunState.DONE, 120
    )
    output += stop_worker(second)

    assert held, output[-3000:]
    assert interrupted.state == RunState.RUNNING, output[-3000:]
    assert interrupted.processed == before, output[-3000:]
    assert drained and unnoticed, output[-3000:]
    assert sweeps[-1]["runs"] == [run.pk] and again["runs"] == []
    assert finished, output[-3000:]
    run.refresh_from_db()
    assert (run.total, run.processed, run.matched, run.unmatched) == (RECORDS, RECORDS, RECORDS, 0)
    assert run.claims_released == RECORDS
    assert not MarketplaceCompensation.objects.filter(claim=None).exists()
    assert set(MarketplaceCompensation.objects.values_list("run", flat=True)) == {run.pk}
    assert set(Claim.objects.values_list("compensation_amount", flat=True)) == {Decimal("100.00")}
    releases = ClaimTransition.objects.filter(transition="release")
    assert releases.count() == RECORDS
    assert releases.values("claim").distinct().count() == RECORDS
    assert Payout.objects.count() == Payout.objects.values("claim").distinct().count()


class HangingReceiver(BaseHTTPRequestHandler):
    """Answers the first request only once the test lets it, so its worker dies meanwhile."""

    received: list
    arrived: threading.Event
    answer: threading.Event

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(self.headers["X-Sellercover-Delivery"])
        self.arrived.set()
        self.answer.wait(30)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_webhook_whose_worker_was_killed_mid_send_is_on_record_and_goes_out_again_as_one(
    broker,
):
    handler = type(
        "Handler",
        (HangingReceiver,),
        {"received": [], "arrived": threading.Event(), "answer": threading.Event()},
    )
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/hook"
    delivery = factories.WebhookDeliveryFactory(url=url)
    Marketplace.objects.filter(pk=delivery.marketplace_id).update(webhook_url=url)
    worker = start_worker(broker_url=BROKER_URL, **WORKER)
    broker.append(worker)
    try:
        with transaction.atomic():
            outbox_enqueue(task=webhook_deliver_task, delivery_id=delivery.pk)
        arrived = handler.arrived.wait(60)
        output = kill_worker(worker)
        handler.answer.set()
        delivery.refresh_from_db()
        cut_short = (delivery.status, delivery.attempts, list(delivery.log.values("state")))

        # Its lease ran out: the next attempt is due.
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=timezone.now() - dt.timedelta(seconds=1)
        )
        webhook_attempt(delivery_id=delivery.pk)
    finally:
        handler.answer.set()
        server.shutdown()
        server.server_close()

    assert arrived, output[-3000:]
    assert cut_short == (WebhookStatus.PENDING, 1, [{"state": WebhookAttemptState.SENDING}])
    assert handler.received == [str(delivery.uid)] * 2
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (WebhookStatus.DELIVERED, 2)
    assert list(delivery.log.values_list("state", flat=True)) == [
        WebhookAttemptState.INTERRUPTED,
        WebhookAttemptState.SUCCEEDED,
    ]
