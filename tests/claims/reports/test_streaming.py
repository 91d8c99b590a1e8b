"""A large portal file streams: its rows are never all held as Python objects."""

import dataclasses
import datetime as dt
import tracemalloc
from decimal import Decimal

import pytest

from claims.reports.netting import BATCH, Netting, Outcome, batches, net_within_report
from claims.reports.read import read_report
from claims.reports.rows import ReportRow, RowKind
from claims.reports.scratch import Kept, scratch
from tests.claims.reports import xlsx_bytes

ROWS = 10_000
HEADER = [
    "№",
    "Тип документа",
    "Обоснование для оплаты",
    "Дата продажи",
    "К перечислению Продавцу за реализованный Товар",
    "Услуги по доставке товара покупателю",
    "Виды логистики, штрафов и корректировок ВВ",
    "Srid",
    "Код номенклатуры",
]


@pytest.fixture(scope="module")
def content() -> bytes:
    day = dt.date(2026, 3, 2)
    return xlsx_bytes(
        [HEADER]
        + [
            [
                number,
                "Продажа",
                "Логистика",
                day,
                0,
                Decimal("50.00"),
                "От клиента при отмене",
                f"{10**16 + number}.0.0",
                146723001,
            ]
            for number in range(1, ROWS + 1)
        ]
    )


def test_reading_every_row_holds_one_row_at_a_time(content):
    report = read_report(content=content)
    tracemalloc.start()
    try:
        seen, last = 0, None
        for row in report.rows():
            seen, last = seen + 1, row
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert report.count == seen == ROWS
    assert (last.kind, last.line, last.amount) == (RowKind.REVERSE_FEE, ROWS + 1, Decimal("50.00"))
    # Ten thousand rows held at once would take several megabytes.
    assert peak < 1_000_000


def test_the_rows_can_be_read_again_for_a_second_pass(content):
    report = read_report(content=content)

    outcomes = net_within_report(report.rows())
    keys = [row.key for row in report.rows()]

    assert [o.key for o in outcomes] == keys
    assert {o.outcome for o in outcomes} == {Outcome.KEPT}
    assert len(set(keys)) == ROWS


def _fees_and_their_stornos(count: int):
    """Yield `count` fees and, after them all, a storno of each: every row nets."""
    day = dt.date(2026, 3, 2)
    for kind, first in ((RowKind.REVERSE_FEE, 0), (RowKind.STORNO, count)):
        for number in range(count):
            yield ReportRow(
                key=str(first + number),
                line=first + number + 2,
                kind=kind,
                amount=Decimal("50.00"),
                peril="non_buyout",
                cancels=RowKind.REVERSE_FEE if kind is RowKind.STORNO else None,
                shipment_id=f"{10**16 + number}.0.0",
                occurred_on=day,
            )


def test_the_netting_keeps_what_it_remembers_of_each_row_on_disk():
    count = 20_000
    tracemalloc.start()
    try:
        with scratch() as db:
            netting = Netting(db)
            for batch in batches(_fees_and_their_stornos(count), BATCH):
                netting.add_many(batch)
            netted = sum(1 for _position, _outcome in netting.netted())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert netted == 2 * count
    # One batch of rows and its outcomes at a time; the 40,000 rows' keys and groups held
    # in memory would take over ten megabytes.
    assert peak < 4_000_000


def test_a_waiting_row_comes_back_from_disk_as_it_was_set_aside():
    # Every field set to something other than its default, so that a field the pickling
    # leaves out or misplaces fails here.
    row = ReportRow(
        key="rrd-1",
        line=7,
        kind=RowKind.STORNO,
        amount=Decimal("50.00"),
        currency="KZT",
        peril="non_buyout",
        reason="delivery",
        cancels=RowKind.REVERSE_FEE,
        shipment_id="srid-1",
        order_id="order-1",
        sku="sku-1",
        occurred_on=dt.date(2026, 3, 2),
        item_value=Decimal("1299.00"),
        raw_kind="Сторно продаж",
        raw_detail="От клиента при отмене",
        error="none",
    )
    default = ReportRow(key="", line=0, kind=RowKind.SALE)
    assert all(
        getattr(row, f.name) != getattr(default, f.name) for f in dataclasses.fields(ReportRow)
    )

    with scratch() as db:
        kept = Kept(db, "waiting")
        kept.add_many([(3, row)])

        assert list(kept) == [(3, row)]
