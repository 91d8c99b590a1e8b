"""/metrics: django-prometheus's figures and the product's `sellercover_…`, read from the
database at the scrape; open in the demo, behind a token or an address allow-list when
production configures one, closed when it configures neither; the Grafana dashboard in the
repository asks only for what it exports."""

import datetime as dt
import importlib.util
import ipaddress
import json
import math
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from claims.choices import ClaimSource, ClaimStatus, ReportFormat, ReportSource, RunState
from claims.models import ReportImport, ReportImportStatus, WebhookAttemptState, WebhookStatus
from policies.choices import OutboxStatus
from policies.models import OutboxMessage
from tests import factories
from tests.test_security_headers import production_profile

pytestmark = pytest.mark.django_db

DASHBOARD = Path(django_settings.BASE_DIR) / "config" / "grafana" / "sellercover.json"
TRIAGE = "claims.tasks.claims_triage_task"
WEBHOOK = "claims.tasks.webhook_deliver_task"


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    """Return every sample of /metrics by name and labels."""
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples, name: str, **labels) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def queue_of(task: str) -> str:
    """The queue the settings route `task` to."""
    routes = getattr(django_settings, "CELERY_TASK_ROUTES", {}) or {}
    return routes.get(task, {}).get("queue", django_settings.CELERY_TASK_DEFAULT_QUEUE)


def transition(claim, name: str, target: str, actor_kind: str, at: dt.datetime) -> None:
    factories.ClaimTransitionFactory(
        claim=claim, transition=name, target_state=target, actor_kind=actor_kind, at=at
    )


def test_claims_by_status_and_source_are_counted_at_the_scrape(client):
    factories.ClaimFactory.create_batch(2, status=ClaimStatus.SUBMITTED)
    factories.ClaimFactory(status=ClaimStatus.PAID, source=ClaimSource.MARKETPLACE)

    samples = scrape(client)

    assert value(samples, "sellercover_claims", status="submitted", source="seller") == 2
    assert value(samples, "sellercover_claims", status="paid", source="marketplace") == 1
    # Every pair is there from the start, at zero.
    assert value(samples, "sellercover_claims", status="rejected", source="report") == 0
    factories.ClaimFactory(status=ClaimStatus.SUBMITTED)
    assert value(scrape(client), "sellercover_claims", status="submitted", source="seller") == 3


def test_the_straight_through_rate_counts_claims_the_system_approved_and_paid(client):
    now = timezone.now()
    straight = factories.ClaimFactory(status=ClaimStatus.PAID, decided_at=now)
    transition(straight, "triage", ClaimStatus.APPROVED, "system", now)
    transition(straight, "pay", ClaimStatus.PAID, "system", now)
    by_hand = factories.ClaimFactory(status=ClaimStatus.PAID, decided_at=now)
    transition(by_hand, "approve", ClaimStatus.APPROVED, "user", now)
    transition(by_hand, "pay", ClaimStatus.PAID, "system", now)
    rejected = factories.ClaimFactory(status=ClaimStatus.REJECTED, decided_at=now)
    transition(rejected, "reject", ClaimStatus.REJECTED, "user", now)
    paid_long_ago = factories.ClaimFactory(
        status=ClaimStatus.PAID, decided_at=now - dt.timedelta(days=31)
    )
    transition(paid_long_ago, "triage", ClaimStatus.APPROVED, "system", now)
    transition(paid_long_ago, "pay", ClaimStatus.PAID, "system", now)
    factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW)

    samples = scrape(client)

    assert value(samples, "sellercover_claims_decided") == 3
    assert value(samples, "sellercover_claims_straight_through") == 1
    assert value(samples, "sellercover_straight_through_ratio") == pytest.approx(1 / 3)


def test_with_no_claim_decided_the_straight_through_rate_is_not_a_number(client):
    assert math.isnan(value(scrape(client), "sellercover_straight_through_ratio"))


