"""WB's own documentation examples, its v5 → finance-API field map, a real seller's item
and the header and value lists of a real seller's 2020–2023 XLSX reports."""

import csv
import datetime as dt
import re
from dataclasses import replace
from decimal import Decimal

import pytest

from claims.choices import ReportFormat
from claims.reports.netting import Outcome, net_within_report
from claims.reports.read import read_report
from claims.reports.rows import FEE_KINDS, RowKind
from claims.reports.values import normal_label
from claims.reports.wb import FIELDS, classify
from tests.claims.reports import FIXTURES, fixture_json, json_bytes, xlsx_bytes


def field_map() -> list[dict]:
    with open(FIXTURES / "wb_v5_to_finance_api_detailed_field_map.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def header_lists() -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    text = (FIXTURES / "wb_xlsx_headers_2023_uginpo.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
        elif current is not None and line.strip():
            current.append(line.strip())
    return sections


def only_row(content: bytes):
    report = read_report(content=content)
    rows = list(report.rows())
    assert len(rows) == 1
    return report, rows[0]


# WB's documentation examples ----------------------------------------------------------


def test_the_v5_and_finance_api_examples_are_the_same_row():
    v5, v5_row = only_row(json_bytes([fixture_json("wb_v5_official_example_row.json")["row"]]))
    finance, finance_row = only_row(
        json_bytes([fixture_json("wb_finance_api_detailed_official_example.json")["row"]])
    )

    assert (v5.format, finance.format) == (ReportFormat.WB_V5, ReportFormat.WB_FINANCE)
    # The two examples were written years apart: only their dates differ.
    assert (v5_row.occurred_on, finance_row.occurred_on) == (
        dt.date(2022, 10, 20),
        dt.date(2025, 10, 20),
    )
    assert replace(v5_row, occurred_on=None) == replace(finance_row, occurred_on=None)
    assert (v5_row.key, v5_row.kind, v5_row.amount, v5_row.item_value) == (
        "1232610467",
        RowKind.SALE,
        Decimal("376.99"),
        Decimal("399.68"),
    )
    assert (v5_row.shipment_id, v5_row.order_id, v5_row.sku, v5_row.currency) == (
        "0f1c3999172603062979867564654dac5b702849",
        "2816993144",
        "1234567",
        "RUB",
    )
    assert (v5.period.start, v5.period.end) == (dt.date(2022, 10, 17), dt.date(2022, 10, 23))
    assert (finance.period.start, finance.period.end) == (
        dt.date(2026, 3, 16),
        dt.date(2026, 3, 22),
    )


def test_the_readers_field_names_follow_wbs_field_map():
    names = {r["v5_field"]: r["finance_api_field"] for r in field_map() if r["v5_field"]}

    pairs = {f.v5: f.finance for f in FIELDS.values() if f.v5 and f.finance}

    assert {v5: names[v5] for v5 in pairs} == pairs


def _typed(text: str, kind: str) -> object:
    return {
        "integer": int,
        "number": Decimal,
        "boolean": lambda t: t == "True",
        "string": str,
    }[kind](text)


def test_a_row_built_from_the_field_map_reads_the_same_in_both_apis():
    v5, finance = {}, {}
    for r in field_map():
        if not (r["v5_field"] and r["finance_api_field"] and r["finance_api_example"]):
            continue
        v5[r["v5_field"]] = _typed(r["finance_api_example"], r["v5_type"])
        finance[r["finance_api_field"]] = _typed(r["finance_api_example"], r["finance_api_type"])

    _, v5_row = only_row(json_bytes([v5]))
    _, finance_row = only_row(json_bytes([finance]))

    assert isinstance(v5["delivery_rub"], Decimal) and isinstance(finance["deliveryService"], str)
    assert v5_row == finance_row
    assert v5_row.occurred_on == dt.date(2025, 10, 20)
    assert v5_row.kind is RowKind.SALE


# A real seller's item (sold, returned, shipped back) -----------------------------------

# Where each line of the tool's summary has its money in WB's rows, and the document type.
LIFECYCLE_MONEY = {
    "Логистика": ("delivery_rub", "Продажа"),
    "Продажа": ("ppvz_for_pay", "Продажа"),
    "Возврат": ("ppvz_for_pay", "Возврат"),
    "Штраф": ("penalty", "Продажа"),
    "Платная приемка": ("acceptance", "Продажа"),
}
_SUMMARY_LINE = re.compile(r"^\s+(?P<label>[^:]+): (?P<amount>[\d,]+) руб\.$")


def lifecycle() -> tuple[list[tuple[str, str, str]], Decimal]:
    """Return the item's (operation, leg, amount) lines and the tool's logistics total."""
    text = (FIXTURES / "wb_item_lifecycle_2024-10_holydk_readme.txt").read_text(encoding="utf-8")
    lines, total = [], None
    for match in map(_SUMMARY_LINE.match, text.splitlines()):
        if not match:
            continue
        label, amount = match["label"], match["amount"].replace(",", ".")
        if label == "Итого за логистику":
            total = Decimal(amount)
        operation, _, leg = label.partition(". ")
        if operation in LIFECYCLE_MONEY:
            lines.append((operation, leg, amount))
    return lines, total


def test_a_real_items_sale_return_and_leg_back_to_the_seller():
    lines, tool_total = lifecycle()
    content = json_bytes(
        [
            {
                "rrd_id": 700 + number,
                "srid": "27384950617283746.0.0",
                "nm_id": 146723001,
                "supplier_oper_name": operation,
                "bonus_type_name": leg,
                "doc_type_name": LIFECYCLE_MONEY[operation][1],
                LIFECYCLE_MONEY[operation][0]: Decimal(amount),
                "rr_dt": "2024-10-20",
            }
            for number, (operation, leg, amount) in enumerate(lines)
        ]
    )
    rows = list(read_report(content=content).rows())

    assert [(row.kind, row.peril, row.reason, row.amount) for row in rows] == [
        (RowKind.IGNORED, None, "charge", Decimal("15.00")),  # Платная приемка
        (RowKind.IGNORED, None, "not_insured", Decimal("314.80")),  # К клиенту при продаже
        (RowKind.SALE, None, None, Decimal("5617.00")),
        (RowKind.REVERSE_FEE, "return", None, Decimal("50.00")),
        (RowKind.SALE_RETURN, None, None, Decimal("-5617.00")),
        (RowKind.RETURN_TO_SELLER_FEE, None, None, Decimal("404.80")),
        (RowKind.IGNORED, None, "charge", Decimal("60.00")),  # storage of returns at the ПВЗ
    ]
    # The importer's claim for the item: the reverse leg and the leg back to the seller.
    assert sum(row.amount for row in rows if row.kind in FEE_KINDS) == Decimal("454.80")
    # The seller's tool added up 844,6 of "logistics": every charge but the sale's money.
    charges = [row.amount for row in rows if row.kind not in (RowKind.SALE, RowKind.SALE_RETURN)]
    assert sum(charges) == tool_total == Decimal("844.6")


# A real seller's XLSX headers and values (2020–2023), and the 2024+ renames -----------

RENAMES_2024 = {
    "Виды логистики, штрафов и доплат": "Виды логистики, штрафов и корректировок ВВ",
    "Доплаты": "Корректировка Вознаграждения Вайлдберриз (ВВ)",
    "Возмещение издержек по перевозке": (
        "Возмещение издержек по перевозке/по складским операциям с товаром"
    ),
}
ADDED_2024 = ["Хранение", "Удержания", "Операции при приёмке", "Номер сборочного задания"]


def headers_2023() -> list[str]:
    # The script that lists them adds its last two columns itself.
    return header_lists()["detail columns"][:-2]


def headers_2024() -> list[str]:
    return [RENAMES_2024.get(h, h) for h in headers_2023()] + ADDED_2024


@pytest.mark.parametrize("headers", [headers_2023, headers_2024], ids=["2023", "2024+"])
def test_the_real_header_list_is_recognised_in_both_variants(headers):
    header = headers()
    row = [""] * len(header)
    cells = dict(zip(header, range(len(header)), strict=True))
    row[cells["Обоснование для оплаты"]] = "Логистика"
    row[cells["Тип документа"]] = "Продажа"
    row[cells["Srid"]] = "27384950617283746.0.0"
    row[cells["Услуги по доставке товара покупателю"]] = 50
    row[cells["Дата продажи"]] = dt.date(2023, 8, 14)
    bonus = next(h for h in header if h.startswith("Виды логистики"))
    row[cells[bonus]] = "От клиента при отмене"

    report = read_report(content=xlsx_bytes([header, row]), filename="report.xlsx")
    (read,) = report.rows()

    assert report.format is ReportFormat.WB_XLSX
    assert (read.kind, read.peril, read.amount) == (
        RowKind.REVERSE_FEE,
        "non_buyout",
        Decimal("50.00"),
    )
    assert read.line == 2


EXPECTED_OPERATIONS = {
    "Продажа": RowKind.SALE,
    "Логистика": RowKind.REVERSE_FEE,  # read with the leg «От клиента при отмене»
    "Штрафы": RowKind.IGNORED,
    "Сторно продаж": RowKind.STORNO,
    "Частичная компенсация брака": RowKind.COMPENSATION,
    "Корректная продажа": RowKind.SALE,
    "Возврат": RowKind.SALE_RETURN,
    "Возмещение издержек по перевозке": RowKind.IGNORED,
    "Доплаты": RowKind.IGNORED,
    "Авансовая оплата за товар без движения": RowKind.COMPENSATION,
    "Логистика сторно": RowKind.STORNO,
    "Штрафы и доплаты": RowKind.IGNORED,
}


def test_every_payment_reason_of_the_real_reports_is_understood():
    values = header_lists()["Обоснование для оплаты values"]
    meanings = {
        value: classify(
            operation=normal_label(value), leg="от клиента при отмене", deliveries=0, returns=1
        )
        for value in values
    }

    assert {value: meaning.kind for value, meaning in meanings.items()} == EXPECTED_OPERATIONS
    assert meanings["Возмещение издержек по перевозке"].reason == "rebill_logistics"
    assert meanings["Частичная компенсация брака"].reason == "defect"
    assert [v for v, m in meanings.items() if m.reason == "unknown_operation"] == []


def test_every_logistics_leg_of_the_real_reports_is_understood():
    legs = header_lists()["Виды логистики, штрафов и доплат values"]
    meanings = {
        leg: classify(operation="логистика", leg=normal_label(leg), deliveries=0, returns=0)
        for leg in legs
    }

    assert [leg for leg, m in meanings.items() if m.reason == "unknown_operation"] == []
    assert {leg: (m.kind, m.peril) for leg, m in meanings.items() if m.kind in FEE_KINDS} == {
        "От клиента при отмене": (RowKind.REVERSE_FEE, "non_buyout"),
        "От клиента при возврате": (RowKind.REVERSE_FEE, "return"),
        "К клиенту при отмене": (RowKind.FORWARD_FEE, "non_buyout"),
    }
    # Seller-initiated, defect and unidentified-goods returns are not insured.
    assert meanings["Возврат брака (К продавцу)"].reason == "not_insured"
    assert meanings["Возврат по инициативе продавца (От продавца при отмене)"].reason == (
        "not_insured"
    )
    assert meanings["Платное хранение возвратов на ПВЗ более 3 дней"].reason == "charge"


def test_the_official_example_nets_to_itself_alone():
    content = json_bytes([fixture_json("wb_v5_official_example_row.json")["row"]])

    (outcome,) = net_within_report(read_report(content=content).rows())

    assert outcome.outcome is Outcome.KEPT
