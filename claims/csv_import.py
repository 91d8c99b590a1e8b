"""Import of the marketplace's compensation export (CSV), streamed and idempotent.

Columns are found by header name, with synonyms, never by position: external
id, marketplace seller id, shipment external id, reason, amount, paid date.
UTF-8 with or without BOM; comma or semicolon; decimal comma accepted. Every
bad row is reported with its line number and reason; good rows are kept; a
second import of the same file changes nothing.
"""

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import BinaryIO

from django.core.exceptions import ValidationError
from django.db import reset_queries, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from claims.choices import CompensationReason, CompensationSource
from claims.compensation import compensations_record_bulk
from claims.models import MarketplaceCompensation
from policies.errors import DomainError, ErrorCode
from policies.ingest import CREATED, ERROR, Statistics
from policies.models import Marketplace
from policies.validators import (
    unsigned_zero,
    validate_ascii_digits,
    validate_date_in_range,
    validate_line,
)

CHUNK = 5000
MAX_ERRORS_KEPT = 1000
# New records after which the import first renews the table's statistics (policies.ingest.
# Statistics): a lookup of 5,000 ids by stale ones read the whole table.
ANALYZE_FROM = 50_000

HEADERS = {
    "external_id": ("external_id", "id", "compensation_id", "номер", "id компенсации", "rrd_id"),
    "seller": ("seller", "seller_id", "marketplace_seller_id", "продавец", "id продавца"),
    "shipment": ("shipment", "shipment_id", "shipment_external_id", "srid", "отправление"),
    "reason": ("reason", "причина", "основание"),
    "amount": ("amount", "сумма", "сумма компенсации"),
    "paid_on": ("paid_on", "paid_date", "date", "дата", "дата выплаты"),
}
REASONS = frozenset(CompensationReason.values)
REASON_SYNONYMS = {
    "утрата": CompensationReason.LOSS,
    "потеря": CompensationReason.LOSS,
    "повреждение": CompensationReason.DAMAGE,
    "брак": CompensationReason.DEFECT,
    "подмена": CompensationReason.SUBSTITUTION,
    "транспортные расходы": CompensationReason.TRANSPORT_COSTS,
    "прочее": CompensationReason.OTHER,
}


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    def error(self, line: int, message: str) -> None:
        self.failed += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append((line, message))


def _normal(name: str) -> str:
    return re.sub(r"\s+", " ", name.strip().strip('"').lower())


def _columns(header: list[str]) -> dict[str, int]:
    """Return each field's column index, or raise naming the columns not found."""
    positions = {_normal(name): index for index, name in enumerate(header)}
    columns, missing = {}, []
    for name, synonyms in HEADERS.items():
        index = next((positions[s] for s in synonyms if s in positions), None)
        if index is None:
            missing.append(name)
        else:
            columns[name] = index
    if missing:
        raise DomainError(
            ErrorCode.INVALID_FILE,
            _("The file has no column for: %(columns)s. Expected headers such as %(examples)s.")
            % {
                "columns": ", ".join(missing),
                "examples": ", ".join(HEADERS[name][0] for name in missing),
            },
        )
    return columns


def parse_amount(raw: str) -> Decimal:
    validate_ascii_digits(raw)
    text = raw.replace("\u00a0", "").replace(" ", "").replace("₽", "").strip()
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    value = Decimal(text)
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
        raise InvalidOperation
    return unsigned_zero(value)


def parse_date(raw: str) -> dt.date:
    """Return a date written as 2026-11-20 or 20.11.2026 (strptime is too slow per row)."""
    validate_ascii_digits(raw)
    text = raw.strip()
    if "." in text:
        day, month, year = text.split(".")
        parsed = dt.date(int(year), int(month), int(day))
    else:
        parsed = dt.date.fromisoformat(text)
    validate_date_in_range(parsed)
    return parsed


def parse_reason(raw: str) -> str:
    if raw in REASONS:
        return raw
    text = _normal(raw)
    if text in REASONS:
        return text
    if text in REASON_SYNONYMS:
        return REASON_SYNONYMS[text]
    raise ValueError(text)


def _rows(stream: BinaryIO) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, cells), decoding UTF-8 (BOM or not) and sniffing the delimiter."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
    try:
        first = text.readline()
        delimiter = ";" if first.count(";") > first.count(",") else ","
        yield 1, next(csv.reader([first], delimiter=delimiter), [])
        reader = csv.reader(text, delimiter=delimiter)
        for cells in reader:
            yield reader.line_num + 1, cells
    finally:
        # The stream is the caller's to close.
        text.detach()