def test_the_outbox_depth_its_oldest_row_and_the_tasks_by_queue_and_state(client):
    now = timezone.now()
    OutboxMessage.objects.create(task=TRIAGE, created_at=now - dt.timedelta(seconds=120))
    OutboxMessage.objects.create(task=TRIAGE, created_at=now)
    OutboxMessage.objects.create(
        task=WEBHOOK, status=OutboxStatus.DISPATCHED, created_at=now - dt.timedelta(hours=1)
    )
    OutboxMessage.objects.create(task=WEBHOOK, status=OutboxStatus.DONE)
    OutboxMessage.objects.create(task=WEBHOOK, status=OutboxStatus.DEAD)

    samples = scrape(client)

    assert value(samples, "sellercover_outbox_messages", status="pending") == 2
    assert value(samples, "sellercover_outbox_messages", status="dispatched") == 1
    assert value(samples, "sellercover_outbox_messages", status="dead") == 1
    assert value(samples, "sellercover_outbox_messages", status="done") == 1
    # The dispatched row is older, but it was sent: only rows never sent count.
    assert 120 <= value(samples, "sellercover_outbox_oldest_pending_age_seconds") < 180
    triage, webhook = queue_of(TRIAGE), queue_of(WEBHOOK)
    assert value(samples, "sellercover_tasks", queue=triage, task=TRIAGE, state="pending") == 2
    assert value(samples, "sellercover_tasks", queue=webhook, task=WEBHOOK, state="dead") == 1
    assert ("sellercover_tasks", (("queue", triage), ("state", "done"), ("task", TRIAGE))) not in (
        samples
    )


def test_an_empty_outbox_has_no_oldest_row(client):
    samples = scrape(client)

    assert value(samples, "sellercover_outbox_oldest_pending_age_seconds") == 0
    assert value(samples, "sellercover_outbox_messages", status="pending") == 0


def test_the_last_finished_reconciliation_runs_duration_and_rows(client):
    start = timezone.now() - dt.timedelta(hours=3)
    factories.ReconciliationRunFactory(
        state=RunState.DONE,
        started_at=start - dt.timedelta(days=1),
        finished_at=start - dt.timedelta(days=1) + dt.timedelta(seconds=30),
        processed=10,
    )
    factories.ReconciliationRunFactory(
        state=RunState.DONE,
        started_at=start,
        finished_at=start + dt.timedelta(seconds=150),
        total=1000,
        processed=1000,
        matched=900,
        unmatched=100,
        claims_released=40,
        discrepancies_found=7,
    )
    factories.ReconciliationRunFactory(state=RunState.RUNNING, started_at=timezone.now())

    samples = scrape(client)

    assert value(samples, "sellercover_reconciliation_last_duration_seconds", state="done") == 150
    assert value(
        samples, "sellercover_reconciliation_last_finished_timestamp_seconds", state="done"
    ) == pytest.approx((start + dt.timedelta(seconds=150)).timestamp())
    assert value(samples, "sellercover_reconciliation_last_rows", kind="processed") == 1000
    assert value(samples, "sellercover_reconciliation_last_rows", kind="matched") == 900
    assert value(samples, "sellercover_reconciliation_last_rows", kind="unmatched") == 100
    assert value(samples, "sellercover_reconciliation_last_rows", kind="discrepancies_found") == 7
    assert value(samples, "sellercover_reconciliation_runs", state="done") == 2
    assert value(samples, "sellercover_reconciliation_runs", state="running") == 1
    assert value(samples, "sellercover_reconciliation_runs", state="failed") == 0


def report(seller, status: str, outcomes: dict) -> ReportImport:
    return ReportImport.objects.create(
        marketplace=seller.marketplace,
        seller=seller,
        format=ReportFormat.WB_CSV,
        source=ReportSource.UPLOAD,
        sha256="0" * 64,
        status=status,
        outcomes=outcomes,
    )


