"""Soak: the whole site under load and faults for a bounded time, then an audit of every
invariant against the database.

On the PostgreSQL database DATABASE_URL names (`make soak` gives it one of its own) it
starts a Redis of its own on another port, gunicorn, a Celery worker (a process group: its
main process and its pool) and beat, and seeds a marketplace of its own: sellers with their
logins, two adjusters, two tariffs (one with a tight aggregate limit) and a webhook endpoint
it serves itself. Client processes (claims/management/soak.py) then drive the site at once
over HTTP: marketplace bulks with overlapping replays, sellers' pages and filings, the
adjusters' desk in the admin, reconciliation runs. A quarter of the way in Redis is stopped
for 10 s (all it held is lost: it keeps nothing on disk); past half-way the whole worker
is killed with SIGKILL; both are started again.

It prints requests/s, the answers by kind and status, the 95th percentile per kind and the
outbox depth over time; lets the queues drain (for at most --drain seconds); and audits
(claims/invariants.py). It fails on any invariant break, any 5xx or any request left with
no answer at all.
"""

import contextlib
import datetime as dt
import http.client
import multiprocessing
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import redis
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from claims.choices import ClaimStatus, RunState
from claims.invariants import (
    FOLLOW_UP_CHECKS,
    MONEY_CHECKS,
    follow_up_breaks,
    money_invariant_breaks,
)
from claims.management.bench import require_postgresql
from claims.management.celery import tasks_queued
from claims.management.soak import drive
from claims.management.tariff import demo_tariff
from claims.models import (
    Claim,
    ClaimTransition,
    MarketplaceCompensation,
    Payout,
    ReconciliationRun,
    Recovery,
    WebhookDelivery,
    WebhookStatus,
)
from policies.actors import Actor
from policies.choices import ActorKind
from policies.ingest import sellers_upsert_bulk
from policies.models import (
    Marketplace,
    MarketplaceApiKey,
    OutboxMessage,
    Product,
    User,
)
from policies.outbox import OPEN, outbox_depth
from policies.services import marketplace_webhook_secret_rotate, policy_enrol

SELLERS = 6
# The first seller's tariff: a limit the soak's non-buyouts exhaust within a minute.
TIGHT_AGGREGATE = Decimal("20000.00")
STAFF = [
    ("adjuster", "Adjuster", Decimal("50000.00")),
    ("senior", "Senior adjuster", Decimal("1000000.00")),
]
WORKER_CONCURRENCY = 3
TASK_FAILURE = re.compile(r"Task (\S+)\[[^\]]*\] raised unexpected: (\w+)")
EXCEPTION_LINE = re.compile(r"^(?:[\w.]+\.)?(\w+(?:Error|Exception)): ", re.MULTILINE)
# The sweeps run every few seconds during the soak, not every half-minute or minute: a
# follow-up lost with Redis or the worker is sent again within a short run.
SOAK_SCHEDULE = {
    "policies.tasks.outbox_sweep_task": 5,
    "claims.tasks.long_tasks_resume_stale_task": 10,
    "claims.tasks.webhooks_retry_due_task": 10,
}


