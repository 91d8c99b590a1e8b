"""Benchmark: shipment events pushed through the real HTTP stack, against a COPY floor.

Starts gunicorn (2 workers) on PostgreSQL, pushes events in batches of 1,000
from concurrent keep-alive clients, and prints events/s, request-time
percentiles, the server's peak RSS and the time a bare COPY of the same rows
takes. The figures are printed, never asserted: `make bench` runs it.
"""

import datetime as dt
import http.client
import io
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from claims.management.bench import require_postgresql, seconds_rolled_back
from claims.models import Claim
from policies.actors import Actor
from policies.ingest import sellers_upsert_bulk, shipments_record_bulk
from policies.models import Marketplace, MarketplaceApiKey, Shipment, ShipmentEvent
from policies.services import policy_enrol

BASE_DIR = Path(settings.BASE_DIR)
# Of every ten events of an item's life: shipped, delivered, then bought out
# mostly; a few come back, and those open claims.
KINDS = ["shipped", "delivered", "bought_out"]
BENCH_BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_peak_kib(pid: int) -> int:
    """Return a process's peak resident set (VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def copy_text(bodies: list[bytes], columns) -> str:
    """Return the bodies' items as COPY text, one line of `columns(item)` each."""
    rows = io.StringIO()
    for body in bodies:
        for item in json.loads(body)["items"]:
            rows.write("\t".join(str(value) for value in columns(item)) + "\n")
    return rows.getvalue()


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


