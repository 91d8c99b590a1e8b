"""Benchmark: the hot queries' plans on a million claims and ten million shipment events.

Builds, in a PostgreSQL database of its own (dropped and made again; `--reuse` keeps the
last one built), a marketplace's worth of rows with set-based INSERTs from
generate_series: sellers, policies, shipments, events spread over twelve months'
partitions, claims with their transitions, payouts, documents, evidence and compensation
records. Then it drives the real code of each hot path, the admin's claim queue and its
filters, the API's claim list, one reconciliation chunk, the seller's pages and the
ingest's lookups, with a wrapper on the database connection that asks PostgreSQL for the
plan of each statement before running it. A plan passes when no node reads a large
table (over LARGE_ROWS rows) by a sequential scan. It prints each statement's verdict,
time and plan cost, the failing nodes, and the build's figures. Writes the paths make
(a reconciliation chunk, an ingest batch) are rolled back.
"""

import datetime as dt
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from claims.choices import ClaimStatus
from claims.management.bench import require_postgresql
from claims.models import (
    Claim,
    ClaimMessage,
    ClaimTransition,
    Evidence,
    MarketplaceCompensation,
    Payout,
    Recovery,
)
from claims.reconciliation.run import reconciliation_run, reconciliation_start
from policies.choices import Cover, PolicyStatus, PremiumBasis
from policies.ingest import shipment_events_record_bulk, shipments_record_bulk
from policies.models import (
    CoverTerms,
    Document,
    Marketplace,
    MarketplaceApiKey,
    Policy,
    Product,
    ProductVersion,
    Seller,
    Shipment,
    ShipmentEvent,
    User,
)
from policies.partitions import KEYS, event_partitions_create

LARGE_ROWS = 100_000
SELLERS = 20_000
MARKETPLACES = 3
MONTHS = 12
# Of every hundred claims, by status: most are settled, a tenth or so in the queue.
STATUS_SHARES = [
    (ClaimStatus.CLOSED, 52),
    (ClaimStatus.PAID, 15),
    (ClaimStatus.REJECTED, 8),
    (ClaimStatus.WITHDRAWN, 2),
    (ClaimStatus.AWAITING_COMPENSATION, 8),
    (ClaimStatus.UNDER_REVIEW, 6),
    (ClaimStatus.SUBMITTED, 3),
    (ClaimStatus.INFO_REQUESTED, 2),
    (ClaimStatus.APPROVED, 3),
    (ClaimStatus.DRAFT, 1),
]
# Where claim c falls among STATUS_SHARES: spread over every seller's claims alike (the big
# seller's are every fiftieth, so c alone would give them all one status).
SHARE = "(c * 7 + c / 50)"
EXPLAINED = re.compile(r"^\s*(SELECT|WITH|INSERT|UPDATE|DELETE|CREATE TEMP(ORARY)? TABLE)", re.I)


def _status_case(column: str) -> str:
    """SQL: the status of claim number `column`, by STATUS_SHARES of every hundred."""
    whens, upto = [], 0
    for status, share in STATUS_SHARES:
        upto += share
        whens.append(f"WHEN {column} %% 100 < {upto} THEN '{status}'")
    return f"CASE {' '.join(whens)} END"


# Shipment s belongs to seller number seller(s): one shipment in a hundred to seller 0, the
# big seller whose pages are measured (with 2 % of the claims), the rest spread over all;
# seller k's id is k + 1, its policy's too, and it sells on marketplace number
# k % MARKETPLACES.
def _seller(s: str) -> str:
    return f"(CASE WHEN {s} %% 100 = 0 THEN 0 ELSE {s} %% {SELLERS} END)"


def _marketplace(k: str) -> str:
    return f"(%(mps)s::bigint[])[{k} %% {MARKETPLACES} + 1]"


@dataclass
class Statement:
    path: str
    sql: str
    cost: float
    ms: float
    seq_scans: list[str]
    large: bool


