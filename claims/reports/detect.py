"""Which report a file is, told from its content: the name may be anything.

XLSX is a zip archive; JSON starts with a bracket and its rows name their key field
(rrd_id, rrdId, operation_id); anything else that decodes as text is tried as CSV. A
portal file (XLSX or CSV) is recognised by its header row, wherever in the first rows it
sits, and refused naming the headers it lacks.
"""

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _
from python_calamine_plus import CalamineError, CalamineWorkbook

from claims.choices import ReportFormat
from claims.reports.wb import FIELDS, REQUIRED_HEADERS, wb_table_columns, wb_table_missing
from policies.errors import DomainError, ErrorCode
from policies.validators import MAX_JSON_DEPTH, json_depth

# The header row of a portal file is among its first rows (some exports put a title above).
HEADER_SCAN = 10
# A row with fewer known headers than this is not a header row of a WB report at all.
MIN_KNOWN_HEADERS = 2
CSV_DELIMITERS = (";", "\t", ",")
_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls, or an encrypted workbook


class ReportFileError(DomainError):
    """The file is not a report the readers know; `extra` names what was expected."""

    def __init__(self, problem: str, *, missing: Sequence[str] = ()) -> None:
        expected = expected_formats()
        message = _("%(problem)s Expected one of: %(formats)s.") % {
            "problem": problem,
            "formats": "; ".join(expected.values()),
        }
        super().__init__(
            ErrorCode.INVALID_FILE,
            message,
            extra={"expected": list(expected), "missing": list(missing)},
        )
        self.missing = list(missing)


def expected_formats() -> dict[str, str]:
    return {
        ReportFormat.WB_V5: _("Wildberries reportDetailByPeriod v5 (JSON)"),
        ReportFormat.WB_FINANCE: _("Wildberries finance API detailed report (JSON)"),
        ReportFormat.WB_XLSX: _("Wildberries weekly detail report (XLSX)"),
        ReportFormat.WB_CSV: _("Wildberries weekly detail report (CSV)"),
        ReportFormat.OZON_TRANSACTIONS: _("Ozon transaction list /v3/finance/transaction/list"),
    }


@dataclass
class Table:
    """A portal file's header row and where its data starts."""

    header: list[object]
    columns: dict[str, int]
    data_from: int  # index, among the file's rows, of the first row after the header
    book: CalamineWorkbook | None = None  # XLSX: the workbook, its sheet streamed each pass
    sheet: str = ""  # XLSX: the report sheet's name
    encoding: str = "utf-8-sig"  # CSV
    delimiter: str = ";"  # CSV


@dataclass
class Detected:
    format: ReportFormat
    items: list = field(default_factory=list)  # JSON: the rows, or Ozon's operations
    table: Table | None = None  # XLSX and CSV


def detect_format(*, content: bytes) -> ReportFormat:
    """Return the report format of `content`, or raise ReportFileError."""
    return detect(content=content).format


def detect(*, content: bytes) -> Detected:
    """Return the format with what was read to tell it, so nothing is parsed twice."""
    if not content.strip():
        raise ReportFileError(_("The file is empty."))
    if content.startswith(_ZIP):
        return _detect_xlsx(content)
    if content.startswith(_OLE):
        raise ReportFileError(
            _("The file is an old Excel (.xls) or password-protected workbook: save it as XLSX.")
        )
    decoded = _decode(content)
    if decoded is None:
        raise ReportFileError(_("The file is neither JSON, XLSX nor CSV."))
    text, encoding = decoded
    if text.lstrip()[:1] in ("[", "{"):
        return _detect_json(text)
    return _detect_csv(text, encoding=encoding)


def _decode(content: bytes) -> tuple[str, str] | None:
    if b"\x00" in content[:4096]:
        return None
    # Excel on Windows saves CSV in cp1251; everything else is UTF-8, with or without BOM.
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            return content.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return None


def _no_constant(name: str) -> object:
    # NaN and Infinity would arrive as float; no amount is either.
    raise ValueError(name)


def load_json(text: str) -> object:
    """Parse JSON with every fractional number as Decimal, so no float ever exists."""
    return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)