class Command(BaseCommand):
    help = "Measure shipment-event ingest through gunicorn + PostgreSQL against a COPY floor."

    def add_arguments(self, parser):
        parser.add_argument("--events", type=int, default=200_000)
        parser.add_argument("--batch", type=int, default=1000)
        parser.add_argument("--clients", type=int, default=4)
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument(
            "--claim-share",
            type=float,
            default=0.02,
            help="share of events that are covered (non-buyouts opening claims)",
        )

    def handle(self, *args, events, batch, clients, workers, claim_share, **options):
        require_postgresql("bench_ingest")
        marketplace, key, shipment_ids = self._prepare(events)
        bodies = self._bodies(shipment_ids, events, batch, claim_share)
        port = free_port()
        server = self._start_gunicorn(port, workers)
        try:
            self._wait_ready(port, key)
            wall, latencies, statuses = self._push(port, key, bodies, clients)
            peak_master = rss_peak_kib(server.pid)
            worker_peaks = [rss_peak_kib(pid) for pid in children(server.pid)]
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        purged = self._purge_broker()
        stored = ShipmentEvent.objects.filter(marketplace=marketplace).count()
        claims = Claim.objects.filter(marketplace=marketplace).count()
        floor = self._copy_floor(bodies)
        table_floor = self._copy_into_events(bodies, marketplace)
        rate = events / wall
        latencies.sort()
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        self.stdout.write(
            "\n".join(
                [
                    f"events pushed         {events:,} in {len(bodies)} requests of {batch}",
                    f"HTTP statuses         {statuses}",
                    f"events stored         {stored:,}; claims opened {claims:,}"
                    f" ({purged:,} queued tasks purged)",
                    f"wall time             {wall:.2f} s",
                    f"throughput            {rate:,.0f} events/s",
                    f"request time          median {statistics.median(latencies) * 1000:.0f} ms,"
                    f" p95 {p95 * 1000:.0f} ms",
                    f"server peak RSS       master {peak_master / 1024:.0f} MiB, workers "
                    + ", ".join(f"{kib / 1024:.0f} MiB" for kib in worker_peaks),
                    f"COPY floor            {floor:.2f} s ({events / floor:,.0f} rows/s)",
                    f"ratio to the floor    {wall / floor:.1f}x",
                    f"COPY into the events  {table_floor:.2f} s (the real table with its indexes"
                    f" and keys, rolled back): ratio {wall / table_floor:.1f}x",
                ]
            )
        )

    def _prepare(self, events: int):
        """Make a fresh marketplace with one insured seller and the shipments the events need."""
        code = f"bench{secrets.token_hex(3)}"
        marketplace = Marketplace.objects.create(code=code, name=f"Bench {code}")
        _, key = MarketplaceApiKey.objects.create_key(marketplace=marketplace, name="bench")
        [seller_result] = sellers_upsert_bulk(
            marketplace=marketplace,
            items=[
                {
                    "external_id": "bench-seller",
                    "legal_name": "ООО «Бенчмарк»",
                    "tax_id": "7708123450",
                    "email": "bench@example.com",
                    "language": "ru",
                }
            ],
        )
        seller = seller_result.obj
        policy_enrol(
            seller=seller,
            product_code=self._product_code(),
            starts_on=timezone.localdate() - dt.timedelta(days=30),
            actor=Actor.system(),
        )
        shipped_at = timezone.now() - dt.timedelta(days=5)
        count = max(1, events // len(KINDS))
        ids = []
        for start in range(0, count, 5000):
            items = [
                {
                    "external_id": f"{code}-s{n}",
                    "seller": seller,
                    "order_id": f"{code}-o{n // 3}",
                    "sku": f"SKU-{n % 997}",
                    "category": "Одежда",
                    "declared_value": Decimal("1490.00"),
                    "warehouse": "Коледино",
                    "pickup_point": "ПВЗ Москва",
                    "fulfilment": "marketplace",
                    "shipped_at": shipped_at,
                }
                for n in range(start, min(start + 5000, count))
            ]
            shipments_record_bulk(marketplace=marketplace, items=items)
            ids.extend(item["external_id"] for item in items)
        return marketplace, key, ids

    def _product_code(self) -> str:
        from policies.models import Product

        product = Product.objects.filter(is_active=True).order_by("code").first()
        if product is None:
            raise CommandError("No product: run `manage.py seed_demo` (DEBUG) or create one first.")
        return product.code

    def _bodies(self, shipment_ids, events, batch, claim_share) -> list[bytes]:
        occurred = (timezone.now() - dt.timedelta(days=2)).isoformat()
        every = int(1 / claim_share) if claim_share > 0 else 0
        items = []
        for n in range(events):
            shipment = shipment_ids[(n // len(KINDS)) % len(shipment_ids)]
            covered = every and n % every == every - 1
            kind = "non_buyout" if covered else KINDS[n % len(KINDS)]
            item = {
                "external_id": f"{shipment}-e{n}",
                "shipment": shipment,
                "kind": kind,
                "occurred_at": occurred,
            }
            if covered:
                item["amount"] = "50.00"
            items.append(item)
        return [
            json.dumps({"items": items[i : i + batch]}, ensure_ascii=False).encode()
            for i in range(0, len(items), batch)
        ]

    def _start_gunicorn(self, port: int, workers: int) -> subprocess.Popen:
        env = {
            **os.environ,
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "API_KEY_THROTTLE_RATE": "1000000/min",
            "LOG_LEVEL": "WARNING",
            "CONN_MAX_AGE": "60",
            # Triage and webhooks queue to a broker as in production; no worker drains it here.
            "CELERY_BROKER_URL": BENCH_BROKER_URL,
        }
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{port}",
                "--timeout",
                "120",
                "--log-level",
                "warning",
            ],
            cwd=BASE_DIR,
            env=env,
        )

    def _wait_ready(self, port: int, key: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/api/v1/claims/?page_size=1", headers=self._headers(key))
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise CommandError("gunicorn did not answer within 60 s")

    def _headers(self, key: str) -> dict:
        return {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}

    def _push(self, port: int, key: str, bodies: list[bytes], clients: int):
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        lock = threading.Lock()
        queue = list(enumerate(bodies))
        headers = self._headers(key)

        def client():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            while True:
                with lock:
                    if not queue:
                        return
                    _, body = queue.pop()
                started = time.perf_counter()
                conn.request("POST", "/api/v1/shipment-events/bulk/", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    statuses[response.status] = statuses.get(response.status, 0) + 1

        threads = [threading.Thread(target=client) for _ in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started, latencies, statuses

    def _purge_broker(self) -> int:
        from celery import Celery

        app = Celery(broker=BENCH_BROKER_URL, set_as_current=False)
        # Every queue the follow-ups are routed to.
        app.conf.task_queues = settings.CELERY_TASK_QUEUES
        return app.control.purge() or 0

    def _copy_into_events(self, bodies: list[bytes], marketplace: Marketplace) -> float:
        """Return the seconds a COPY of the same rows into the events table itself takes.

        The rows get fresh external ids and the transaction is rolled back.
        """
        shipments = dict(
            Shipment.objects.filter(marketplace=marketplace).values_list("external_id", "pk")
        )
        now = timezone.now().isoformat()
        rows = copy_text(
            bodies,
            lambda item: (
                marketplace.pk,
                f"copy-{item['external_id']}",
                shipments[item["shipment"]],
                item["kind"],
                item["occurred_at"],
                item.get("amount", "\\N"),
                now,
            ),
        )
        table = ShipmentEvent._meta.db_table

        def copy_in(cursor) -> None:
            with cursor.copy(
                f"COPY {table} (marketplace_id, external_id, shipment_id, kind, occurred_at,"
                " amount, created_at) FROM STDIN"
            ) as copy:
                copy.write(rows)

        return seconds_rolled_back(copy_in)

    def _copy_floor(self, bodies: list[bytes]) -> float:
        """Return the seconds a bare COPY of the same event rows into a scratch table takes."""
        rows = copy_text(
            bodies,
            lambda item: (
                item["external_id"],
                item["shipment"],
                item["kind"],
                item["occurred_at"],
                item.get("amount", "\\N"),
            ),
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMPORARY TABLE bench_copy_floor ("
                " id bigserial PRIMARY KEY, external_id varchar(64) NOT NULL UNIQUE,"
                " shipment varchar(64) NOT NULL, kind varchar(16) NOT NULL,"
                " occurred_at timestamptz NOT NULL, amount numeric(14, 2))"
            )
            started = time.perf_counter()
            with cursor.copy(
                "COPY bench_copy_floor (external_id, shipment, kind, occurred_at, amount)"
                " FROM STDIN"
            ) as copy:
                copy.write(rows)
            elapsed = time.perf_counter() - started
            cursor.execute("DROP TABLE bench_copy_floor")
        return elapsed
