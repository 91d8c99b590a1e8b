"""A claim's follow-ups through a real worker on each broker, Redis and RabbitMQ: the filing's
follow-ups wait in their own queues, then triage, straight-through payment, the documents
and the webhooks all run, and every outbox row finishes."""

import datetime as dt
import json
import os
import threading
from collections import Counter
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis
from celery import current_app
from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu import Connection
from rest_framework.test import APIClient

from claims.choices import ClaimStatus
from claims.models import Claim, Payout
from policies.choices import DocumentKind, OutboxStatus
from policies.models import Document, Marketplace, OutboxMessage
from tests import factories
from tests.test_celery_worker import BROKER_URL
from tests.workers import publishing_to, running_worker, wait_for

pytestmark = [
    pytest.mark.broker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
# The default vhost of the RabbitMQ on this machine; CELERY_TEST_AMQP_URL names another.
AMQP_URL = os.environ.get("CELERY_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
BROKERS = {"redis": BROKER_URL, "rabbitmq": AMQP_URL}


def unreachable(url: str) -> str | None:
    """Return why the broker at `url` cannot be used, or None."""
    try:
        with Connection(url, connect_timeout=2) as probe:
            probe.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # each transport raises its own connection errors
        return f"{type(exc).__name__}: {exc}"
    return None


def waiting(url: str, queue: str) -> int:
    """Return how many messages wait in `queue` (0 if it holds none, or does not exist)."""
    with Connection(url) as probe:
        try:
            return probe.default_channel.queue_declare(queue=queue, passive=True).message_count
        except probe.channel_errors:
            return 0


class Receiver(BaseHTTPRequestHandler):
    """The marketplace's webhook endpoint: answers 200 and keeps each body."""

    received: list

    def do_POST(self):
        self.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(params=list(BROKERS))
def broker(request):
    """Publish this process's follow-ups to the real broker, as a web process does."""
    url = BROKERS[request.param]
    if reason := unreachable(url):
        pytest.skip(f"NO {request.param.upper()} REACHABLE at {url} ({reason}): did not run")
    if connection.vendor != "postgresql":
        pytest.skip("the worker process needs a shared database: runs in CI's PostgreSQL pass")
    with publishing_to(url):
        yield url
        current_app.control.purge()
    if url.startswith("redis://"):
        redis.Redis.from_url(url).flushdb()


@pytest.fixture
def receiver():
    handler = type("Handler", (Receiver,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, handler.received
    server.shutdown()
    server.server_close()


def test_a_claims_follow_ups_run_on_their_queues_through_a_real_worker(broker, receiver, tmp_path):
    server, received = receiver
    key = factories.MarketplaceApiKeyFactory()
    Marketplace.objects.filter(pk=key.marketplace_id).update(
        webhook_url=f"http://127.0.0.1:{server.server_port}/hook"
    )
    shipment = factories.ShipmentFactory(policy__seller__marketplace=key.marketplace)
    api = APIClient(HTTP_AUTHORIZATION=f"Api-Key {key.raw_key}")

    answer = api.post(
        "/api/v1/shipment-events/",
        {
            "external_id": "ev-1",
            "shipment": shipment.external_id,
            "kind": "non_buyout",
            "occurred_at": (timezone.now() - dt.timedelta(days=1)).isoformat(),
            "amount": "50.00",
        },
        format="json",
    )
    assert answer.status_code == 201, answer.content
    claim = Claim.objects.get(number=answer.json()["claim"])
    # Published after the commit, each to its own queue, and no worker has taken them yet.
    routed = Counter(
        settings.TASK_LIMITS[task][0]
        for task in OutboxMessage.objects.values_list("task", flat=True)
    )
    queued = {queue: waiting(broker, queue) for queue in routed}

    with running_worker(
        broker_url=broker, PRIVATE_MEDIA_ROOT=str(tmp_path / "media"), EMAIL_URL="dummymail://"
    ) as log:
        settled = wait_for(
            lambda: (
                Document.objects.filter(claim=claim, kind=DocumentKind.SETTLEMENT_ACT).exists()
                and any(body["claim"] == claim.number and body["to"] == "paid" for body in received)
                and not OutboxMessage.objects.exclude(status=OutboxStatus.DONE).exists()
            ),
            120,
        )

    assert queued == routed
    assert routed["interactive"] >= 1 and routed["documents"] == 1
    assert settled, log["output"][-4000:]
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PAID
    assert Payout.objects.get(claim=claim).amount == Decimal("50.00")
    assert set(claim.documents.values_list("kind", flat=True)) == {
        DocumentKind.CLAIM_ACKNOWLEDGEMENT,
        DocumentKind.SETTLEMENT_ACT,
    }
    # Deliveries leave from separate tasks and may arrive in any order; `at` orders them.
    transitions = [
        (body["from"], body["to"])
        for body in sorted(received, key=lambda body: dt.datetime.fromisoformat(body["at"]))
        if body["claim"] == claim.number
    ]
    assert transitions[-1][1] == "paid"
    assert {task for task in OutboxMessage.objects.values_list("task", flat=True)} >= {
        "claims.tasks.claims_triage_task",
        "claims.tasks.claim_pay_task",
        "claims.tasks.claim_acknowledgement_make_task",
        "claims.tasks.settlement_act_make_task",
        "claims.tasks.webhook_deliver_task",
    }
