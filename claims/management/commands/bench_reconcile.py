"""Benchmark: the real reconciliation over a million compensation records, on one Celery
worker process and then on two.

Builds, with set-based SQL on PostgreSQL, shipments with cargo claims (most
waiting for compensation, some paid) and compensation records (about 70 %
matching a claim, some duplicates, some late for paid claims, the rest for
unknown shipments); times a bare hand-written matching UPDATE as the floor
(rolled back), then queues a run as the admin does and times it to its end on
real worker processes (each chunk a task of its own), printing seconds, rows/s
and the workers' peak RSS. Twice in the same run, on fresh data of the same
size: one worker process, then two, and the ratio of the two. Follow-ups the
run queues (payments, its report) go to the broker and are purged, not run.
"""

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from claims.choices import RunState
from claims.management.bench import bench_marketplace, require_postgresql, seconds_rolled_back
from claims.management.celery import tasks_queued
from claims.models import Payout, ReconciliationRun
from claims.reconciliation.run import reconciliation_request
from claims.reconciliation.sql import T
from claims.tasks import reconciliation_chunk_task
from policies.actors import Actor
from policies.models import Marketplace, Product
from policies.services import policy_enrol

BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
SELLERS = 100
# A run not done by then is reported as such, not waited for.
RUN_TIMEOUT = 3600
# The bench marketplace's policies numbered 0…SELLERS-1, to spread rows over them.
POLICIES = (
    f"SELECT id, seller_id, row_number() OVER (ORDER BY id) - 1 AS k FROM {T['policy']}"
    " WHERE marketplace_id = %(mp)s"
)


