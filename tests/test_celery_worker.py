"""A real Celery worker process takes a task from the real broker and runs the domain."""

import os
import time

import pytest
import redis
from celery import Celery
from django.db import connection

from claims.choices import ClaimStatus
from claims.models import ClaimTransition
from tests import factories
from tests.workers import QUEUE, running_worker


def _broker_url() -> str:
    """Return the test broker: under xdist, a Redis database per test process, so the
    real-worker tests of two processes never purge or take each other's tasks."""
    url = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
    process = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    base, _, number = url.rpartition("/")
    if not (url.startswith("redis://") and number.isdigit() and process.isdigit()):
        return url
    # Every other database down from the given one: the benchmarks' smoke tests purge 14.
    return f"{base}/{(int(number) - 2 * int(process)) % 16}"


BROKER_URL = _broker_url()


def broker_reachable() -> bool:
    try:
        return redis.Redis.from_url(BROKER_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


pytestmark = [
    pytest.mark.broker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_worker_consumes_triage_from_the_broker():
    if not broker_reachable():
        pytest.skip(f"NO BROKER REACHABLE at {BROKER_URL}: the real-worker test did not run")
    if connection.vendor != "postgresql":
        pytest.skip(
            "the worker process cannot open the in-memory SQLite test database; "
            "this test runs in CI's PostgreSQL pass"
        )
    claim = factories.ClaimFactory(status=ClaimStatus.SUBMITTED)
    producer = Celery(broker=BROKER_URL, set_as_current=False)
    producer.conf.task_default_queue = QUEUE
    producer.control.purge()
    with running_worker(broker_url=BROKER_URL) as worker:
        producer.send_task(
            "claims.tasks.claims_triage_task", kwargs={"claim_ids": [claim.pk]}, queue=QUEUE
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            claim.refresh_from_db()
            if claim.status != ClaimStatus.SUBMITTED:
                break
            time.sleep(0.3)
    output = worker["output"]

    assert claim.status == ClaimStatus.AWAITING_COMPENSATION, output[-3000:]
    triage = ClaimTransition.objects.get(claim=claim, transition="triage")
    assert triage.actor_kind == "system"
