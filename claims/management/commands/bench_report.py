"""Benchmark: a seller's 200,000-row Wildberries weekly report (the portal's XLSX) imported.

Writes a workbook in the 2025 layout — sales, forward deliveries, reverse legs after
non-buyouts and returns (the insured fees, one in ten rows), compensations and transport
rebills — for one insured seller, then imports it as the seller's upload does, with the
follow-up tasks queued, not run. Prints rows/s, seconds and the resident memory at each
tenth of the file (and the peak of the child process that reads it ahead), beside two
floors timed in the same run: reading the same file with the same reader and doing nothing
with the rows, and a bare insert of the rows the import wrote, table by table, into empty
tables of the same columns, constraints (foreign keys too) and indexes (nothing looked up,
nothing decided). Target: the import within 2x of the two floors
added, memory flat in the number of rows.
"""

import datetime as dt
import io
import resource
import time
from decimal import Decimal
from pathlib import Path

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection
from django.utils import timezone

from claims.choices import ReportSource
from claims.management.bench import bench_marketplace, require_postgresql, seconds_rolled_back
from claims.management.celery import tasks_queued
from claims.reports.importing import report_import_create, report_import_run
from claims.reports.read import read_report
from policies.actors import Actor
from policies.models import Product
from policies.services import policy_enrol

HEADER = [
    "№",
    "Номер поставки",
    "Тип документа",
    "Обоснование для оплаты",
    "Дата продажи",
    "Дата операции",
    "Код номенклатуры",
    "Srid",
    "Количество доставок",
    "Количество возврата",
    "Услуги по доставке товара покупателю",
    "К перечислению Продавцу за реализованный Товар",
    "Виды логистики, штрафов и корректировок ВВ",
    "Цена розничная с учетом согласованной скидки",
    "Возмещение издержек по перевозке/по складским операциям с товаром",
]


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _reader_peak_mib() -> float:
    # The largest of this process's children reaped so far: only the import forks one.
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _row(n: int, day: dt.date) -> list:
    """Return row `n` of the week: a mix as a real seller's week has it."""
    srid = f"{27384950617283746 + n // 4}.0.0"
    kind = n % 10
    money = Decimal("0")
    if kind < 4:
        return [n, 1, "Продажа", "Продажа", day, day, 100 + n % 50, srid, 0, 0, money,
                Decimal("1120.50"), "", Decimal("1299.00"), money]  # fmt: skip
    if kind < 7:
        return [n, 1, "Продажа", "Логистика", day, day, 100 + n % 50, srid, 1, 0,
                Decimal("92.40"), money, "К клиенту при продаже", money, money]  # fmt: skip
    if kind == 7:
        leg = "От клиента при отмене" if n % 20 < 10 else "От клиента при возврате"
        return [n, 1, "Продажа", "Логистика", day, day, 100 + n % 50, srid, 0, 1,
                Decimal("50.00"), money, leg, money, money]  # fmt: skip
    if kind == 8:
        return [n, 1, "Продажа", "Компенсация ущерба", day, day, 100 + n % 50, srid, 0, 0,
                money, Decimal("640.00"), "", money, money]  # fmt: skip
    return [n, 1, "Продажа", "Возмещение издержек по перевозке", day, day, 100 + n % 50, srid,
            0, 0, money, money, "", money, Decimal("1.40")]  # fmt: skip


