"""A large report is read by a child process while the import writes: the same rows, the
same errors, and no child left behind."""

import datetime as dt
import os
from decimal import Decimal

import pytest
from django.utils import translation

from claims.choices import ReportFormat
from claims.reports import ahead
from claims.reports.ahead import rows_read_ahead
from claims.reports.detect import ReportFileError
from claims.reports.read import Report, read_report
from claims.reports.rows import RowKind
from tests.claims.reports import xlsx_bytes
from tests.claims.reports.test_streaming import HEADER
from tests.claims.reports.test_wb_generated import api_rows, logistics

ROWS = 50


@pytest.fixture(autouse=True)
def small_reports_read_ahead(monkeypatch):
    monkeypatch.setattr(ahead, "AHEAD_FROM", 10)


@pytest.fixture
def reader_pid(monkeypatch, tmp_path):
    """Return a function that answers the pid the rows were read in, if a child read them."""
    real_read, written = ahead._read, tmp_path / "reader"

    def read(*args):
        written.write_text(str(os.getpid()))
        real_read(*args)

    monkeypatch.setattr(ahead, "_read", read)
    return lambda: int(written.read_text()) if written.exists() else None


def gone(pid: int) -> bool:
    """Return whether process `pid` has ended and been reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def report_of(rows) -> Report:
    return read_report(content=api_rows(rows, form=ReportFormat.WB_V5))


def fees(count: int) -> list[dict]:
    day = dt.date(2026, 3, 2)
    return [
        logistics(9000 + n, f"{n}.0.0", "От клиента при отмене", Decimal("50.00"), day, returns=1)
        for n in range(1, count + 1)
    ]


def test_the_child_reads_the_rows_the_import_would_read_itself_in_batches(reader_pid):
    report = report_of(fees(ROWS))

    with rows_read_ahead(report, rows=ROWS, size=20) as parts:
        read = list(parts)

    assert reader_pid() not in (None, os.getpid())
    assert [len(part) for part in read] == [20, 20, 10]
    assert [row for part in read for row in part] == list(report.rows())
    assert {row.kind for part in read for row in part} == {RowKind.REVERSE_FEE}
    assert gone(reader_pid())


def test_a_report_below_the_threshold_is_read_in_the_import_s_own_process(reader_pid):
    report = report_of(fees(5))

    with rows_read_ahead(report, rows=5, size=2) as parts:
        assert [len(part) for part in parts] == [2, 2, 1]
    assert reader_pid() is None


def test_leaving_before_the_rows_end_stops_the_child(reader_pid):
    [row] = report_of(fees(1)).rows()

    def endless():
        while True:
            yield row

    report = Report(format="wb_v5", period=None, filename="", read_rows=endless, count_rows=int)

    # The child fills the pipe and waits on it: only its parent can end it.
    with rows_read_ahead(report, rows=ROWS, size=5) as parts:
        first = next(parts)

    assert first == [row] * 5
    assert gone(reader_pid())


def broken_after(rows: int, error: Exception):
    def read():
        yield from list(report_of(fees(rows)).rows())
        raise error

    return Report(format="wb_v5", period=None, filename="", read_rows=read, count_rows=int)


def test_what_the_reader_raises_partway_the_import_raises_with_its_message(reader_pid):
    with translation.override("en"):
        report = broken_after(12, ReportFileError("The XLSX file cannot be read."))

        with rows_read_ahead(report, rows=ROWS, size=5) as parts:
            read = []
            with pytest.raises(ReportFileError, match="cannot be read") as raised:
                for part in parts:
                    read.extend(part)

    # What the child read before it broke came through first.
    assert len(read) == 10
    assert raised.value.code == "invalid_file"
    assert raised.value.extra["expected"]
    assert gone(reader_pid())


def test_an_error_that_will_not_pickle_still_names_itself():
    class Local(Exception):
        pass

    report = broken_after(3, Local("a lock"))

    with (
        rows_read_ahead(report, rows=ROWS, size=5) as parts,
        pytest.raises(RuntimeError, match="Local: a lock"),
    ):
        list(parts)


def test_a_reader_that_dies_stops_the_import_with_an_error_not_a_short_report(reader_pid):
    def dies():
        yield from list(report_of(fees(3)).rows())
        os._exit(1)

    report = Report(format="wb_v5", period=None, filename="", read_rows=dies, count_rows=int)

    with (
        rows_read_ahead(report, rows=ROWS, size=2) as parts,
        pytest.raises(RuntimeError, match="reader stopped before the rows ended"),
    ):
        list(parts)
    assert gone(reader_pid())


def test_the_child_s_messages_are_in_the_import_s_language():
    cells = [1, "Продажа", "Логистика", "2026-03-02", 0, "много", "От клиента при отмене", "1.0.0"]
    content = xlsx_bytes([HEADER, [*cells, 146723001]])
    report = read_report(content=content)

    with translation.override("en"), rows_read_ahead(report, rows=ROWS, size=5) as parts:
        [[row]] = list(parts)

    assert row.kind is RowKind.ERROR
    assert "is not a number" in row.error