def test_report_imports_by_status_and_their_rows_by_outcome(client):
    seller = factories.SellerFactory()
    report(seller, ReportImportStatus.DONE, {"claim_opened": 3, "ignored": 5})
    report(seller, ReportImportStatus.DONE, {"claim_opened": 2, "error": 1})
    report(seller, ReportImportStatus.FAILED, {})
    # A running import's partial figures are not counted yet.
    report(seller, ReportImportStatus.RUNNING, {"claim_opened": 50})

    samples = scrape(client)

    assert value(samples, "sellercover_report_imports", status="done") == 2
    assert value(samples, "sellercover_report_imports", status="failed") == 1
    assert value(samples, "sellercover_report_imports", status="running") == 1
    assert value(samples, "sellercover_report_rows_total", outcome="claim_opened") == 5
    assert value(samples, "sellercover_report_rows_total", outcome="ignored") == 5
    assert value(samples, "sellercover_report_rows_total", outcome="error") == 1
    assert value(samples, "sellercover_report_rows_total", outcome="netted") == 0


def test_webhook_failures_by_delivery_and_by_attempt(client):
    given_up = factories.WebhookDeliveryFactory(status=WebhookStatus.FAILED)
    factories.WebhookAttemptFactory.create_batch(
        3, delivery=given_up, state=WebhookAttemptState.FAILED
    )
    landed = factories.WebhookDeliveryFactory(status=WebhookStatus.DELIVERED)
    factories.WebhookAttemptFactory(delivery=landed, state=WebhookAttemptState.FAILED)
    factories.WebhookAttemptFactory(
        delivery=landed, state=WebhookAttemptState.SUCCEEDED, status_code=200, error=""
    )

    samples = scrape(client)

    assert value(samples, "sellercover_webhook_deliveries", status="failed") == 1
    assert value(samples, "sellercover_webhook_deliveries", status="delivered") == 1
    assert value(samples, "sellercover_webhook_deliveries", status="pending") == 0
    assert value(samples, "sellercover_webhook_attempts_total", state="failed") == 4
    assert value(samples, "sellercover_webhook_attempts_total", state="succeeded") == 1
    assert value(samples, "sellercover_webhook_attempts_total", state="interrupted") == 0


def test_requests_and_queries_are_measured_by_django_prometheus(client):
    client.get("/accounts/login/")

    samples = scrape(client)

    assert value(samples, "django_http_responses_total_by_status_total", status="200") >= 1
    assert any(name == "django_db_execute_total" for name, _ in samples)


def test_with_a_multiprocess_folder_the_scrape_adds_up_gunicorns_processes(
    client, monkeypatch, tmp_path
):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    factories.ClaimFactory(status=ClaimStatus.SUBMITTED)

    samples = scrape(client)

    # The product's figures are the database's, whichever process answers.
    assert value(samples, "sellercover_claims", status="submitted", source="seller") == 1


# Access


def test_the_demo_profile_opens_the_metrics_to_anyone(client, settings):
    assert settings.METRICS_OPEN
    assert client.get("/metrics").status_code == 200