class Command(BaseCommand):
    help = "Measure the import of a --rows-row WB weekly report (XLSX) on PostgreSQL."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=200_000)

    def handle(self, *args, rows, **options):
        require_postgresql("bench_report")
        started = time.perf_counter()
        marketplace, [seller] = bench_marketplace(prefix="rep", name="Report bench", sellers=1)
        with tasks_queued():
            policy_enrol(
                seller=seller,
                product_code=Product.objects.filter(is_active=True).values_list("code", flat=True)[
                    0
                ],
                starts_on=timezone.localdate() - dt.timedelta(days=30),
                actor=Actor.system(),
            )
        content = self._workbook(rows, timezone.localdate() - dt.timedelta(days=1))
        with connection.cursor() as cursor:
            # The statistics autovacuum keeps in production: without them (it is off on
            # some machines) the planner guesses, and scans whole tables for the lookups.
            cursor.execute("ANALYZE")
        self.stdout.write(
            f"data prepared in {time.perf_counter() - started:.1f} s;"
            f" file {len(content) / 2**20:.1f} MiB, {rows:,} rows"
        )
        read_seconds = self._read_floor(content)
        samples: list[float] = []
        before = self._table_rows()
        with tasks_queued():
            made = report_import_create(
                marketplace=marketplace,
                seller=seller,
                content=content,
                filename="week.xlsx",
                source=ReportSource.UPLOAD,
            )
            samples.append(_rss_mib())
            began = time.perf_counter()
            imported = report_import_run(
                import_id=made.pk, progress=lambda done, total: self._sample(done, total, samples)
            )
            seconds = time.perf_counter() - began
        written = {
            model: count - before.get(model, 0)
            for model, count in self._table_rows().items()
            if count > before.get(model, 0)
        }
        insert_seconds = self._insert_floor(written)
        tenths = " ".join(f"{sample:.0f}" for sample in samples[1:])
        floors = read_seconds + insert_seconds
        self.stdout.write(
            "\n".join(
                [
                    f"outcomes              {imported.outcomes}",
                    f"import                {seconds:.1f} s ({rows / seconds:,.0f} rows/s)",
                    f"RSS before, by tenth  {samples[0]:.0f} | {tenths} MiB",
                    f"reader's peak RSS     {_reader_peak_mib():.0f} MiB (the forked process"
                    " that read the file, its share of the parent's pages included)",
                    f"read floor            {read_seconds:.1f} s (the same reader, rows unused)",
                    f"insert floor          {insert_seconds:.1f} s (the {sum(written.values()):,}"
                    " rows written, bare, into empty copies of their tables, rolled back: "
                    + ", ".join(f"{m._meta.model_name} {n:,}" for m, n in written.items())
                    + ")",
                    f"ratio to the floors   {seconds / floors:.2f}x (target 2x)",
                ]
            )
        )

    def _workbook(self, rows: int, day: dt.date) -> bytes:
        # The writer of the tests' files (a development dependency), as a seller's Excel would.
        import openpyxl

        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet("Детализация")
        sheet.append(HEADER)
        for n in range(1, rows + 1):
            sheet.append(_row(n, day))
        buffer = io.BytesIO()
        book.save(buffer)
        return buffer.getvalue()

    def _read_floor(self, content: bytes) -> float:
        began = time.perf_counter()
        report = read_report(content=content, filename="week.xlsx")
        for _row_read in report.rows():
            pass
        return time.perf_counter() - began

    def _sample(self, done: int, total: int, samples: list[float]) -> None:
        # samples[0] is the resident memory before the import, then one per tenth.
        while len(samples) <= 1 + done * 10 // max(total, 1):
            samples.append(_rss_mib())

    def _table_rows(self) -> dict:
        with connection.cursor() as cursor:
            counts = {}
            for model in apps.get_models():
                cursor.execute(
                    f"SELECT count(*) FROM {connection.ops.quote_name(model._meta.db_table)}"
                )
                counts[model] = cursor.fetchone()[0]
        return counts

    def _insert_floor(self, written: dict) -> float:
        """Return the seconds a COPY of the rows the import wrote takes into empty tables of
        the same shape (columns, checks, indexes, foreign keys): what writing them costs with
        nothing looked up or decided."""
        quote = connection.ops.quote_name
        data = {}
        with connection.cursor() as cursor:
            for model, count in written.items():
                table = quote(model._meta.db_table)
                with cursor.copy(
                    f"COPY (SELECT * FROM {table} ORDER BY {quote(model._meta.pk.column)} DESC"
                    f" LIMIT {count}) TO STDOUT"
                ) as copy:
                    data[model] = b"".join(bytes(block) for block in copy)

        def insert(cursor):
            for model, rows in data.items():
                table = quote(model._meta.db_table)
                floor = quote(f"floor_{model._meta.db_table}")
                cursor.execute(
                    f"CREATE TABLE {floor} (LIKE {table} INCLUDING DEFAULTS"
                    " INCLUDING CONSTRAINTS INCLUDING INDEXES)"
                )
                # LIKE copies no foreign key, and the import's rows pay theirs: the same
                # keys, checked inside the timing.
                cursor.execute(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                    " WHERE conrelid = %s::regclass AND contype = 'f'",
                    [model._meta.db_table],
                )
                for (definition,) in cursor.fetchall():
                    cursor.execute(f"ALTER TABLE {floor} ADD {definition}")
                with cursor.copy(f"COPY {floor} FROM STDIN") as copy:
                    copy.write(rows)

        assert connection.vendor == "postgresql"
        return seconds_rolled_back(insert)