def _parse(line: int, cells: list[str], columns: dict[str, int]) -> tuple[dict, list[str]]:
    problems, item = [], {}
    for name, index in columns.items():
        raw = cells[index] if index < len(cells) else ""
        if not raw.strip():
            problems.append(_("%(column)s is empty") % {"column": name})
            continue
        try:
            if name == "amount":
                item[name] = parse_amount(raw)
            elif name == "paid_on":
                item[name] = parse_date(raw)
            elif name == "reason":
                item[name] = parse_reason(raw)
            elif len(raw.strip()) > 64:
                raise ValueError(raw)
            else:
                validate_line(raw.strip())
                item[name] = raw.strip()
        except (ValueError, InvalidOperation, ValidationError):
            problems.append(
                _("%(column)s is not valid: %(value)r") % {"column": name, "value": raw}
            )
    return item, problems


@dataclass
class _Chunk:
    rows: int = 0
    good: list[tuple[int, dict]] = field(default_factory=list)
    bad: list[tuple[int, str]] = field(default_factory=list)


def _read_chunk(
    rows: Iterator[tuple[int, list[str]]], columns: dict[str, int], language: str
) -> _Chunk:
    """Parse the next CHUNK rows that are not blank; none are left when it counts none.

    Messages are in `language`: Django's active language belongs to the thread that set it.
    """
    chunk = _Chunk()
    with translation.override(language):
        for line, cells in rows:
            if not "".join(cells).strip():
                continue
            chunk.rows += 1
            item, problems = _parse(line, cells, columns)
            if problems:
                chunk.bad.append((line, "; ".join(problems)))
            else:
                chunk.good.append((line, item))
            if chunk.rows >= CHUNK:
                break
    return chunk


def compensations_import_csv(
    *,
    marketplace: Marketplace,
    stream: BinaryIO,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a compensation CSV in chunks of rows, each chunk in its own transaction."""
    report = ImportReport()
    rows = _rows(stream)
    # A thread parses the next chunk while the database writes this one (the driver lets go
    # of the interpreter while it waits): in turns, each waited for the other.
    with ThreadPoolExecutor(max_workers=1) as reader:
        try:
            _first_line, header = next(rows)
            columns = _columns(header)
            statistics = Statistics(MarketplaceCompensation._meta.db_table, first=ANALYZE_FROM)
            language = translation.get_language()
            upcoming = reader.submit(_read_chunk, rows, columns, language)
            while (chunk := upcoming.result()).rows:
                upcoming = reader.submit(_read_chunk, rows, columns, language)
                report.rows += chunk.rows
                for line, message in chunk.bad:
                    report.error(line, message)
                _store(marketplace, chunk.good, report)
                statistics.written(report.created)
                if progress:
                    progress(report.rows)
        except StopIteration:
            raise DomainError(ErrorCode.INVALID_FILE, _("The file is empty.")) from None
        except UnicodeDecodeError as exc:
            raise DomainError(
                ErrorCode.INVALID_FILE,
                _("The file is not UTF-8 text (byte %(position)s): save it as CSV UTF-8.")
                % {"position": exc.start},
            ) from exc
        except csv.Error as exc:
            message = _("The file is not a readable CSV: %s") % exc
            raise DomainError(ErrorCode.INVALID_FILE, message) from exc
    if progress:
        progress(report.rows)
    report.errors.sort()
    return report


def _store(marketplace: Marketplace, batch: list[tuple[int, dict]], report: ImportReport) -> None:
    if not batch:
        return
    # With DEBUG on, Django keeps the text of every query, each with a chunk's values.
    reset_queries()
    with transaction.atomic():
        results = compensations_record_bulk(
            marketplace=marketplace,
            items=[item for _, item in batch],
            source=CompensationSource.CSV,
            with_records=False,
        )
    for (line, _item), result in zip(batch, results, strict=True):
        if result.status == CREATED:
            report.created += 1
        elif result.status == ERROR:
            report.error(
                line,
                "; ".join(
                    f"{name}: {' '.join(map(str, msgs))}" for name, msgs in result.errors.items()
                ),
            )
        else:
            report.unchanged += 1
