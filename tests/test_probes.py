"""/healthz says the process is up; /readyz checks the database, the broker, the migrations and
the outbox, answers 503 when one fails, and names nothing but the checks; both answer before
the host check and the HTTPS redirect."""

import datetime as dt
import json
import socket

import pytest
from celery import current_app
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone
from kombu import pools

from policies.choices import OutboxStatus
from policies.models import OutboxMessage
from tests.tcp_proxy import DatabaseProxy
from tests.test_security_headers import production_profile

pytestmark = pytest.mark.django_db

OUTCOMES = {"ok", "failed", "eager"}


def ready(client) -> tuple[int, dict]:
    response = client.get("/readyz")
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"].startswith("max-age=0")
    return response.status_code, response.json()


def assert_names_nothing_but_checks(body: dict) -> None:
    assert set(body) == {"status", "checks"}
    assert set(body["checks"]) == {"database", "broker", "migrations", "outbox"}
    assert set(body["checks"].values()) <= OUTCOMES
    settings = connection.settings_dict
    text = json.dumps(body)
    for secret in (settings["HOST"], settings["NAME"], current_app.conf.broker_url, "Error"):
        assert not secret or secret not in text


def test_healthz_answers_while_the_process_is_up(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_answers_ok_when_every_check_passes(client):
    status, body = ready(client)

    assert status == 200
    assert body == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "eager", "migrations": "ok", "outbox": "ok"},
    }


def test_with_eager_tasks_readyz_says_there_is_no_broker_to_check(client):
    assert current_app.conf.task_always_eager

    assert ready(client)[1]["checks"]["broker"] == "eager"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def broker_at():
    """Publish to the broker at the URL the test sets, not eagerly."""
    conf = current_app.conf
    saved = conf.task_always_eager, conf.broker_url

    def point(url: str) -> None:
        conf.task_always_eager, conf.broker_url = False, url
        pools.reset()

    yield point
    conf.task_always_eager, conf.broker_url = saved
    pools.reset()


def test_a_broker_that_does_not_answer_fails_readyz(client, broker_at):
    broker_at(f"redis://127.0.0.1:{free_port()}/0")

    status, body = ready(client)

    assert status == 503
    assert body["status"] == "failed"
    assert body["checks"] == {
        "database": "ok",
        "broker": "failed",
        "migrations": "ok",
        "outbox": "ok",
    }
    assert_names_nothing_but_checks(body)


def test_an_unapplied_migration_fails_readyz(client):
    latest = MigrationRecorder.Migration.objects.filter(app="claims").latest("id")
    latest.delete()

    status, body = ready(client)

    assert status == 503
    assert body["checks"]["migrations"] == "failed"
    assert body["checks"]["database"] == "ok"


def test_a_follow_up_left_unsent_past_the_threshold_fails_readyz(client, settings):
    settings.OUTBOX_STALLED_AFTER = dt.timedelta(minutes=5)
    OutboxMessage.objects.create(
        task="claims.tasks.claims_triage_task",
        kwargs={"claim_ids": [1]},
        created_at=timezone.now() - dt.timedelta(minutes=6),
    )

    status, body = ready(client)

    assert status == 503
    assert body["checks"]["outbox"] == "failed"
    assert body["checks"]["database"] == "ok"


def test_a_follow_up_still_inside_the_threshold_or_already_sent_leaves_readyz_ok(client, settings):
    settings.OUTBOX_STALLED_AFTER = dt.timedelta(minutes=5)
    now = timezone.now()
    OutboxMessage.objects.create(task="t", created_at=now - dt.timedelta(minutes=4))
    OutboxMessage.objects.create(
        task="t",
        created_at=now - dt.timedelta(hours=2),
        status=OutboxStatus.DISPATCHED,
        dispatched_at=now - dt.timedelta(hours=2),
    )

    status, body = ready(client)

    assert status == 200
    assert body["checks"]["outbox"] == "ok"


@pytest.fixture
def proxy():
    """Send this process's database connection through a proxy the test can break."""
    if connection.vendor != "postgresql":
        pytest.skip("drills a PostgreSQL connection; runs in CI's PostgreSQL pass")
    settings = connection.settings_dict
    saved = settings["HOST"], settings["PORT"], dict(settings.get("OPTIONS", {}))
    broken = DatabaseProxy((settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432)))
    connection.close()
    settings["HOST"], settings["PORT"] = "127.0.0.1", str(broken.port)
    settings["OPTIONS"] = {**saved[2], "sslmode": "disable"}
    yield broken
    broken.refuse()
    connection.close()
    settings["HOST"], settings["PORT"], settings["OPTIONS"] = saved


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_database_that_does_not_answer_fails_readyz_and_what_needs_it(client, proxy):
    proxy.refuse()

    status, body = ready(client)

    assert status == 503
    assert body == {
        "status": "failed",
        "checks": {
            "database": "failed",
            "broker": "eager",
            "migrations": "failed",
            "outbox": "failed",
        },
    }
    assert_names_nothing_but_checks(body)
    assert client.get("/healthz").status_code == 200


def test_probes_answer_a_probe_naming_the_pods_address_without_a_redirect(
    client, monkeypatch, settings
):
    production_profile(monkeypatch, settings)
    settings.ALLOWED_HOSTS = ["testserver"]
    pod = {"HTTP_HOST": "10.1.2.3:8000"}

    assert client.get("/healthz", **pod).status_code == 200
    assert client.get("/readyz", **pod).status_code == 200
    # Any other page refuses the host, and over plain HTTP redirects to HTTPS.
    assert client.get("/accounts/login/", **pod).status_code == 400
    assert client.get("/accounts/login/").status_code == 301


def test_a_probe_answers_only_get(client):
    assert client.post("/readyz").status_code == 405
    assert not OutboxMessage.objects.exists()
