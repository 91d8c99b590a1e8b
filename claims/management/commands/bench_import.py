"""Benchmark: the compensation CSV import of a large export file, and its replay.

Writes a marketplace export (Russian headers, semicolons, decimal commas,
dd.mm.yyyy dates, a BOM) of --rows records, seven in ten for shipments the
marketplace has sent and one in a hundred broken, then imports it as the
admin upload and `import_compensations` do, and imports it again. Prints
seconds, rows/s, the resident memory at each tenth of the file (flat: the
file is streamed) and the peak RSS.
"""

import datetime as dt
import resource
import tempfile
import time
from pathlib import Path

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone

from claims.csv_import import compensations_import_csv
from claims.management.bench import bench_marketplace, require_postgresql, seconds_rolled_back
from claims.reconciliation.sql import T
from policies.models import Marketplace

SELLERS = 100


def _rss_mib() -> float:
    """Return the process's resident memory now (not its peak), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Command(BaseCommand):
    help = "Measure the compensation CSV import of --rows rows on PostgreSQL."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=1_000_000)

    def handle(self, *args, rows, **options):
        require_postgresql("bench_import")
        started = time.perf_counter()
        marketplace = self._prepare(rows)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "compensations.csv"
            self._write_file(path, marketplace.code, rows)
            self.stdout.write(
                f"data prepared in {time.perf_counter() - started:.1f} s;"
                f" file {path.stat().st_size / 2**20:.0f} MiB"
            )
            first, samples = self._import(path, marketplace, rows)
            replay, _ = self._import(path, marketplace, rows)
        floor = self._floor(marketplace)
        report, seconds = first
        again, replay_seconds = replay
        self.stdout.write(
            "\n".join(
                [
                    f"rows                  {report.rows:,}: created {report.created:,},"
                    f" rejected {report.failed:,}",
                    f"import                {seconds:.1f} s ({report.rows / seconds:,.0f} rows/s)",
                    f"replay                {replay_seconds:.1f} s: created {again.created:,},"
                    f" unchanged {again.unchanged:,}",
                    "RSS by tenth of file  " + " ".join(f"{mib:.0f}" for mib in samples) + " MiB",
                    f"bare INSERT floor     {floor:.1f} s (the same rows into the table again,"
                    f" under other ids, its keys checked, rolled back): ratio"
                    f" {seconds / floor:.1f}x",
                    f"peak RSS              "
                    f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB",
                ]
            )
        )

    def _import(self, path: Path, marketplace: Marketplace, rows: int):
        samples, tenth = [], max(rows // 10, 1)

        def progress(done: int) -> None:
            if done // tenth > len(samples) - 1:
                samples.append(_rss_mib())

        with path.open("rb") as stream:
            started = time.perf_counter()
            report = compensations_import_csv(
                marketplace=marketplace, stream=stream, progress=progress
            )
            return (report, time.perf_counter() - started), samples

    def _prepare(self, rows: int) -> Marketplace:
        marketplace, _sellers = bench_marketplace(
            prefix="csv", name="CSV import bench", sellers=SELLERS
        )
        code = marketplace.code
        now = timezone.now()
        with transaction.atomic(), connection.cursor() as cursor:
            # The shipments seven in ten records name, each of the seller the record names.
            cursor.execute(
                f"""
                INSERT INTO {T["ship"]} (marketplace_id, external_id, seller_id, policy_id,
                    order_id, sku, category, declared_value, warehouse, pickup_point, fulfilment,
                    shipped_at, reverse_logistics_fee, premium, created_at, updated_at)
                SELECT %(mp)s, %(code)s || '-s' || g, s.id, NULL, %(code)s || '-o' || g, 'SKU',
                    'Одежда', 5000, 'Коледино', 'ПВЗ', 'marketplace', %(now)s, NULL, 0,
                    %(now)s, %(now)s
                FROM generate_series(1, %(n)s) g
                JOIN policies_seller s ON s.marketplace_id = %(mp)s
                    AND s.external_id = %(code)s || '-seller-' || (g %% %(sellers)s)
                WHERE g %% 10 < 7
                """,
                {"mp": marketplace.pk, "code": code, "n": rows, "sellers": SELLERS, "now": now},
            )
            cursor.execute(f"ANALYZE {T['ship']}")
        return marketplace

    def _floor(self, marketplace: Marketplace) -> float:
        """Time one INSERT … SELECT of the imported rows into their own table, then roll back:
        what the rows cost the database (indexes, foreign keys) before anything is read."""
        columns = (
            "marketplace_id, seller_id, shipment_external_id, shipment_id, reason, amount,"
            " paid_on, source, claim_id, matched_at, run_id, created_at"
        )
        return seconds_rolled_back(
            lambda cursor: cursor.execute(
                f"INSERT INTO {T['comp']} (external_id, {columns})"
                f" SELECT 'floor-' || external_id, {columns} FROM {T['comp']}"
                " WHERE marketplace_id = %s",
                [marketplace.pk],
            )
        )

    def _write_file(self, path: Path, code: str, rows: int) -> None:
        reasons = ("утрата", "повреждение", "брак", "прочее")
        paid_on = (timezone.localdate() - dt.timedelta(days=3)).strftime("%d.%m.%Y")
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            out.write("номер;продавец;srid;причина;сумма;дата выплаты\r\n")
            for g in range(1, rows + 1):
                amount = f"{g % 5 + 1} {g % 1000:03d},{g % 100:02d}"
                if g % 100 == 37:
                    amount = "не число"
                out.write(
                    f"{code}-k{g};{code}-seller-{g % SELLERS};{code}-s{g};"
                    f"{reasons[g % len(reasons)]};{amount};{paid_on}\r\n"
                )
