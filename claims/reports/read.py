"""Read a marketplace finance report, as uploaded, into normalised rows.

Pure: no database, no clock. A bad row never stops the good ones: it comes back as an
`error` row naming its column and value. Rows are produced lazily and may be read again
(`Report.rows()` starts over), so a 200,000-row XLSX is never held at once: each pass
streams the sheet from the archive one row at a time (python-calamine-plus, the
python-calamine fork that streams; python-calamine itself decodes a whole sheet first).
"""

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from django.utils.translation import gettext as _
from python_calamine_plus import CalamineError

from claims.choices import ReportFormat
from claims.reports.detect import Detected, ReportFileError, Table, detect
from claims.reports.ozon import ozon_rows
from claims.reports.rows import Period, ReportRow
from claims.reports.wb import wb_json_period, wb_json_rows, wb_table_rows


@dataclass(frozen=True)
class Report:
    format: ReportFormat
    period: Period | None  # the period the report says it covers, when it says
    filename: str
    read_rows: Callable[[], Iterator[ReportRow]] = field(repr=False, compare=False)
    count_rows: Callable[[], int] = field(repr=False, compare=False)

    @cached_property
    def count(self) -> int:
        """Return the rows in the file (blank lines aside), as rows() yields them.

        A portal file is read through to count it, and so to its end: a sheet broken
        partway raises ReportFileError here, as it would reading the rows."""
        return self.count_rows()

    def rows(self) -> Iterator[ReportRow]:
        """Return a new iterator over the rows, in file order."""
        return self.read_rows()

    def __iter__(self) -> Iterator[ReportRow]:
        return self.rows()


def read_report(*, content: bytes, filename: str = "") -> Report:
    """Return the report in `content`, or raise ReportFileError if it is none the readers know."""
    # The name is kept for the record only: uploads are renamed, the content is what counts.
    detected = detect(content=content)
    form = detected.format
    if form in (ReportFormat.WB_V5, ReportFormat.WB_FINANCE):
        items = detected.items
        return Report(
            format=form,
            period=wb_json_period(items, form=form),
            filename=filename,
            read_rows=lambda: wb_json_rows(items, form=form),
            count_rows=lambda: len(items),
        )
    if form is ReportFormat.OZON_TRANSACTIONS:
        operations = detected.items
        return Report(
            format=form,
            period=None,
            filename=filename,
            read_rows=lambda: ozon_rows(operations),
            count_rows=lambda: len(operations),
        )
    return _table_report(detected, content=content, filename=filename)


def _table_report(detected: Detected, *, content: bytes, filename: str) -> Report:
    table = detected.table
    assert table is not None

    def cells() -> Iterator[tuple[int, Sequence[object]]]:
        if detected.format is ReportFormat.WB_XLSX:
            return _xlsx_cells(table)
        return _csv_cells(content, table)

    return Report(
        format=detected.format,
        # The portal's detail rows do not carry the report's period.
        period=None,
        filename=filename,
        read_rows=lambda: wb_table_rows(cells(), columns=table.columns, header=table.header),
        count_rows=lambda: sum(1 for _ in cells()),
    )


def _blank(cells: Sequence[object]) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def _xlsx_cells(table: Table) -> Iterator[tuple[int, Sequence[object]]]:
    """Yield (spreadsheet row number, cells) of the data rows, as the sheet streams."""
    assert table.book is not None
    try:
        stream = table.book.stream_sheet_by_name(table.sheet, min_row=table.data_from)
        for index, cells in enumerate(stream, start=table.data_from):
            if not _blank(cells):
                yield index + 1, cells
    except (CalamineError, OSError, ValueError):
        # A sheet is read as it streams: a broken part shows only where it lies.
        raise ReportFileError(_("The XLSX file cannot be read.")) from None


def _csv_cells(content: bytes, table: Table) -> Iterator[tuple[int, Sequence[object]]]:
    """Yield (line where the record starts, cells) of the data rows."""
    stream = io.TextIOWrapper(io.BytesIO(content), encoding=table.encoding, newline="")
    reader = csv.reader(stream, delimiter=table.delimiter)
    line = 1
    for index, cells in enumerate(reader):
        start, line = line, reader.line_num + 1
        if index >= table.data_from and not _blank(cells):
            yield start, cells