@dataclass
class Recorder:
    """An execute wrapper that asks for each statement's plan before running it."""

    large: dict[str, int]
    path: str = ""
    statements: list[Statement] = field(default_factory=list)

    def __call__(self, execute, sql, params, many, context):
        if not self.path or many or not EXPLAINED.match(sql):
            return execute(sql, params, many, context)
        raw = context["cursor"].cursor
        raw.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        [plan] = raw.fetchone()[0]
        started = time.perf_counter()
        result = execute(sql, params, many, context)
        ms = (time.perf_counter() - started) * 1000
        nodes = list(_nodes(plan["Plan"]))
        relations = {node.get("Relation Name") for node in nodes}
        self.statements.append(
            Statement(
                path=self.path,
                sql=" ".join(sql.split()),
                cost=plan["Plan"]["Total Cost"],
                ms=ms,
                seq_scans=[
                    f"{node['Node Type']} on {node['Relation Name']}"
                    f" (≈{self.large[node['Relation Name']]:,} rows)"
                    for node in nodes
                    if node["Node Type"] == "Seq Scan" and node["Relation Name"] in self.large
                ],
                large=bool(relations & self.large.keys()),
            )
        )
        return result


def _nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


class _RolledBack(Exception):
    pass


class Command(BaseCommand):
    help = "EXPLAIN the hot queries on a million claims and ten million events (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument("--claims", type=int, default=1_000_000)
        parser.add_argument("--events", type=int, default=10_000_000)
        parser.add_argument(
            "--database",
            default="",
            help="the database to build, dropped first (default: this one's name + _explain)",
        )
        parser.add_argument(
            "--reuse", action="store_true", help="keep the database the last run built"
        )
        parser.add_argument(
            "--all",
            action="store_true",
            dest="show_all",
            help="print the statements on small tables too",
        )

    def handle(self, *args, claims, events, database, reuse, show_all, **options):
        require_postgresql("bench_explain")
        name = database or f"{connection.settings_dict['NAME']}_explain"
        if not reuse:
            self._create_database(name)
        connection.close()
        connection.settings_dict["NAME"] = name
        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        if not reuse:
            self._build(claims=claims, events=events)
        # As autovacuum leaves a table in production: statistics, and the visibility map
        # that lets an index-only scan skip the rows.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")
        self.stdout.write(f"database {name} ready in {time.perf_counter() - started:.0f} s")
        self._report_sizes()
        recorder = Recorder(large=self._large_relations())
        with connection.execute_wrapper(recorder):
            self._drive(recorder)
        self._report(recorder, show_all=show_all)

    # The database

    def _create_database(self, name: str) -> None:
        if not re.fullmatch(r"[a-z0-9_]+", name):
            raise CommandError(f"--database: lower-case letters, digits and _ only, not {name!r}")
        quoted = connection.ops.quote_name(name)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {quoted}")
            cursor.execute(f"CREATE DATABASE {quoted}")

    def _timed(self, label: str, sql: str, params: dict) -> None:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.rowcount
        self.stdout.write(
            f"  {label:<24} {rows:>12,} rows in {time.perf_counter() - started:6.1f} s"
        )

    def _insert(self, model, label: str, source: str, values: dict[str, str], params: dict):
        """INSERT … SELECT into the model's table: `values` gives each column's SQL over
        `source`; any other column takes its field's default (NULL where allowed)."""
        columns, exprs = [], []
        for f in model._meta.concrete_fields:
            if f.attname in values:
                expr = values[f.attname]
            elif f.primary_key:
                continue
            elif f.has_default() or (f.empty_strings_allowed and not f.null):
                params[f"default_{f.column}"] = f.get_db_prep_save(f.get_default(), connection)
                expr = f"%(default_{f.column})s"
            elif f.null:
                expr = "NULL"
            else:
                raise CommandError(f"{model.__name__}.{f.name}: no value for the benchmark")
            columns.append(connection.ops.quote_name(f.column))
            exprs.append(expr)
        self._timed(
            label,
            f"INSERT INTO {model._meta.db_table} ({', '.join(columns)})"
            f" SELECT {', '.join(exprs)} FROM {source}",
            params,
        )

    def _build(self, *, claims: int, events: int) -> None:
        self.stdout.write(f"building {claims:,} claims and {events:,} events:")
        started = time.perf_counter()
        now = timezone.now()
        today = timezone.localdate()
        event_partitions_create(today=today - dt.timedelta(days=MONTHS * 31), ahead=MONTHS + 1 + 3)
        marketplaces = [
            Marketplace.objects.create(code=f"mp{n}", name=f"Marketplace {n}")
            for n in range(MARKETPLACES)
        ]
        version = self._product(today)
        staff = self._users()
        shipments = max(events // 5, 2 * claims)
        p = {
            "mps": [m.pk for m in marketplaces],
            "staff": [u.pk for u in staff],
            "now": now,
            "today": today,
            "version": version.pk,
            "sellers": SELLERS,
            "shipments": shipments,
            "claims": claims,
            "events": events,
            "claim_type": ContentType.objects.get_for_model(Claim).pk,
        }
        with connection.cursor() as cursor:
            # The bulk load checks no foreign key and fires no trigger: the keys of the
            # events are written once, after them.
            cursor.execute("SET session_replication_role = replica")
            cursor.execute("SET maintenance_work_mem = '512MB'")
        self._insert(
            Seller,
            "sellers",
            f"generate_series(0, {SELLERS - 1}) k",
            {
                "id": "k + 1",
                "marketplace_id": _marketplace("k"),
                "external_id": "'seller-' || k",
                "legal_name": "'ООО «Продавец ' || k || '»'",
                "tax_id": "'77' || lpad(k::text, 8, '0')",
                "email": "'s' || k || '@example.com'",
                "created_at": "%(now)s",
                "updated_at": "%(now)s",
            },
            p,
        )
        self._insert(
            Policy,
            "policies",
            f"generate_series(0, {SELLERS - 1}) k",
            {
                "id": "k + 1",
                "number": "'POL-' || k",
                "marketplace_id": _marketplace("k"),
                "external_id": "NULL",
                "seller_id": "k + 1",
                "product_version_id": "%(version)s",
                "period_start": "%(today)s::date - 400",
                "period_end": "%(today)s::date + 330",
                "status": f"'{PolicyStatus.ACTIVE}'",
                "activated_at": "%(now)s",
                "created_at": "%(now)s",
                "updated_at": "%(now)s",
            },
            p,
        )
        shipped = f"%(now)s - ((s %% {MONTHS * 30}) || ' days')::interval"
        self._insert(
            Shipment,
            "shipments",
            "generate_series(1, %(shipments)s) s",
            {
                "id": "s",
                "marketplace_id": _marketplace(_seller("s")),
                "external_id": "'s' || s",
                "seller_id": f"{_seller('s')} + 1",
                "policy_id": f"{_seller('s')} + 1",
                "order_id": "'o' || (s / 2)",
                "sku": "'SKU-' || (s %% 5000)",
                "category": "'Одежда'",
                "declared_value": "1000 + (s %% 900) * 10",
                "shipped_at": shipped,
                "premium": "14.00",
                "created_at": shipped,
                "updated_at": shipped,
            },
            p,
        )
        # Five events a shipment, received over the days after it shipped.
        kinds = "(ARRAY['shipped', 'delivered', 'bought_out', 'non_buyout', 'returned'])"
        received = (
            f"%(now)s - (((g - 1) / 5 + 1) %% {MONTHS * 30} || ' days')::interval"
            " + ((g - 1) %% 5 || ' hours')::interval"
        )
        self._insert(
            ShipmentEvent,
            "shipment events",
            "generate_series(1, %(events)s) g",
            {
                "id": "g",
                "marketplace_id": _marketplace(_seller("((g - 1) / 5 + 1)")),
                "external_id": "'e' || g",
                "shipment_id": "(g - 1) / 5 + 1",
                "kind": f"{kinds}[(g - 1) %% 5 + 1]",
                "occurred_at": received,
                "created_at": received,
            },
            p,
        )
        self._timed(
            "event keys",
            f"INSERT INTO {KEYS} SELECT marketplace_id, external_id, id, created_at"
            f" FROM {ShipmentEvent._meta.db_table}",
            p,
        )
        # Claim c is on shipment 2c.
        created = f"%(now)s - ((c %% {MONTHS * 30}) || ' days')::interval"
        status = _status_case(SHARE)
        open_ = f"{SHARE} %% 100 BETWEEN 77 AND 98"
        signoff = f"{SHARE} %% 100 BETWEEN 77 AND 82 AND c %% 7 = 0"
        self._insert(
            Claim,
            "claims",
            "generate_series(1, %(claims)s) c",
            {
                "id": "c",
                "number": "'CL-' || c",
                "marketplace_id": _marketplace(_seller("(2 * c)")),
                "external_id": "CASE WHEN c %% 3 = 0 THEN NULL ELSE 'x' || c END",
                "seller_id": f"{_seller('(2 * c)')} + 1",
                "policy_id": f"{_seller('(2 * c)')} + 1",
                "shipment_id": "2 * c",
                "cover": f"CASE WHEN c %% 3 = 0 THEN '{Cover.RETURN_LOGISTICS}'"
                f" ELSE '{Cover.CARGO}' END",
                "peril": "(ARRAY['non_buyout', 'loss', 'damage'])[c %% 3 + 1]",
                "event_date": f"({created})::date",
                "event_key": "'o' || c || '|loss|' || c",
                "source": "(ARRAY['seller', 'marketplace', 'report'])[c %% 3 + 1]",
                "status": status,
                "flags": "CASE WHEN c %% 50 = 7 THEN '[\"sla_breached\"]'::jsonb"
                " ELSE '[]'::jsonb END",
                "claimed_amount": "1000 + (c %% 900) * 10",
                "payable_amount": f"CASE WHEN {SHARE} %% 100 BETWEEN 52 AND 66 THEN 900 ELSE 0 END",
                "assignee_id": f"CASE WHEN {open_} AND c %% 4 = 0"
                " THEN (%(staff)s::bigint[])[c %% 10 + 1] END",
                "signoff_requested_by_id": f"CASE WHEN {signoff} THEN (%(staff)s::bigint[])[1] END",
                "signoff_requested_at": f"CASE WHEN {signoff} THEN %(now)s END",
                "submitted_at": created,
                "status_changed_at": created,
                "decided_at": f"CASE WHEN NOT ({open_}) THEN {created} END",
                "sla_started_on": f"({created})::date",
                "due_on": f"CASE WHEN {open_} THEN ({created})::date + 20 END",
                "created_at": created,
                "updated_at": f"{created} + ((c %% 5) || ' days')::interval",
            },
            p,
        )
        self._insert(
            ClaimTransition,
            "claim transitions",
            f"{Claim._meta.db_table} cl CROSS JOIN generate_series(1, 3) n",
            {
                "claim_id": "cl.id",
                "transition": "(ARRAY['submit', 'triage', 'close'])[n]",
                "source_state": "(ARRAY['draft', 'submitted', 'paid'])[n]",
                "target_state": "(ARRAY['submitted', 'under_review', 'closed'])[n]",
                "at": "cl.created_at + (n || ' hours')::interval",
                "actor_kind": "'system'",
            },
            p,
        )
        self._insert(
            Payout,
            "payouts",
            f"{Claim._meta.db_table} cl WHERE cl.payable_amount > 0",
            {
                "claim_id": "cl.id",
                "policy_id": "cl.policy_id",
                "amount": "cl.payable_amount",
                "paid_on": "cl.created_at::date + 10",
                "reference": "'PAY-' || cl.id",
                "created_at": "cl.created_at",
            },
            p,
        )
        self._insert(
            Recovery,
            "recoveries",
            f"{Claim._meta.db_table} cl WHERE cl.payable_amount > 0 AND cl.id %% 20 = 0",
            {"claim_id": "cl.id", "amount": "100", "raised_at": "cl.created_at"},
            p,
        )
        self._insert(
            Document,
            "documents",
            f"{Claim._meta.db_table} cl",
            {
                "kind": "'claim_acknowledgement'",
                "key": "'ack-' || cl.id",
                "seller_id": "cl.seller_id",
                "policy_id": "cl.policy_id",
                "owner_type_id": "%(claim_type)s",
                "owner_id": "cl.id",
                "file": "'documents/claim_acknowledgement/ack-' || cl.id || '.pdf'",
                "sha256": "md5(cl.id::text) || md5(cl.id::text)",
                "created_at": "cl.created_at",
            },
            p,
        )
        self._insert(
            Evidence,
            "evidence",
            f"{Claim._meta.db_table} cl WHERE cl.id %% 3 = 0",
            {
                "claim_id": "cl.id",
                "file": "'evidence/' || cl.seller_id || '/' || cl.id || '/photo.jpg'",
                "original_name": "'photo.jpg'",
                "content_type": "'image/jpeg'",
                "size": "200000",
                "sha256": "md5(cl.id::text) || md5(cl.id::text)",
                "created_at": "cl.created_at",
            },
            p,
        )
        self._insert(
            ClaimMessage,
            "claim messages",
            f"{Claim._meta.db_table} cl WHERE cl.id %% 5 = 1",
            {
                "claim_id": "cl.id",
                "author_kind": "'seller'",
                "body": "'Фото упаковки приложено.'",
                "created_at": "cl.created_at",
            },
            p,
        )
        # One record per claim, counted on it; every twentieth still waits for a run, with
        # its shipment known or not.
        pending = "cl.id %% 20 = 3"
        self._insert(
            MarketplaceCompensation,
            "compensations",
            f"{Claim._meta.db_table} cl",
            {
                "marketplace_id": "cl.marketplace_id",
                "external_id": "'k' || cl.id",
                "seller_id": "cl.seller_id",
                "shipment_external_id": f"CASE WHEN {pending} AND cl.id %% 40 = 3"
                " THEN 'unknown-' || cl.id ELSE 's' || cl.shipment_id END",
                "shipment_id": f"CASE WHEN {pending} THEN NULL ELSE cl.shipment_id END",
                "reason": "CASE WHEN cl.cover = 'cargo' THEN 'loss' ELSE 'non_buyout' END",
                "amount": "300",
                "paid_on": "cl.created_at::date + 5",
                "source": "'csv'",
                "claim_id": f"CASE WHEN {pending} THEN NULL ELSE cl.id END",
                "matched_at": f"CASE WHEN {pending} THEN NULL ELSE cl.created_at END",
                "created_at": "cl.created_at",
            },
            p,
        )
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = DEFAULT")
            for model in (Seller, Policy, Shipment, ShipmentEvent, Claim):
                table = model._meta.db_table
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
                )
        self.stdout.write(f"  built in {time.perf_counter() - started:.0f} s")

    def _product(self, today: dt.date) -> ProductVersion:
        product = Product.objects.create(code="bench", name="Bench cover")
        version = ProductVersion.objects.create(
            product=product,
            version=1,
            effective_from=today - dt.timedelta(days=800),
            aggregate_limit=10_000_000,
            auto_approve_threshold=5000,
        )
        for cover in Cover.values:
            CoverTerms.objects.create(
                product_version=version,
                cover=cover,
                premium_basis=PremiumBasis.FEE_PER_SHIPMENT,
                premium_fee=14,
                per_claim_limit=100_000,
            )
        return version

    def _users(self) -> list[User]:
        staff = [
            User.objects.create_user(f"adjuster{n}@bench.local", is_staff=True) for n in range(10)
        ]
        User.objects.create_superuser("desk@bench.local")
        return staff

    def _report_sizes(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.relname, c.reltuples, pg_total_relation_size(c.oid)"
                " FROM pg_class c WHERE c.relkind = 'r' AND c.reltuples >= %s"
                " AND c.relnamespace = 'public'::regnamespace ORDER BY c.reltuples DESC",
                [LARGE_ROWS],
            )
            rows = cursor.fetchall()
        self.stdout.write("large tables (rows estimated, size with indexes):")
        for name, tuples, size in rows:
            self.stdout.write(f"  {name:<40} {int(tuples):>12,} {size / 2**20:>9,.0f} MiB")

    def _large_relations(self) -> dict[str, int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname, reltuples FROM pg_class WHERE relkind = 'r' AND reltuples >= %s",
                [LARGE_ROWS],
            )
            return {name: int(rows) for name, rows in cursor.fetchall()}

    # The hot paths

    def _drive(self, recorder: Recorder) -> None:
        desk = User.objects.get(email="desk@bench.local")
        big_seller = Seller.objects.get(pk=1)
        seller_user, _ = User.objects.get_or_create(
            email="seller0@bench.local", defaults={"seller": big_seller}
        )
        claim = Claim.objects.filter(seller=big_seller, status=ClaimStatus.UNDER_REVIEW).first()
        shipment = claim.shipment
        client = Client()

        def get(path: str, url: str, **extra) -> dict | None:
            recorder.path = path
            response = client.get(url, secure=True, HTTP_HOST="localhost", **extra)
            recorder.path = ""
            if response.status_code != 200:
                raise CommandError(f"{path}: {url} answered {response.status_code}")
            return response.json() if response["Content-Type"] == "application/json" else None

        client.force_login(desk)
        queue = reverse("admin:claims_claim_changelist")
        for query in (
            "",
            f"status={ClaimStatus.UNDER_REVIEW}",
            "sla=breached",
            "sla=due_soon",
            "assigned=me",
            "assigned=nobody",
            "signoff=waiting",
            "signoff=mine",
            f"marketplace__id__exact={big_seller.marketplace_id}",
            "source=report",
            "cover=cargo",
            "peril=loss",
            f"q={claim.number}",
            f"q={shipment.external_id}",
            f"q={shipment.order_id}",
            f"q={big_seller.tax_id}",
        ):
            get(f"admin queue ?{query}", f"{queue}?{query}")

        _, key = MarketplaceApiKey.objects.create_key(
            marketplace=big_seller.marketplace, name="bench"
        )
        api = reverse("claim-list")
        auth = {"HTTP_AUTHORIZATION": f"Api-Key {key}"}
        since = f"{timezone.now() - dt.timedelta(days=3):%Y-%m-%dT%H:%M:%SZ}"
        for query in (
            "",
            f"updated_since={since}",
            f"status={ClaimStatus.UNDER_REVIEW}",
            f"seller={big_seller.external_id}",
        ):
            page = get(f"API claim list ?{query}", f"{api}?{query}", **auth)
            if page.get("next"):
                get(f"API claim list ?{query} (next page)", page["next"], **auth)

        client.force_login(seller_user)
        for label, url in (
            ("dashboard", reverse("seller:dashboard")),
            ("claims", reverse("seller:claims")),
            ("claims ?status", f"{reverse('seller:claims')}?status={ClaimStatus.CLOSED}"),
            ("claims ?q", f"{reverse('seller:claims')}?q={shipment.order_id}"),
            ("claim", reverse("seller:claim", args=[claim.number])),
            ("shipments", reverse("seller:shipments")),
            ("shipments ?event", f"{reverse('seller:shipments')}?event=delivered"),
            ("shipment", reverse("seller:shipment", args=[shipment.pk])),
            ("policies", reverse("seller:policies")),
        ):
            get(f"seller {label}", url)

        self._rolled_back(recorder, "reconciliation chunk", self._reconcile_chunk)
        events, shipments = self._ingest_batches(big_seller)
        self._rolled_back(
            recorder,
            "ingest batch",
            lambda: (
                shipment_events_record_bulk(marketplace=big_seller.marketplace, items=events),
                shipments_record_bulk(marketplace=big_seller.marketplace, items=shipments),
            ),
        )

    def _rolled_back(self, recorder: Recorder, path: str, work) -> None:
        recorder.path = path
        try:
            with transaction.atomic():
                work()
                raise _RolledBack
        except _RolledBack:
            pass
        finally:
            recorder.path = ""

    def _reconcile_chunk(self) -> None:
        run = reconciliation_start(trigger="benchmark")
        reconciliation_run(run_id=run.pk, seconds=0)

    def _ingest_batches(self, seller: Seller) -> tuple[list[dict], list[dict]]:
        """Return a batch of a thousand events, half of them sent before, and one of
        shipments, half of them known."""
        stored = list(
            ShipmentEvent.objects.filter(shipment__seller=seller, marketplace=seller.marketplace)
            .select_related("shipment")
            .order_by("-shipment_id")[:500]
        )
        now = timezone.now()
        events = [
            {
                "external_id": event.external_id,
                "shipment": event.shipment.external_id,
                "kind": event.kind,
                "occurred_at": event.occurred_at,
                "amount": event.amount,
            }
            for event in stored
        ] + [
            {
                "external_id": f"new-{n}",
                "shipment": stored[n % len(stored)].shipment.external_id,
                "kind": "delivered",
                "occurred_at": now,
            }
            for n in range(500)
        ]
        shipments = [
            {
                "external_id": f"new-s{n}" if n % 2 else stored[n].shipment.external_id,
                "seller": seller,
                "order_id": f"new-o{n}",
                "sku": "SKU",
                "category": "Одежда",
                "declared_value": 1000,
                "warehouse": "",
                "pickup_point": "",
                "fulfilment": "marketplace",
                "shipped_at": now,
            }
            for n in range(500)
        ]
        return events, shipments

    # The report

    def _report(self, recorder: Recorder, *, show_all: bool) -> None:
        by_path = defaultdict(list)
        for statement in recorder.statements:
            by_path[statement.path or "(outside a path)"].append(statement)
        failed = 0
        for path, statements in by_path.items():
            shown = [s for s in statements if show_all or s.large or s.seq_scans]
            total = sum(s.ms for s in statements)
            verdict = "FAIL" if any(s.seq_scans for s in statements) else "PASS"
            self.stdout.write(
                f"\n{verdict}  {path}: {len(statements)} statements, {total:,.0f} ms"
                f" ({len(statements) - len(shown)} on small tables only)"
            )
            for s in shown:
                failed += bool(s.seq_scans)
                self.stdout.write(
                    f"  {'FAIL' if s.seq_scans else 'pass'} {s.ms:8,.1f} ms  cost {s.cost:>11,.0f}"
                    f"  {s.sql[:110]}"
                )
                for scan in s.seq_scans:
                    self.stdout.write(f"        {scan}")
        paths = len(by_path)
        failing = sum(any(s.seq_scans for s in ss) for ss in by_path.values())
        self.stdout.write(
            f"\n{paths - failing} of {paths} hot paths PASS; {failed} statements with a"
            f" sequential scan of a table over {LARGE_ROWS:,} rows"
        )
        if failing:
            self.stdout.write(self.style.WARNING("FAIL: see the statements above"))
