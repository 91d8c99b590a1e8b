"""Production logs are JSON lines, and every line of a request and of the tasks it queued
carries the request's id: the one in the response's X-Request-ID, kept on the outbox row,
sent in the task's message headers, bound again by the worker."""

import datetime as dt
import io
import json
import logging
import uuid

import pytest
import structlog
from celery import current_app
from celery.signals import after_task_publish
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from claims.choices import ClaimStatus
from claims.models import Claim
from policies import outbox
from policies.choices import OutboxStatus
from policies.models import OutboxMessage
from tests import factories
from tests.test_celery_worker import BROKER_URL, broker_reachable
from tests.test_metrics import profile
from tests.test_outbox_broker import reconnect
from tests.workers import running_worker, wait_for

pytestmark = pytest.mark.django_db

HEADER = "__django_structlog__"


def json_formatter() -> logging.Formatter:
    """The production profile's formatter, as LOGGING names it."""
    config = dict(django_settings.LOGGING["formatters"]["json"])
    return config.pop("()")(**config)


@pytest.fixture
def json_log():
    """Log this process's lines as production does, into a buffer; yield a reader of them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    root, requests = logging.getLogger(), logging.getLogger("django_structlog")
    saved = root.level, requests.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    requests.setLevel(logging.INFO)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    root.removeHandler(handler)
    root.setLevel(saved[0])
    requests.setLevel(saved[1])


@pytest.fixture
def marketplace():
    key = factories.MarketplaceApiKeyFactory()
    shipment = factories.ShipmentFactory(policy__seller__marketplace=key.marketplace)
    api = APIClient(HTTP_AUTHORIZATION=f"Api-Key {key.raw_key}", HTTP_ACCEPT_LANGUAGE="en")
    claim = {
        "external_id": "cl-log",
        "shipment": shipment.external_id,
        "peril": "damage",
        "claimed_amount": "100.00",
        "event_date": (timezone.localdate() - dt.timedelta(days=3)).isoformat(),
    }
    return api, claim


@pytest.fixture
def published():
    """Publish to an in-memory broker instead of running tasks eagerly; collect each message's
    headers."""
    conf = current_app.conf
    saved = conf.task_always_eager, conf.broker_url
    conf.task_always_eager, conf.broker_url = False, "memory://"
    reconnect()
    messages: list[dict] = []

    def collect(headers=None, **_kwargs):
        messages.append(headers)

    after_task_publish.connect(collect)
    yield messages
    after_task_publish.disconnect(collect)
    conf.task_always_eager, conf.broker_url = saved
    reconnect()


def test_a_request_that_files_a_claim_logs_json_lines_with_its_id(
    marketplace, json_log, django_capture_on_commit_callbacks
):
    api, claim = marketplace

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/claims/", claim, format="json")

    assert response.status_code == 201, response.content
    request_id = response["X-Request-ID"]
    assert uuid.UUID(request_id)
    lines = json_log()
    finished = [line for line in lines if line["event"] == "request_finished"]
    assert [line["request_id"] for line in finished] == [request_id]
    assert finished[0]["code"] == 201
    assert {"timestamp", "level", "logger"} <= set(finished[0])
    # What the request queued, and what those tasks queued in turn (eagerly here, inside the
    # request), keeps its id.
    rows = OutboxMessage.objects.all()
    assert {"claims.tasks.claims_triage_task", "claims.tasks.claims_status_notify_task"} <= {
        row.task for row in rows
    }
    assert {row.request_id for row in rows} == {request_id}
    assert {row.status for row in rows} == {OutboxStatus.DONE}
    assert Claim.objects.get().status != ClaimStatus.SUBMITTED


def test_the_outbox_sends_the_requests_id_in_each_tasks_headers(
    marketplace, published, django_capture_on_commit_callbacks
):
    api, claim = marketplace

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/claims/", claim, format="json")

    assert len(published) == OutboxMessage.objects.count() >= 2
    assert {headers[HEADER]["request_id"] for headers in published} == {response["X-Request-ID"]}


def test_a_follow_up_the_sweep_sends_late_keeps_the_id_of_the_request_that_wrote_it(
    published,
):
    message = OutboxMessage.objects.create(
        task="claims.tasks.claims_triage_task",
        kwargs={"claim_ids": []},
        request_id="req-written-earlier",
        created_at=timezone.now() - dt.timedelta(minutes=5),
    )

    outbox.outbox_sweep()

    message.refresh_from_db()
    assert message.status == OutboxStatus.DISPATCHED
    [headers] = published
    assert headers[HEADER]["request_id"] == "req-written-earlier"


def test_a_clients_x_request_id_is_not_believed_without_a_declared_proxy(client, settings):
    settings.DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = False

    response = client.get("/accounts/login/", HTTP_X_REQUEST_ID="forged-id")

    assert response["X-Request-ID"] != "forged-id"
    assert uuid.UUID(response["X-Request-ID"])


def test_the_declared_proxys_x_request_id_is_the_requests_id(client, settings, json_log):
    settings.DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True

    response = client.get("/accounts/login/", HTTP_X_REQUEST_ID="nginx-4f2a")

    assert response["X-Request-ID"] == "nginx-4f2a"
    assert {line["request_id"] for line in json_log() if "request_id" in line} == {"nginx-4f2a"}


def test_the_production_profile_logs_json_and_the_demo_readable_lines(monkeypatch):
    production = profile(monkeypatch)
    demo = profile(monkeypatch, DEBUG="true")

    assert production.LOGGING["handlers"]["console"]["formatter"] == "json"
    assert demo.LOGGING["handlers"]["console"]["formatter"] == "console"


def test_a_json_line_names_the_event_its_level_logger_and_time():
    structlog.contextvars.clear_contextvars()
    record = logging.LogRecord("claims", logging.WARNING, __file__, 1, "Снят %s", ("claim",), None)

    line = json_formatter().format(record)

    assert json.loads(line) | {"timestamp": None} == {
        "event": "Снят claim",
        "level": "warning",
        "logger": "claims",
        "timestamp": None,
    }


@pytest.mark.broker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_workers_task_logs_the_id_of_the_request_that_queued_it(marketplace, json_log):
    if not broker_reachable():
        pytest.skip(f"NO BROKER REACHABLE at {BROKER_URL}: the real-worker test did not run")
    if connection.vendor != "postgresql":
        pytest.skip("the worker process cannot open the in-memory SQLite test database")
    api, claim = marketplace
    conf = current_app.conf
    saved = conf.task_always_eager, conf.broker_url
    conf.task_always_eager, conf.broker_url = False, BROKER_URL
    reconnect()
    try:
        current_app.control.purge()
        with running_worker(broker_url=BROKER_URL, LOG_FORMAT="json") as worker:
            response = api.post("/api/v1/claims/", claim, format="json")
            finished = wait_for(
                lambda: not OutboxMessage.objects.exclude(status=OutboxStatus.DONE).exists(), 90
            )
    finally:
        conf.task_always_eager, conf.broker_url = saved
        reconnect()

    output = worker["output"]
    assert response.status_code == 201, response.content
    assert finished, output[-4000:]
    request_id = response["X-Request-ID"]
    web = [line for line in json_log() if line.get("request_id") == request_id]
    assert "request_finished" in {line["event"] for line in web}
    task_lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    started = [line for line in task_lines if line["event"] == "task_started"]
    assert {
        "claims.tasks.claims_triage_task",
        "claims.tasks.claim_acknowledgement_make_task",
    } <= {line["task"] for line in started}, output[-4000:]
    assert {line["request_id"] for line in started} == {request_id}
    succeeded = [line for line in task_lines if line["event"] == "task_succeeded"]
    assert {line["request_id"] for line in succeeded} == {request_id}
