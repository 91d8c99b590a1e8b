"""A real Redis stops while a marketplace's bulk and a seller's filing commit: both succeed,
and once Redis is back every follow-up runs, exactly once, on a real worker."""

import contextlib
import datetime as dt
import shutil
import socket
import subprocess
import time

import pytest
import redis
from celery import current_app
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from kombu import pools
from rest_framework.test import APIClient

from claims.choices import ClaimStatus
from claims.models import Claim, ClaimTransition
from policies import outbox
from policies.choices import DocumentKind, OutboxStatus
from policies.models import Document, OutboxMessage
from tests import factories
from tests.workers import running_worker, wait_for

pytestmark = [
    pytest.mark.broker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class OwnRedis:
    """A Redis of this test's own on a free port, which the test may stop and start."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                if redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping():
                    return
            time.sleep(0.1)
        raise RuntimeError("the test's Redis did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def own_redis():
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed: the broker-outage test did not run")
    if connection.vendor != "postgresql":
        pytest.skip(
            "the worker process cannot open the in-memory SQLite test database; "
            "this test runs in CI's PostgreSQL pass"
        )
    server = OwnRedis()
    server.start()
    conf = current_app.conf
    saved = conf.task_always_eager, conf.broker_url
    conf.task_always_eager, conf.broker_url = False, server.url
    reconnect()
    yield server
    server.stop()
    conf.task_always_eager, conf.broker_url = saved
    reconnect()


def reconnect() -> None:
    """Drop the app's pooled broker connections, so the next publish uses `broker_url`."""
    current_app._pool = None
    current_app.amqp._producer_pool = None
    # Kombu keeps one pool per broker URL, closed or not, and would hand a closed one back
    # to the next test publishing to that URL (eager tasks too take a producer from it).
    pools.reset()


def test_a_broker_outage_loses_no_follow_up_and_fails_no_request(own_redis, monkeypatch, client):
    key = factories.MarketplaceApiKeyFactory()
    shipments = [
        factories.ShipmentFactory(policy__seller__marketplace=key.marketplace) for _ in range(20)
    ]
    seller_user = factories.SellerUserFactory(seller=shipments[0].seller)
    own = factories.ShipmentFactory(policy__seller=seller_user.seller)

    # Redis dies between the commit and the publishing of what follows it.
    real_dispatch = outbox.outbox_dispatch

    def dispatch_after_redis_died(*, ids):
        own_redis.stop()
        return real_dispatch(ids=ids)

    monkeypatch.setattr(outbox, "outbox_dispatch", dispatch_after_redis_died)
    occurred = (timezone.now() - dt.timedelta(days=1)).isoformat()
    api = APIClient(HTTP_AUTHORIZATION=f"Api-Key {key.raw_key}")
    bulk = api.post(
        "/api/v1/shipment-events/bulk/",
        {
            "items": [
                {
                    "external_id": f"ev-{n}",
                    "shipment": shipment.external_id,
                    "kind": "non_buyout",
                    "occurred_at": occurred,
                    "amount": "50.00",
                }
                for n, shipment in enumerate(shipments)
            ]
        },
        format="json",
    )
    client.force_login(seller_user)
    filing = client.post(
        reverse("seller:claim_new"),
        {
            "shipment": own.external_id,
            "peril": "damage",
            "event_date": (timezone.localdate() - dt.timedelta(days=2)).isoformat(),
            "claimed_amount": "12000,00",
            "description": "Коробка смята",
            "submit": "1",
        },
    )
    monkeypatch.setattr(outbox, "outbox_dispatch", real_dispatch)

    assert bulk.status_code == 200, bulk.content
    assert all(item["status"] == "created" and item["claim"] for item in bulk.json()["results"])
    assert filing.status_code == 302
    claims = list(Claim.objects.all())
    assert len(claims) == 21
    assert {c.status for c in claims} == {ClaimStatus.SUBMITTED}
    assert not OutboxMessage.objects.exclude(status=OutboxStatus.PENDING).exists()

    own_redis.start()
    with running_worker(broker_url=own_redis.url) as log:
        # The sweep finds the rows that waited, as the beat schedule would.
        outbox.outbox_sweep(now=timezone.now() + dt.timedelta(minutes=1))
        settled = wait_for(
            lambda: (
                not Claim.objects.filter(status=ClaimStatus.SUBMITTED).exists()
                and Document.objects.filter(kind=DocumentKind.CLAIM_ACKNOWLEDGEMENT).count() == 21
                and not OutboxMessage.objects.exclude(status=OutboxStatus.DONE).exists()
            ),
            90,
        )
    assert settled, log["output"][-4000:]

    for claim in Claim.objects.all():
        assert ClaimTransition.objects.filter(claim=claim, transition="triage").count() == 1
        assert claim.documents.filter(kind=DocumentKind.CLAIM_ACKNOWLEDGEMENT).count() == 1
    # Straight-through non-buyouts are paid by the follow-up of their triage.
    assert Claim.objects.filter(status=ClaimStatus.PAID).count() == 20
    assert Claim.objects.get(shipment=own).status == ClaimStatus.AWAITING_COMPENSATION