def worker_timeouts(redelivery: int) -> dict[str, str]:
    """The worker's timeouts, shortened like the schedule: what was sent to a worker that
    died, or into a Redis that was stopped, goes out again after `redelivery` seconds (the
    outbox's sweep, and Redis's own restore of unacknowledged tasks), not after minutes."""
    return {
        "OUTBOX_GRACE_SECONDS": "5",
        "OUTBOX_REDISPATCH_AFTER_SECONDS": str(redelivery),
        "CELERY_VISIBILITY_TIMEOUT": str(redelivery),
        "LONG_TASK_STALE_AFTER_SECONDS": str(max(10, redelivery // 3)),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url() -> str:
    """Return the URL of this process's database, for the servers to open."""
    s = connection.settings_dict
    user = quote(s["USER"] or "postgres") + (f":{quote(s['PASSWORD'])}" if s["PASSWORD"] else "")
    return f"postgres://{user}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class WebhookReceiver:
    """The soak marketplace's endpoint: answers 200 and keeps what each delivery said."""

    def __init__(self) -> None:
        received: list[tuple[str, dict]] = []
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    received.append((self.headers.get("X-Sellercover-Delivery", ""), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def deliveries(self) -> Counter:
        """Return how many times each delivery id arrived."""
        return Counter(uid for uid, _ in self.received)


class Site:
    """The soak's servers, each restartable: Redis, gunicorn, a Celery worker and beat."""

    def __init__(
        self, *, workdir: Path, port: int, redis_port: int, web_workers: int, redelivery: int
    ) -> None:
        self.workdir = workdir
        self.port = port
        self.redis_port = redis_port
        self.web_workers = web_workers
        self.broker_url = f"redis://127.0.0.1:{redis_port}/0"
        self.processes: dict[str, subprocess.Popen] = {}
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": self.broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            # The seller pages and the admin render with the static files of the source
            # tree, which DEBUG serves uncollected (collecting them takes over a minute).
            "DEBUG": "true",
            "API_KEY_THROTTLE_RATE": "1000000/min",
            "LOG_LEVEL": "WARNING",
            "CONN_MAX_AGE": "60",
            "EMAIL_URL": "dummymail://",
            "PRIVATE_MEDIA_ROOT": str(workdir / "media"),
            "SITE_URL": f"http://127.0.0.1:{port}",
            **worker_timeouts(redelivery),
        }

    def _start(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = (self.workdir / f"{name}.log").open("a")
        process = subprocess.Popen(
            argv,
            cwd=settings.BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group: a signal to the group reaches its children too.
            start_new_session=True,
        )
        log.close()
        self.processes[name] = process
        return process

    def start_redis(self) -> None:
        self._start(
            "redis",
            [
                *("redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port)),
                *("--save", "", "--appendonly", "no"),
            ],
        )
        client = redis.Redis(port=self.redis_port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                if client.ping():
                    return
            time.sleep(0.1)
        raise CommandError(f"redis-server did not start on port {self.redis_port}")

    def start_web(self) -> None:
        self._start(
            "web",
            [
                *(sys.executable, "-m", "gunicorn", "config.wsgi"),
                *("--workers", str(self.web_workers), "--bind", f"127.0.0.1:{self.port}"),
                *("--timeout", "60", "--log-level", "warning"),
            ],
        )

    def start_worker(self) -> None:
        self._start(
            "worker",
            [
                *(sys.executable, "-m", "celery", "-A", "config", "worker"),
                *(
                    "--pool=prefork",
                    f"--concurrency={WORKER_CONCURRENCY}",
                    # One worker for the soak's every queue (the Procfile runs one a queue).
                    "--queues",
                    ",".join(settings.CELERY_TASK_QUEUES),
                    "--loglevel=warning",
                ),
                *("--without-heartbeat", "--without-gossip", "--without-mingle"),
            ],
        )

    def wait_worker(self) -> None:
        """Wait until the worker's pool is up: killing it earlier would kill less of it."""
        deadline = time.monotonic() + 60
        while len(_group_members(self.processes["worker"].pid)) <= WORKER_CONCURRENCY:
            if time.monotonic() > deadline:
                raise CommandError("the Celery worker's pool did not start within 60 s")
            time.sleep(0.3)

    def start_beat(self) -> None:
        self._start(
            "beat",
            [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=warning"],
        )

    def kill(self, name: str) -> int:
        """SIGKILL the process group of `name`; return how many processes it held."""
        process = self.processes.pop(name)
        members = _group_members(process.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)
        return len(members)

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def stop_all(self) -> None:
        for name in ("beat", "worker", "web", "redis"):
            self.stop(name)

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _group_members(pgid: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            # The fields after the command's closing parenthesis: state, ppid, pgrp, ...
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) == pgid:
                members.append(int(stat.parent.name))
    return members


@contextlib.contextmanager
def soak_schedule():
    """Run the sweeps on beat every few seconds for the block; put the schedule back after."""
    tasks = PeriodicTask.objects.filter(task__in=SOAK_SCHEDULE)
    saved = list(tasks.values_list("pk", "interval_id", "crontab_id"))
    for task, seconds in SOAK_SCHEDULE.items():
        every, _ = IntervalSchedule.objects.get_or_create(
            every=seconds, period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.filter(task=task).update(interval=every, crontab=None)
    try:
        yield
    finally:
        for pk, interval_id, crontab_id in saved:
            PeriodicTask.objects.filter(pk=pk).update(
                interval_id=interval_id, crontab_id=crontab_id
            )


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.95 * (len(ordered) - 1))] if ordered else 0.0


def is_failure(status) -> bool:
    """A 5xx, or no HTTP answer at all (reset, refused, timeout)."""
    return not isinstance(status, int) or status >= 500


class Command(BaseCommand):
    help = "Soak the whole site under load, a Redis outage and a killed worker; audit after."

    def add_arguments(self, parser):
        parser.add_argument(
            "--seconds",
            type=float,
            default=float(os.environ.get("SOAK_SECONDS") or 60),
            help="how long the load runs (default: $SOAK_SECONDS, else 60)",
        )
        parser.add_argument(
            "--drain", type=float, default=180, help="at most this long for the queues to empty"
        )
        parser.add_argument("--port", type=int, default=0, help="gunicorn's (default: a free one)")
        parser.add_argument("--redis-port", type=int, default=0, help="(default: a free one)")
        parser.add_argument(
            "--redelivery",
            type=int,
            default=60,
            help="seconds after which a task lost with Redis or the worker is sent again",
        )
        parser.add_argument("--web-workers", type=int, default=3)
        parser.add_argument("--marketplaces", type=int, default=2, help="integration processes")
        parser.add_argument("--sellers", type=int, default=2, help="seller processes")
        parser.add_argument("--sample", type=float, default=5, help="seconds between samples")

    def handle(self, *args, **options):
        require_postgresql("soak")
        if shutil.which("redis-server") is None:
            raise CommandError("The soak starts a Redis of its own: install redis-server.")
        self.options = options
        self.workdir = Path(tempfile.mkdtemp(prefix="soak-"))
        site = Site(
            workdir=self.workdir,
            port=options["port"] or free_port(),
            redis_port=options["redis_port"] or free_port(),
            web_workers=options["web_workers"],
            redelivery=options["redelivery"],
        )
        receiver = WebhookReceiver()
        started = timezone.now()
        with contextlib.ExitStack() as stack:
            stack.callback(receiver.stop)
            stack.callback(site.stop_all)
            site.start_redis()
            with tasks_queued(broker_url=site.broker_url):
                seeded = self._seed(receiver_url=receiver.url)
            stack.enter_context(soak_schedule())
            site.start_worker()
            site.start_beat()
            site.start_web()
            self._wait_ready(site.port, seeded["key"])
            site.wait_worker()
            self.stdout.write(
                f"soak of {options['seconds']:.0f} s on {connection.settings_dict['NAME']},"
                f" marketplace {seeded['code']}; logs in {self.workdir}"
            )
            tallies, faults, wall = self._run(site, seeded)
            drained = self._drain(seeded)
            site.stop_all()
        claims = Claim.objects.filter(marketplace__code=seeded["code"])
        self._report(tallies, faults, wall, drained, site)
        failures = self._audit(claims, started, receiver)
        failures += sum(
            count
            for tally in tallies.values()
            for counts in tally["statuses"].values()
            for status, count in counts.items()
            if is_failure(status)
        )
        if failures:
            raise CommandError(f"soak failed: {failures} invariant break(s) or failed request(s)")
        self.stdout.write(self.style.SUCCESS("soak passed: no invariant broken, no 5xx"))

    # Seeding

    def _seed(self, *, receiver_url: str) -> dict:
        code = f"soak{secrets.token_hex(3)}"
        password = secrets.token_urlsafe(12)
        today = timezone.localdate()
        with transaction.atomic():
            marketplace = Marketplace.objects.create(
                code=code, name=f"Soak {code}", webhook_url=receiver_url
            )
            marketplace_webhook_secret_rotate(marketplace=marketplace)
            _, key = MarketplaceApiKey.objects.create_key(marketplace=marketplace, name="soak")
            products = [
                self._product(code, aggregate=Decimal("1000000.00")),
                self._product(f"{code}-tight", aggregate=TIGHT_AGGREGATE),
            ]
            results = sellers_upsert_bulk(
                marketplace=marketplace,
                items=[
                    {
                        "external_id": f"{code}-seller-{n}",
                        "legal_name": f"ООО «Выдержка {n}»",
                        "tax_id": "7708123450",
                        "email": f"{code}-seller-{n}@soak.local",
                        "language": "ru",
                    }
                    for n in range(SELLERS)
                ],
            )
            sellers = [result.obj for result in results]
            # One hash for every login: the production hasher takes a second for each.
            hashed = make_password(password)
            User.objects.bulk_create(
                [User(email=seller.email, password=hashed, seller=seller) for seller in sellers]
            )
            staff = []
            for name, group, limit in STAFF:
                user = User.objects.create(
                    email=f"{code}-{name}@soak.local",
                    password=hashed,
                    is_staff=True,
                    authority_limit=limit,
                )
                user.groups.add(Group.objects.get(name=group))
                staff.append(user.email)
            for n, seller in enumerate(sellers):
                policy_enrol(
                    seller=seller,
                    product_code=products[1 if n == 0 else 0].code,
                    starts_on=today - dt.timedelta(days=30),
                    actor=Actor.system(),
                )
            # Off sale once its sellers are enrolled: no one else is offered the soak's tariffs.
            Product.objects.filter(pk__in=[p.pk for p in products]).update(is_active=False)
        return {
            "code": code,
            "key": key,
            "password": password,
            "marketplace_id": marketplace.pk,
            "sellers": [{"external_id": s.external_id, "email": s.email} for s in sellers],
            "staff": staff,
        }

    def _product(self, code: str, *, aggregate: Decimal) -> Product:
        """A tariff with the demo's terms (DESIGN §3) and the given aggregate limit."""
        product = Product.objects.create(code=code, name=f"Выдержка {code}")
        demo_tariff(product, aggregate_limit=aggregate)
        return product

    def _wait_ready(self, port: int, key: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request(
                    "GET",
                    "/api/v1/claims/?page_size=1",
                    headers={"Authorization": f"Api-Key {key}"},
                )
                if conn.getresponse().status == 200:
                    return
            time.sleep(0.3)
        raise CommandError("gunicorn did not answer within 60 s")

    # The run

    def _plans(self, seeded: dict, site: Site, deadline: float) -> list[dict]:
        seconds = self.options["seconds"]
        now = time.time()
        common = {
            "port": site.port,
            "key": seeded["key"],
            "code": seeded["code"],
            "password": seeded["password"],
            "marketplace_id": seeded["marketplace_id"],
            "sellers": seeded["sellers"],
            "deadline": deadline,
            "seed": seeded["code"],
        }
        plans = [
            {**common, "role": "marketplace", "index": n, "pause": 1.0}
            for n in range(self.options["marketplaces"])
        ]
        plans += [
            {
                **common,
                "role": "seller",
                "index": n,
                "seller": seeded["sellers"][n + 1],
                "claims": 40,
                "pause": 0.5,
            }
            for n in range(min(self.options["sellers"], SELLERS - 1))
        ]
        # The senior starts a run before the worker is killed and one near the end.
        plans += [
            {
                **common,
                "role": "adjuster",
                "index": n,
                "email": email,
                "pause": 0.3,
                "reconcile_at": [now + 0.5 * seconds, now + 0.8 * seconds] if n else [],
            }
            for n, email in enumerate(seeded["staff"])
        ]
        return plans

    def _run(self, site: Site, seeded: dict):
        seconds = self.options["seconds"]
        outage = min(10.0, seconds / 4)
        start = time.time()
        deadline = start + seconds
        context = multiprocessing.get_context("spawn")
        counter = context.Value("q", 0)
        results = context.Queue()
        processes = [
            context.Process(target=drive, args=(plan, counter, results), daemon=True)
            for plan in self._plans(seeded, site, deadline)
        ]
        for process in processes:
            process.start()
        self.stdout.write(
            f"outbox depth over time (every {self.options['sample']:.0f} s), and faults"
        )
        schedule = [
            (start + 0.25 * seconds, "redis_stop"),
            (start + 0.25 * seconds + outage, "redis_start"),
            (start + 0.6 * seconds, "worker_kill"),
            (start + 0.6 * seconds + 2, "worker_start"),
        ]
        faults = []
        next_sample, last = start, (start, 0)
        while time.time() < deadline or schedule:
            now = time.time()
            while schedule and schedule[0][0] <= now:
                _, fault = schedule.pop(0)
                faults.append(self._fault(site, fault, now - start, outage))
            if now >= next_sample and now < deadline:
                with counter.get_lock():
                    done = counter.value
                rate = (done - last[1]) / max(now - last[0], 1e-6)
                last = (now, done)
                self._sample(now - start, rate)
                next_sample += self.options["sample"]
            time.sleep(0.1)
        tallies = dict(results.get(timeout=120) for _ in processes)
        for process in processes:
            process.join(timeout=30)
        return tallies, faults, time.time() - start

    def _fault(self, site: Site, fault: str, at: float, outage: float) -> str:
        if fault == "redis_stop":
            site.kill("redis")
            text = f"{at:5.1f} s  Redis stopped for {outage:.0f} s (all it held is lost)"
        elif fault == "redis_start":
            site.start_redis()
            text = f"{at:5.1f} s  Redis started again, empty"
        elif fault == "worker_kill":
            members = site.kill("worker")
            text = f"{at:5.1f} s  worker killed: SIGKILL to its process group ({members} processes)"
        else:
            site.start_worker()
            text = f"{at:5.1f} s  worker started again"
        self.stdout.write(text)
        return text

    def _sample(self, at: float, rate: float | None) -> None:
        depth = outbox_depth()
        oldest = depth["oldest"]
        age = f"{(timezone.now() - oldest).total_seconds():.0f} s" if oldest else "-"
        text = (
            f"{at:6.1f} s  {rate:6.1f} req/s  "
            if rate is not None
            else f"{at:6.1f} s  draining     "
        ) + (
            f"outbox pending {depth['pending']:5}  sent {depth['dispatched']:5}"
            f"  given up {depth['dead']:3}  oldest open {age}"
        )
        self.stdout.write(text)

    def _drain(self, seeded: dict) -> float | None:
        """Wait for the queues to empty; return how long it took, or None if they did not."""
        started = time.time()
        limit = self.options["drain"]
        next_sample = started
        while time.time() - started < limit:
            if not self._busy(seeded["code"]):
                return time.time() - started
            if time.time() >= next_sample:
                self._sample(self.options["seconds"] + time.time() - started, None)
                next_sample += self.options["sample"]
            time.sleep(1)
        return None

    def _busy(self, code: str) -> bool:
        return (
            OutboxMessage.objects.filter(status__in=OPEN).exists()
            or ReconciliationRun.objects.filter(state=RunState.RUNNING).exists()
            or WebhookDelivery.objects.filter(
                claim__marketplace__code=code, status=WebhookStatus.PENDING
            ).exists()
        )

    # What it shows

    def _report(self, tallies, faults, wall, drained, site: Site) -> None:
        statuses, latencies, items = {}, {}, {}
        for tally in tallies.values():
            for kind, counts in tally["statuses"].items():
                statuses.setdefault(kind, Counter()).update(counts)
            for kind, values in tally["latencies"].items():
                latencies.setdefault(kind, []).extend(values)
            for kind, counts in tally["items"].items():
                items.setdefault(kind, Counter()).update(counts)
        total = sum(sum(c.values()) for c in statuses.values())
        out = self.stdout.write
        out("")
        out(f"requests              {total:,} in {wall:.1f} s: {total / wall:.1f} requests/s")
        roles = Counter(name.split()[0] for name in tallies)
        out("client processes      " + ", ".join(f"{n} {role}" for role, n in roles.items()))
        out(f"{'kind':<20} {'requests':>8} {'req/s':>7} {'p95 ms':>7}  answers by status")
        for kind in sorted(statuses):
            counts = statuses[kind]
            answers = ", ".join(f"{s}: {n:,}" for s, n in sorted(counts.items(), key=str))
            out(
                f"{kind:<20} {sum(counts.values()):>8,} {sum(counts.values()) / wall:>7.1f}"
                f" {p95(latencies[kind]) * 1000:>7.0f}  {answers}"
            )
        errors = {
            kind: {s: n for s, n in counts.items() if not isinstance(s, int) or s >= 400}
            for kind, counts in statuses.items()
        }
        out(
            "errors by kind        "
            + (
                "; ".join(
                    f"{kind} " + ", ".join(f"{s}: {n}" for s, n in sorted(e.items(), key=str))
                    for kind, e in sorted(errors.items())
                    if e
                )
                or "none"
            )
        )
        for kind in sorted(items):
            outcomes = ", ".join(f"{o}: {n:,}" for o, n in sorted(items[kind].items()))
            out(f"items of {kind:<13} {outcomes}")
        out("faults                " + "; ".join(" ".join(f.split()) for f in faults))
        out(
            f"drain                 queues empty {drained:.0f} s after the load stopped"
            if drained is not None
            else f"drain                 queues NOT empty after {self.options['drain']:.0f} s"
        )
        web = Counter(EXCEPTION_LINE.findall(site.log("web")))
        if web:
            out("server exceptions     " + ", ".join(f"{e}: {n}" for e, n in web.most_common()))
        tasks = Counter(f"{t} {e}" for t, e in TASK_FAILURE.findall(site.log("worker")))
        if tasks:
            out("task failures         " + ", ".join(f"{t}: {n}" for t, n in tasks.most_common()))

    def _audit(self, claims, started, receiver: WebhookReceiver) -> int:
        out = self.stdout.write
        by_status = Counter(claims.values_list("status", flat=True))
        out("")
        out(
            f"audit of {sum(by_status.values()):,} claims: "
            + ", ".join(f"{status} {n:,}" for status, n in by_status.most_common())
        )
        paid = Payout.objects.filter(claim__in=claims).aggregate(n=Count("pk"), total=Sum("amount"))
        owed = Recovery.objects.filter(claim__in=claims).aggregate(
            n=Count("pk"), total=Sum("amount")
        )
        counted = MarketplaceCompensation.objects.filter(claim__in=claims).count()
        out(
            f"  money: {paid['n']:,} payouts, {paid['total'] or 0:,} ₽; {owed['n']:,} recoveries"
            f" raised, {owed['total'] or 0:,} ₽; {counted:,} compensation records counted"
        )
        for run in ReconciliationRun.objects.filter(created_at__gte=started).order_by("pk"):
            out(
                f"  reconciliation run #{run.pk} ({run.state}): {run.total:,} records,"
                f" {run.matched:,} matched, {run.claims_released:,} claims released,"
                f" {run.recoveries_raised:,} recoveries raised"
            )
        breaks = money_invariant_breaks(claims=claims) + follow_up_breaks(
            claims=claims, since=started
        )
        for check, text in {**MONEY_CHECKS, **FOLLOW_UP_CHECKS}.items():
            found = [b for b in breaks if b.check == check]
            out(f"  {text:<76} {'ok' if not found else f'{len(found)} BROKEN'}")
            for b in found[:5]:
                out(f"      {b.subject}: {b.detail}")
        waiting = (
            ClaimTransition.objects.filter(
                claim__in=claims.filter(status=ClaimStatus.APPROVED, payable_amount__gt=0),
                target_state=ClaimStatus.APPROVED,
                actor_kind=ActorKind.USER,
            )
            .values("claim")
            .distinct()
            .count()
        )
        delivered = set(
            str(uid)
            for uid in WebhookDelivery.objects.filter(
                claim__in=claims, status=WebhookStatus.DELIVERED
            ).values_list("uid", flat=True)
        )
        arrived = receiver.deliveries()
        unseen = delivered - arrived.keys()
        repeats = sum(n - 1 for n in arrived.values())
        out(
            f"  webhooks: {len(delivered):,} delivered, {len(unseen)} of them never received,"
            f" {repeats} received again (the receiver drops them by X-Sellercover-Delivery)"
        )
        out(
            f"  outbox: {OutboxMessage.objects.filter(created_at__gte=started).count():,}"
            f" follow-ups written; {waiting} claim(s) approved by an adjuster await their payment"
        )
        return len(breaks) + len(unseen)