def _detect_json(text: str) -> Detected:
    # Measured before decoding: the decoder would recurse once per level until it overflows.
    if json_depth(text) > MAX_JSON_DEPTH:
        raise ReportFileError(
            _("The JSON nests deeper than %(depth)s levels: no marketplace report does.")
            % {"depth": MAX_JSON_DEPTH}
        )
    try:
        data = load_json(text)
    except ValueError:
        raise ReportFileError(_("The file is not valid JSON.")) from None
    if isinstance(data, dict):
        result = data.get("result")
        holder = result if isinstance(result, dict) else data
        operations = holder.get("operations")
        if isinstance(operations, list):
            return Detected(ReportFormat.OZON_TRANSACTIONS, items=operations)
        raise ReportFileError(
            _("The JSON object has no list of operations (result.operations) in it.")
        )
    if not isinstance(data, list):
        raise ReportFileError(_("The JSON is neither a list of rows nor an object."))
    first = next((item for item in data if isinstance(item, dict)), None)
    if first is None:
        raise ReportFileError(_("The JSON list holds no report rows."))
    for key, form in (
        ("rrd_id", ReportFormat.WB_V5),
        ("rrdId", ReportFormat.WB_FINANCE),
        ("operation_id", ReportFormat.OZON_TRANSACTIONS),
    ):
        if key in first:
            return Detected(form, items=data)
    raise ReportFileError(_("The JSON rows have none of the fields rrd_id, rrdId or operation_id."))


def _header(rows: Sequence[tuple[int, Sequence[object]]], *, kind: str) -> tuple[int, dict]:
    """Return (index of the header row, its columns) or raise naming what is wrong."""
    best_index, best = -1, {}
    for index, cells in rows:
        columns = wb_table_columns(cells)
        if len(columns) > len(best):
            best_index, best = index, columns
    if len(best) < MIN_KNOWN_HEADERS:
        raise ReportFileError(
            _("No report headers were found in the %(kind)s file (looked for %(headers)s).")
            % {
                "kind": kind,
                "headers": ", ".join(f"«{FIELDS[f].headers[0]}»" for f in REQUIRED_HEADERS),
            }
        )
    missing = wb_table_missing(best)
    if missing:
        raise ReportFileError(
            _("The %(kind)s file's headers lack %(missing)s.")
            % {"kind": kind, "missing": ", ".join(f"«{name}»" for name in missing)},
            missing=missing,
        )
    return best_index, best


def _detect_xlsx(content: bytes) -> Detected:
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(content))
    except (CalamineError, OSError, ValueError):
        raise ReportFileError(_("The file is a zip archive but not a readable XLSX.")) from None
    refusal = None
    for name in book.sheet_names:
        try:
            head = list(enumerate(book.stream_sheet_by_name(name, max_row=HEADER_SCAN - 1)))
        except (CalamineError, OSError, ValueError):
            raise ReportFileError(_("The XLSX file cannot be read.")) from None
        try:
            index, columns = _header(head, kind="XLSX")
        except ReportFileError as error:
            # Keep the first sheet's reason: the report is the first sheet.
            refusal = refusal or error
            continue
        table = Table(
            header=list(head[index][1]), columns=columns, data_from=index + 1, book=book, sheet=name
        )
        return Detected(ReportFormat.WB_XLSX, table=table)
    book.close()
    raise refusal or ReportFileError(_("The XLSX file has no sheets."))


def _delimiter(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    return max(CSV_DELIMITERS, key=first.count)


def _detect_csv(text: str, *, encoding: str) -> Detected:
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        head = list(zip(range(HEADER_SCAN), reader, strict=False))
    except csv.Error:
        raise ReportFileError(_("The file is neither JSON, XLSX nor CSV.")) from None
    index, columns = _header(head, kind="CSV")
    table = Table(
        header=list(head[index][1]),
        columns=columns,
        data_from=index + 1,
        encoding=encoding,
        delimiter=delimiter,
    )
    return Detected(ReportFormat.WB_CSV, table=table)