def profile(monkeypatch, **environment):
    """Read config/settings.py again with DEBUG off and `environment`; return it."""
    monkeypatch.setenv("DEBUG", "false")
    monkeypatch.setenv("SECRET_KEY", "x" * 64)
    monkeypatch.setenv("ALLOWED_HOSTS", "testserver")
    for name in ("METRICS_TOKEN", "METRICS_ALLOWED_IPS"):
        monkeypatch.delenv(name, raising=False)
    for name, value_ in environment.items():
        monkeypatch.setenv(name, value_)
    path = Path(django_settings.BASE_DIR) / "config" / "settings.py"
    spec = importlib.util.spec_from_file_location("metrics_profile", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def apply_metrics_settings(settings, module) -> None:
    for name in ("METRICS_OPEN", "METRICS_TOKEN", "METRICS_ALLOWED_NETWORKS"):
        setattr(settings, name, getattr(module, name))


def test_production_configuring_no_guard_closes_the_metrics(client, monkeypatch, settings):
    apply_metrics_settings(settings, profile(monkeypatch))

    response = client.get("/metrics")

    assert response.status_code == 403
    assert b"sellercover_" not in response.content


def test_production_with_a_token_asks_for_it_as_a_bearer(client, monkeypatch, settings):
    apply_metrics_settings(settings, profile(monkeypatch, METRICS_TOKEN="s3cret-token"))

    missing = client.get("/metrics")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-tokeN")
    other_scheme = client.get("/metrics", HTTP_AUTHORIZATION="Basic s3cret-token")

    for refused in (missing, wrong, other_scheme):
        assert refused.status_code == 401
        assert refused["WWW-Authenticate"].startswith("Bearer")
    assert "sellercover_claims" in {
        name for name, _ in scrape(client, HTTP_AUTHORIZATION="Bearer s3cret-token")
    }


def test_production_with_an_allow_list_reads_the_address_by_the_proxy_rule(
    client, monkeypatch, settings
):
    # Behind the declared proxy the address is the right-most of X-Forwarded-For.
    production_profile(monkeypatch, settings, TRUSTED_PROXY="true")
    apply_metrics_settings(
        settings, profile(monkeypatch, TRUSTED_PROXY="true", METRICS_ALLOWED_IPS="10.0.0.0/8")
    )
    networks = settings.METRICS_ALLOWED_NETWORKS
    assert networks == [ipaddress.ip_network("10.0.0.0/8")]

    listed = client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9, 10.4.0.7")
    forged = client.get("/metrics", HTTP_X_FORWARDED_FOR="10.4.0.7, 203.0.113.9")

    assert listed.status_code == 200
    assert forged.status_code == 403


def test_without_a_declared_proxy_a_forwarded_address_is_not_believed(
    client, monkeypatch, settings
):
    production_profile(monkeypatch, settings)
    apply_metrics_settings(settings, profile(monkeypatch, METRICS_ALLOWED_IPS="10.0.0.0/8"))

    forged = client.get("/metrics", HTTP_X_FORWARDED_FOR="10.4.0.7")
    from_the_network = client.get("/metrics", REMOTE_ADDR="10.4.0.7")

    assert forged.status_code == 403
    assert from_the_network.status_code == 200


def test_with_a_token_and_an_allow_list_both_must_hold(client, settings):
    settings.METRICS_TOKEN = "t"
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    bearer = {"HTTP_AUTHORIZATION": "Bearer t"}

    assert client.get("/metrics", REMOTE_ADDR="10.4.0.7", **bearer).status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.1", **bearer).status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.4.0.7").status_code == 401


def test_a_malformed_allow_list_stops_the_start(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="METRICS_ALLOWED_IPS"):
        profile(monkeypatch, METRICS_ALLOWED_IPS="10.0.0.0/8,not-an-address")


# The dashboard

# What PromQL names that is not a metric.
PROMQL_WORDS = {
    "sum",
    "by",
    "without",
    "rate",
    "increase",
    "histogram_quantile",
    "time",
    "le",
}


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]


def metric_names(expression: str) -> set[str]:
    """The names an expression reads: identifiers outside label matchers and groupings."""
    bare = re.sub(r"\{[^}]*\}|\b(by|without)\s*\([^)]*\)|\[[^\]]*\]|\"[^\"]*\"", " ", expression)
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare)) - PROMQL_WORDS
    return {name for name in names if not re.fullmatch(r"\d+", name)}


def test_every_dashboard_expression_names_a_metric_the_endpoint_exports(client):
    client.get("/accounts/login/")
    text = client.get("/metrics").content.decode()
    exported = set()
    for family in text_string_to_metric_families(text):
        exported.add(family.name)
        exported.update(sample.name for sample in family.samples)
        # A histogram's series, even before its first observation.
        if family.type == "histogram":
            exported.update(f"{family.name}_{part}" for part in ("bucket", "sum", "count"))
        if family.type == "counter":
            exported.add(f"{family.name}_total")

    expressions = dashboard_expressions()

    assert len(expressions) >= 20
    named = set().union(*map(metric_names, expressions))
    assert {name for name in named if name.startswith("sellercover_")} >= {
        "sellercover_claims",
        "sellercover_straight_through_ratio",
        "sellercover_outbox_messages",
        "sellercover_outbox_oldest_pending_age_seconds",
        "sellercover_tasks",
        "sellercover_reconciliation_last_duration_seconds",
        "sellercover_reconciliation_last_rows",
        "sellercover_report_imports",
        "sellercover_report_rows_total",
        "sellercover_webhook_attempts_total",
        "sellercover_webhook_deliveries",
    }
    assert named - exported == set()