class Command(BaseCommand):
    help = "Measure reconciliation of --rows compensation records on PostgreSQL."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=1_000_000)

    def handle(self, *args, rows, **options):
        require_postgresql("bench_reconcile")
        # Follow-ups (certificates, payments) are queued to the broker and purged, not run here.
        with tasks_queued(broker_url=BROKER):
            self._measure(rows)

    def _measure(self, rows: int) -> None:
        seconds, purged = {}, 0
        for workers in (1, 2):
            started = time.perf_counter()
            marketplace = self._prepare(rows)
            self.stdout.write(f"data prepared in {time.perf_counter() - started:.1f} s")
            floor = self._floor(marketplace)
            run, seconds[workers], peak = self._reconcile(workers)
            # The run's follow-ups (payments, its report) wait behind its chunks on the
            # workers' queue: gone before the next run, so it waits for none of them.
            purged += current_app.control.purge() or 0
            self.stdout.write(
                "\n".join(
                    [
                        f"on {workers} worker process{'es' if workers > 1 else ''}",
                        f"  records reconciled    {run.total:,} (run #{run.pk}, {run.state})",
                        f"  matched / unmatched   {run.matched:,} / {run.unmatched:,}",
                        f"  claims released       {run.claims_released:,}",
                        f"  recoveries raised     {run.recoveries_raised:,}",
                        f"  discrepancies         {run.discrepancies_found:,}",
                        f"  reconciliation        {seconds[workers]:.1f} s"
                        f" ({run.total / seconds[workers]:,.0f} rows/s)",
                        f"  peak RSS per worker   {peak:.0f} MiB",
                        f"  bare matching UPDATE  {floor:.1f} s (the floor)",
                        f"  ratio to the floor    {seconds[workers] / floor:.1f}x",
                    ]
                )
            )
        self.stdout.write(
            f"two workers against one  {seconds[1] / seconds[2]:.2f}x as fast\n"
            f"follow-up tasks          {purged:,} queued and purged"
        )

    def _reconcile(self, workers: int) -> tuple[ReconciliationRun, float, float]:
        """Queue a run over the records not yet counted and time it to its end on `workers`
        worker processes; return the run, the seconds and the workers' largest peak RSS."""
        queue = current_app.amqp.router.route({}, reconciliation_chunk_task.name)["queue"].name
        processes = [self._worker(queue, n) for n in range(workers)]
        try:
            self._wait_ready(workers)
            started = time.perf_counter()
            run = reconciliation_request(trigger="benchmark")
            deadline = time.monotonic() + RUN_TIMEOUT
            while run.state == RunState.RUNNING and time.monotonic() < deadline:
                time.sleep(0.2)
                run.refresh_from_db()
            seconds = time.perf_counter() - started
            peak = max(_peak_rss_mib(process.pid) for process in processes)
        finally:
            # A worker busy with a follow-up would finish it first: the run is what counts.
            for process in processes:
                process.kill()
            for process in processes:
                process.wait(60)
        if run.state != RunState.DONE:
            raise CommandError(f"run #{run.pk} ended {run.state}: {run.error}")
        return run, seconds, peak

    def _worker(self, queue: str, n: int) -> subprocess.Popen:
        return subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo"),
                *(f"--hostname=bench{n}@%h", "--queues", queue, "--loglevel=warning"),
                *("--without-heartbeat", "--without-gossip", "--without-mingle"),
            ],
            cwd=settings.BASE_DIR,
            env={
                **os.environ,
                "DATABASE_URL": _database_url(),
                "CELERY_BROKER_URL": BROKER,
                "CELERY_TASK_ALWAYS_EAGER": "false",
            },
        )

    def _wait_ready(self, workers: int) -> None:
        deadline = time.monotonic() + 120
        while len(current_app.control.ping(timeout=1)) < workers:
            if time.monotonic() > deadline:
                raise CommandError(f"{workers} worker(s) did not answer within 120 s")

    def _prepare(self, rows: int) -> Marketplace:
        product = Product.objects.filter(is_active=True).order_by("code").first()
        if product is None:
            raise CommandError("No product: run `manage.py seed_demo` first.")
        marketplace, sellers = bench_marketplace(
            prefix="rec", name="Reconciliation bench", sellers=SELLERS
        )
        code = marketplace.code
        start = timezone.localdate() - dt.timedelta(days=60)
        for seller in sellers:
            policy_enrol(
                seller=seller, product_code=product.code, starts_on=start, actor=Actor.system()
            )
        now = timezone.now()
        shipped = now - dt.timedelta(days=20)
        event_day = timezone.localdate() - dt.timedelta(days=15)
        params = {
            "mp": marketplace.pk,
            "code": code,
            "n": rows,
            "sellers": SELLERS,
            "now": now,
            "shipped": shipped,
            "day": event_day,
        }
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {T["ship"]} (marketplace_id, external_id, seller_id, policy_id,
                    order_id, sku, category, declared_value, warehouse, pickup_point, fulfilment,
                    shipped_at, reverse_logistics_fee, premium, created_at, updated_at)
                SELECT %(mp)s, %(code)s || '-s' || g, pol.seller_id, pol.id,
                    %(code)s || '-o' || g, 'SKU', 'Одежда', 1000 + (g %% 900) * 10, 'Коледино',
                    'ПВЗ', 'marketplace', %(shipped)s, NULL, 14.00, %(now)s, %(now)s
                FROM generate_series(1, %(n)s) g
                JOIN ({POLICIES}) pol ON pol.k = g %% %(sellers)s
                """,
                params,
            )
            # Cargo claims: one in twenty is paid already (its compensation arrives late),
            # the others wait for compensation.
            cursor.execute(
                f"""
                INSERT INTO {T["claim"]} (number, marketplace_id, external_id, seller_id,
                    policy_id, shipment_id, cover, peril, event_date, event_key, source,
                    description, status, flags, claimed_amount, assessed_amount,
                    compensation_amount, deductible_amount, payable_amount, limit_applied,
                    rejection_code, rejection_reason, submitted_at, status_changed_at,
                    decided_at, sla_started_on, sla_paused_days, due_on, created_at, updated_at)
                SELECT %(code)s || '-c' || s.id, s.marketplace_id, NULL, s.seller_id, s.policy_id,
                    s.id, 'cargo', CASE WHEN s.n %% 2 = 0 THEN 'loss' ELSE 'damage' END,
                    %(day)s, s.order_id || '|' || %(day)s, 'marketplace', '',
                    CASE WHEN s.n %% 20 = 5 THEN 'paid' ELSE 'awaiting_compensation' END,
                    '[]', s.declared_value, NULL, 0,
                    CASE WHEN s.n %% 20 = 5 THEN 500 ELSE 0 END,
                    CASE WHEN s.n %% 20 = 5 THEN s.declared_value - 500 ELSE 0 END, '',
                    '', '', %(now)s, %(now)s, NULL, NULL, 0, NULL, %(now)s, %(now)s
                FROM (SELECT *, split_part(external_id, '-s', 2)::int AS n FROM {T["ship"]}
                      WHERE marketplace_id = %(mp)s) s
                """,
                params,
            )
            cursor.execute(
                f"""
                INSERT INTO {Payout._meta.db_table} (claim_id, policy_id, amount, paid_on,
                    reference, calculation, created_at)
                SELECT cl.id, cl.policy_id, cl.payable_amount, %(day)s,
                    %(code)s || '-pay-' || cl.id, '{{}}', %(now)s
                FROM {T["claim"]} cl WHERE cl.marketplace_id = %(mp)s AND cl.status = 'paid'
                """,
                params,
            )
            # Seven in ten records name a known shipment (those of paid claims arrive late),
            # one in fifty repeats the record before it, the rest name unknown shipments.
            cursor.execute(
                f"""
                INSERT INTO {T["comp"]} (marketplace_id, external_id, seller_id,
                    shipment_external_id, shipment_id, reason, amount, paid_on, source, claim_id,
                    matched_at, run_id, created_at)
                SELECT %(mp)s, %(code)s || '-k' || g, pol.seller_id,
                    CASE WHEN r %% 10 < 7 THEN %(code)s || '-s' || r
                         ELSE %(code)s || '-unknown-' || r END,
                    NULL, CASE WHEN r %% 2 = 0 THEN 'loss' ELSE 'damage' END,
                    300 + (r %% 7) * 10, %(day)s, 'csv', NULL, NULL, NULL, %(now)s
                FROM (SELECT g, g - (g %% 50 = 0)::int AS r FROM generate_series(1, %(n)s) g) x
                JOIN ({POLICIES}) pol ON pol.k = r %% %(sellers)s
                """,
                params,
            )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        return marketplace

    def _floor(self, marketplace: Marketplace) -> float:
        """Time one hand-written matching UPDATE over the same rows, then roll it back."""
        return seconds_rolled_back(
            lambda cursor: cursor.execute(
                f"UPDATE {T['comp']} AS c SET claim_id = cl.id"
                f" FROM {T['ship']} AS s, {T['claim']} AS cl"
                " WHERE c.marketplace_id = %s AND c.claim_id IS NULL"
                " AND s.marketplace_id = c.marketplace_id"
                " AND s.external_id = c.shipment_external_id AND cl.shipment_id = s.id",
                [marketplace.pk],
            )
        )


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _database_url() -> str:
    """Return the URL of the database this command works on, for its workers to open."""
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
