"""The product's own metrics, `sellercover_…`, read from the database at every scrape.

Gunicorn's processes and the Celery workers keep no counters of their own to add up: every
figure is a grouped read of the rows the work leaves (claims, outbox rows, runs, imports,
webhook attempts), so any web process answers the same. Read through the selectors.
"""

import datetime as dt
import math
import os

from celery import current_app
from django.conf import settings
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from claims.choices import ClaimSource, ClaimStatus, ReportOutcome, RunState
from claims.models import ReportImportStatus, WebhookAttemptState, WebhookStatus
from claims.selectors import (
    claim_counts,
    claims_straight_through,
    reconciliation_last_finished,
    reconciliation_runs_by_state,
    report_import_outcomes,
    report_imports_by_status,
    webhook_attempts_by_state,
    webhook_deliveries_by_status,
)
from policies.choices import OutboxStatus
from policies.outbox import outbox_oldest_pending, outbox_tasks_by_status


def _gauge_by(name: str, documentation: str, label: str, values, counts: dict[str, int]):
    """A gauge with a sample for every choice in `values`, zero where no row has it: a
    series that appears only once it is non-zero draws no line before."""
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for value in dict.fromkeys([*values, *counts]):
        family.add_metric([value], counts.get(value, 0))
    return family


def _queue(task: str) -> str:
    return current_app.amqp.router.route({}, task)["queue"].name


class ProductCollector:
    """Collects the `sellercover_…` families at each scrape."""

    def collect(self):
        now = timezone.now()
        yield from self._claims(now)
        yield from self._outbox(now)
        yield from self._reconciliation()
        yield from self._imports()
        yield from self._webhooks()

    def _claims(self, now: dt.datetime):
        claims = GaugeMetricFamily(
            "sellercover_claims", "Claims by status and source.", labels=["status", "source"]
        )
        counts = {(status, source): n for status, source, n in claim_counts()}
        pairs = [(status, source) for status in ClaimStatus.values for source in ClaimSource.values]
        for pair in dict.fromkeys([*pairs, *counts]):
            claims.add_metric(list(pair), counts.get(pair, 0))
        yield claims

        days = settings.METRICS_WINDOW_DAYS
        figures = claims_straight_through(since=now - dt.timedelta(days=days))
        yield GaugeMetricFamily(
            "sellercover_claims_decided",
            f"Claims approved or rejected in the last {days} days.",
            value=figures.decided,
        )
        yield GaugeMetricFamily(
            "sellercover_claims_straight_through",
            f"Claims decided in the last {days} days that the system approved and paid.",
            value=figures.straight,
        )
        yield GaugeMetricFamily(
            "sellercover_straight_through_ratio",
            f"Share of the claims decided in the last {days} days paid with no person "
            "involved (NaN when none was decided).",
            value=figures.straight / figures.decided if figures.decided else math.nan,
        )

    def _outbox(self, now: dt.datetime):
        rows = outbox_tasks_by_status()
        by_status: dict[str, int] = {}
        tasks = GaugeMetricFamily(
            "sellercover_tasks",
            "Follow-up tasks in the outbox by queue, task and state; finished ones are kept "
            "for the outbox's retention.",
            labels=["queue", "task", "state"],
        )
        for task, status, n in rows:
            by_status[status] = by_status.get(status, 0) + n
            tasks.add_metric([_queue(task), task, status], n)
        yield tasks
        yield _gauge_by(
            "sellercover_outbox_messages",
            "Outbox rows by status: pending (never sent), dispatched (sent, not finished), "
            "dead (given up), done.",
            "status",
            OutboxStatus.values,
            by_status,
        )
        oldest = outbox_oldest_pending()
        yield GaugeMetricFamily(
            "sellercover_outbox_oldest_pending_age_seconds",
            "How long the oldest row never sent has waited; 0 when none waits.",
            value=(now - oldest).total_seconds() if oldest else 0,
        )

    def _reconciliation(self):
        yield _gauge_by(
            "sellercover_reconciliation_runs",
            "Reconciliation runs by state.",
            "state",
            RunState.values,
            reconciliation_runs_by_state(),
        )
        last = reconciliation_last_finished()
        duration = GaugeMetricFamily(
            "sellercover_reconciliation_last_duration_seconds",
            "How long the last finished reconciliation run took.",
            labels=["state"],
        )
        finished = GaugeMetricFamily(
            "sellercover_reconciliation_last_finished_timestamp_seconds",
            "When the last reconciliation run finished (Unix time).",
            labels=["state"],
        )
        records = GaugeMetricFamily(
            "sellercover_reconciliation_last_rows",
            "What the last finished reconciliation run counted, by kind.",
            labels=["kind"],
        )
        if last is not None:
            duration.add_metric([last.state], (last.finished_at - last.started_at).total_seconds())
            finished.add_metric([last.state], last.finished_at.timestamp())
            for kind in (
                "total",
                "processed",
                "matched",
                "unmatched",
                "claims_released",
                "recoveries_raised",
                "discrepancies_found",
            ):
                records.add_metric([kind], getattr(last, kind))
        yield from (duration, finished, records)

    def _imports(self):
        yield _gauge_by(
            "sellercover_report_imports",
            "Finance report imports by status.",
            "status",
            ReportImportStatus.values,
            report_imports_by_status(),
        )
        rows = CounterMetricFamily(
            "sellercover_report_rows",
            "Rows of the finished report imports, by outcome.",
            labels=["outcome"],
        )
        outcomes = report_import_outcomes()
        for outcome in dict.fromkeys([*ReportOutcome.values, *outcomes]):
            rows.add_metric([outcome], outcomes.get(outcome, 0))
        yield rows

    def _webhooks(self):
        yield _gauge_by(
            "sellercover_webhook_deliveries",
            "Webhook deliveries by status; failed ones exhausted their retries.",
            "status",
            WebhookStatus.values,
            webhook_deliveries_by_status(),
        )
        attempts = CounterMetricFamily(
            "sellercover_webhook_attempts",
            "Webhook delivery attempts by outcome.",
            labels=["state"],
        )
        counts = webhook_attempts_by_state()
        for state in dict.fromkeys([*WebhookAttemptState.values, *counts]):
            attempts.add_metric([state], counts.get(state, 0))
        yield attempts


def metrics_registry() -> CollectorRegistry:
    """Return what a scrape reads: this process's django-prometheus figures (or, with
    PROMETHEUS_MULTIPROC_DIR set, those of every gunicorn process) and the product's."""
    registry = CollectorRegistry(auto_describe=False)
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    registry.register(ProductCollector())
    return registry
