"""One week of a WB seller, written in every form WB gives it, reads the same in each."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from claims.choices import ReportFormat
from claims.reports.detect import ReportFileError, detect_format
from claims.reports.netting import Outcome, net_within_report
from claims.reports.read import read_report
from claims.reports.rows import RowKind
from claims.reports.wb import FIELDS
from policies.errors import ErrorCode
from tests.claims.reports import csv_bytes, json_bytes, xlsx_bytes

D = Decimal


@pytest.fixture(autouse=True)
def _english():
    """The messages are asserted in the language they are written in."""
    with translation.override("en"):
        yield


SALE_SRID = "27384950617283746.0.0"  # 17 digits and ".N.N"
NON_BUYOUT_SRID = "a1b2c3d4e5f60718293a4b5c6d7e8f90"  # 32 hex
RETURN_SRID = "0f1c3999172603062979867564654dac5b702849"  # 40 hex
DAMAGE_SRID = "31928374650192837.1.0"
BROKEN_SRID = "41928374650192837.0.0"


def logistics(rrd_id, srid, leg, fee, day, *, operation="Логистика", returns=0):
    return {
        "rrd_id": rrd_id,
        "srid": srid,
        "doc_type_name": "Продажа",
        "supplier_oper_name": operation,
        "bonus_type_name": leg,
        "delivery_amount": 1 - returns,
        "return_amount": returns,
        "delivery_rub": fee,
        "ppvz_for_pay": D("0"),
        "day": day,
    }


ZERO = D("0")


def goods(rrd_id, srid, doc, operation, pay, day, *, price=ZERO):
    return {
        "rrd_id": rrd_id,
        "srid": srid,
        "doc_type_name": doc,
        "supplier_oper_name": operation,
        "bonus_type_name": "",
        "delivery_amount": 0,
        "return_amount": 0,
        "delivery_rub": D("0"),
        "ppvz_for_pay": pay,
        "retail_price_withdisc_rub": price,
        "day": day,
    }


MON, TUE, WED = dt.date(2026, 3, 2), dt.date(2026, 3, 3), dt.date(2026, 3, 4)
WEEK = [
    goods(9001, SALE_SRID, "Продажа", "Продажа", D("1120.50"), MON, price=D("1500.00")),
    logistics(9002, SALE_SRID, "К клиенту при продаже", D("92.40"), MON),
    logistics(9003, NON_BUYOUT_SRID, "К клиенту при отмене", D("103.10"), MON),
    logistics(9004, NON_BUYOUT_SRID, "От клиента при отмене", D("50.00"), TUE, returns=1),
    goods(9005, RETURN_SRID, "Возврат", "Возврат", D("745.00"), TUE, price=D("990.00")),
    logistics(9006, RETURN_SRID, "От клиента при возврате", D("50.00"), TUE, returns=1),
    goods(9007, DAMAGE_SRID, "Продажа", "Компенсация ущерба", D("1640.00"), WED),
    logistics(
        9008,
        NON_BUYOUT_SRID,
        "К клиенту при отмене",
        D("103.10"),
        WED,
        operation="Логистика сторно",
    ),
    logistics(
        9009,
        RETURN_SRID,
        "От клиента при возврате",
        D("-10.00"),
        WED,
        operation="Коррекция логистики",
        returns=1,
    ),
    {
        **goods(9010, SALE_SRID, "Продажа", "Возмещение издержек по перевозке", D("0"), WED),
        "rebill_logistic_cost": D("1.40"),
    },
    logistics(9011, BROKEN_SRID, "От клиента при отмене", "5O,00", WED, returns=1),
    logistics(
        9012,
        RETURN_SRID,
        "Возврат товара, который приехал по МП, продавцу (К продавцу)",
        D("404.80"),
        WED,
    ),
]

# What every form of the week reads as: kind, peril, reason, cancels, amount, item, day.
EXPECTED = [
    (RowKind.SALE, None, None, None, D("1120.50"), SALE_SRID, MON),
    (RowKind.IGNORED, None, "not_insured", None, D("92.40"), SALE_SRID, MON),
    (RowKind.FORWARD_FEE, "non_buyout", None, None, D("103.10"), NON_BUYOUT_SRID, MON),
    (RowKind.REVERSE_FEE, "non_buyout", None, None, D("50.00"), NON_BUYOUT_SRID, TUE),
    (RowKind.SALE_RETURN, None, None, None, D("-745.00"), RETURN_SRID, TUE),
    (RowKind.REVERSE_FEE, "return", None, None, D("50.00"), RETURN_SRID, TUE),
    (RowKind.COMPENSATION, None, "damage", None, D("1640.00"), DAMAGE_SRID, WED),
    (RowKind.STORNO, "non_buyout", None, "forward_fee", D("103.10"), NON_BUYOUT_SRID, WED),
    (RowKind.CORRECTION, "return", None, "reverse_fee", D("-10.00"), RETURN_SRID, WED),
    (RowKind.IGNORED, None, "rebill_logistics", None, D("1.40"), SALE_SRID, WED),
    (RowKind.ERROR, None, "bad_number", None, None, None, None),
    (RowKind.RETURN_TO_SELLER_FEE, None, None, None, D("404.80"), RETURN_SRID, WED),
]
# ...and what the netting makes of it, with the index of the row a row nets against.
EXPECTED_OUTCOMES = [
    (Outcome.KEPT, None, None),
    (Outcome.IGNORED, "not_insured", None),
    (Outcome.NETTED, None, 7),  # the forward leg cancelled by 9008
    (Outcome.KEPT, None, None),  # the insured reverse leg: a claim
    (Outcome.KEPT, None, None),
    (Outcome.KEPT, None, None),  # the insured reverse leg of the return
    (Outcome.KEPT, None, None),  # a compensation to record
    (Outcome.NETTED, None, 2),
    (Outcome.KEPT, None, None),  # a correction for the importer
    (Outcome.IGNORED, "rebill_logistics", None),
    (Outcome.ERROR, "bad_number", None),
    (Outcome.KEPT, None, None),  # the leg back to the seller
]

HEADERS_2023 = {
    "row_number": "№",
    "nm_id": "Код номенклатуры",
    "doc_type_name": "Тип документа",
    "supplier_oper_name": "Обоснование для оплаты",
    "day": "Дата продажи",
    "retail_price_withdisc_rub": "Цена розничная с учетом согласованной скидки",
    "ppvz_for_pay": "К перечислению Продавцу за реализованный Товар",
    "delivery_amount": "Количество доставок",
    "return_amount": "Количество возврата",
    "delivery_rub": "Услуги по доставке товара покупателю",
    "additional_payment": "Доплаты",
    "bonus_type_name": "Виды логистики, штрафов и доплат",
    "srid": "Srid",
    "rebill_logistic_cost": "Возмещение издержек по перевозке",
}
# The columns moved and some were renamed in 2024: same fields, other order and names.
HEADERS_2025 = {
    "row_number": "№",
    "nm_id": "Код номенклатуры",
    "doc_type_name": "Тип документа",
    "supplier_oper_name": "Обоснование для оплаты",
    "day": "Дата продажи",
    "retail_price_withdisc_rub": "Цена розничная с учётом согласованной скидки",
    "ppvz_for_pay": "К перечислению Продавцу за реализованный Товар",
    "delivery_amount": "Количество доставок",
    "return_amount": "Количество возврата",
    "delivery_rub": "Услуги по доставке товара покупателю",
    "additional_payment": "Корректировка Вознаграждения Вайлдберриз (ВВ)",
    "bonus_type_name": "Виды логистики, штрафов и корректировок ВВ",
    "assembly_id": "Номер сборочного задания",
    "srid": "Srid",
    "rebill_logistic_cost": "Возмещение издержек по перевозке/по складским операциям с товаром",
    "acceptance": "Операции при приёмке",
}
HEADERS_2025 = dict(reversed(list(HEADERS_2025.items())))  # column order does not matter


def api_rows(rows: list[dict], *, form: ReportFormat, currency: str | None = None) -> bytes:
    """Return the rows as the v5 or finance API sends them."""
    items = []
    for row in rows:
        item = {}
        for field, value in row.items():
            if field == "day":
                item[_name("rr_dt", form)] = value.isoformat()
                item[_name("sale_dt", form)] = f"{value.isoformat()}T00:00:00Z"
            elif form is ReportFormat.WB_FINANCE and isinstance(value, Decimal):
                item[_name(field, form)] = str(value)  # the finance API's money is text
            else:
                item[_name(field, form)] = value
        if currency:
            item[_name("currency", form)] = currency
        if not item.get(_name("bonus_type_name", form)):
            # v5 leaves bonus_type_name out when it is empty.
            item.pop(_name("bonus_type_name", form), None)
        items.append(item)
    return json_bytes(items)


def _name(field: str, form: ReportFormat) -> str:
    names = FIELDS[field]
    return names.v5 if form is ReportFormat.WB_V5 else names.finance


def table(rows: list[dict], headers: dict[str, str]) -> list[list]:
    """Return the rows as the portal lays them out: a header, then one line per row."""
    lines = [list(headers.values())]
    for number, row in enumerate(rows, start=1):
        values = {**row, "row_number": number}
        lines.append([values.get(field, "") for field in headers])
    return lines


FORMS = {
    "v5": lambda rows: api_rows(rows, form=ReportFormat.WB_V5),
    "finance": lambda rows: api_rows(rows, form=ReportFormat.WB_FINANCE),
    "xlsx 2023": lambda rows: xlsx_bytes(table(rows, HEADERS_2023)),
    "xlsx 2025": lambda rows: xlsx_bytes(table(rows, HEADERS_2025), title_rows=2),
    "csv 2023": lambda rows: csv_bytes(table(rows, HEADERS_2023)),
    "csv 2025 cp1251": lambda rows: csv_bytes(table(rows, HEADERS_2025), encoding="cp1251"),
}
FORMATS = {
    "v5": ReportFormat.WB_V5,
    "finance": ReportFormat.WB_FINANCE,
    "xlsx 2023": ReportFormat.WB_XLSX,
    "xlsx 2025": ReportFormat.WB_XLSX,
    "csv 2023": ReportFormat.WB_CSV,
    "csv 2025 cp1251": ReportFormat.WB_CSV,
}


def summary(row):
    return (
        row.kind,
        row.peril,
        row.reason,
        row.cancels,
        row.amount,
        row.shipment_id,
        row.occurred_on,
    )


@pytest.mark.parametrize("form", FORMS)
def test_the_week_reads_the_same_in_every_form(form):
    content = FORMS[form](WEEK)

    report = read_report(content=content, filename="отчёт.bin")
    rows = list(report.rows())

    assert report.format is FORMATS[form]
    assert detect_format(content=content) is FORMATS[form]
    assert report.count == len(WEEK)
    assert [summary(row) for row in rows] == EXPECTED


@pytest.mark.parametrize("form", FORMS)
def test_the_week_nets_the_same_in_every_form(form):
    rows = list(read_report(content=FORMS[form](WEEK)).rows())
    lines = [row.line for row in rows]

    outcomes = net_within_report(rows)

    assert [
        (o.outcome, o.reason, None if o.partner is None else lines.index(o.partner))
        for o in outcomes
    ] == EXPECTED_OUTCOMES


def test_api_rows_are_keyed_by_rrd_id_and_placed_by_position():
    rows = list(read_report(content=FORMS["v5"](WEEK)).rows())

    assert [row.key for row in rows] == [str(r["rrd_id"]) for r in WEEK]
    assert [row.line for row in rows] == list(range(1, 13))


def test_portal_rows_are_placed_by_their_spreadsheet_row():
    rows = list(read_report(content=FORMS["xlsx 2025"](WEEK)).rows())

    # Two title rows and the header come first.
    assert [row.line for row in rows] == list(range(4, 16))


def test_the_xlsx_and_the_csv_of_one_report_give_the_same_keys():
    xlsx = [row.key for row in read_report(content=FORMS["xlsx 2023"](WEEK)).rows()]
    csv_keys = [row.key for row in read_report(content=FORMS["csv 2023"](WEEK)).rows()]
    again = [row.key for row in read_report(content=FORMS["xlsx 2023"](WEEK)).rows()]

    assert xlsx == csv_keys == again
    assert len(set(xlsx)) == len(WEEK)


def test_a_sale_carries_the_items_price_and_the_order():
    rows = list(read_report(content=FORMS["xlsx 2025"]([{**WEEK[0], "assembly_id": 281699314}])))

    assert rows[0].item_value == D("1500.00")
    assert rows[0].order_id == "281699314"


@pytest.mark.parametrize(
    ("form", "column"),
    [
        ("v5", "delivery_rub"),
        ("finance", "deliveryService"),
        ("xlsx 2023", "Услуги по доставке товара покупателю"),
        ("csv 2025 cp1251", "Услуги по доставке товара покупателю"),
    ],
)
def test_a_broken_number_is_an_error_row_naming_the_column_and_the_value(form, column):
    rows = list(read_report(content=FORMS[form](WEEK)).rows())

    broken = rows[10]

    assert broken.kind is RowKind.ERROR
    assert column in broken.error and "5O,00" in broken.error
    assert broken.raw_kind == "Логистика"
    assert sum(row.kind is RowKind.ERROR for row in rows) == 1


def test_a_row_repeated_in_the_next_weeks_report_has_the_same_key():
    first = {row.key: row for row in read_report(content=FORMS["v5"](WEEK[:6])).rows()}
    second = {row.key: row for row in read_report(content=FORMS["v5"](WEEK[4:])).rows()}

    assert first.keys() & second.keys() == {"9005", "9006"}
    assert first["9006"].content() == second["9006"].content()


def test_rows_repeated_in_one_file_are_duplicates_of_their_first():
    rows = list(read_report(content=FORMS["finance"](WEEK[:6] + WEEK[4:])).rows())

    outcomes = net_within_report(rows)

    duplicates = [(o.key, o.line, o.partner) for o in outcomes if o.outcome is Outcome.DUPLICATE]
    assert duplicates == [("9005", 7, 5), ("9006", 8, 6)]
    assert sum(o.outcome is Outcome.NETTED for o in outcomes) == 2


def test_rows_not_in_roubles_are_kept_and_marked():
    rows = list(
        read_report(content=api_rows(WEEK[3:4], form=ReportFormat.WB_FINANCE, currency="KZT"))
    )

    (outcome,) = net_within_report(rows)

    assert (rows[0].kind, rows[0].currency) == (RowKind.REVERSE_FEE, "KZT")
    assert (outcome.outcome, outcome.reason) == (Outcome.IGNORED, "currency")


def test_v5_money_given_in_roubles_by_name_is_in_roubles():
    (row,) = read_report(content=api_rows(WEEK[3:4], form=ReportFormat.WB_V5, currency="руб"))

    assert row.currency == "RUB"


def test_a_compensation_taken_back_nets_with_its_payment():
    back = {**WEEK[6], "rrd_id": 9100, "doc_type_name": "Возврат"}

    rows = list(read_report(content=FORMS["v5"]([WEEK[6], back])).rows())

    assert [row.amount for row in rows] == [D("1640.00"), D("-1640.00")]
    assert [o.outcome for o in net_within_report(rows)] == [Outcome.NETTED, Outcome.NETTED]


def test_a_compensation_paid_as_additional_payment_is_read_there():
    row = {**WEEK[6], "ppvz_for_pay": D("0"), "additional_payment": D("1640.00")}

    (read,) = read_report(content=FORMS["xlsx 2023"]([row]))

    assert (read.kind, read.amount) == (RowKind.COMPENSATION, D("1640.00"))


def test_a_logistics_row_without_a_leg_is_the_reverse_leg_when_it_counts_a_return():
    row = {**WEEK[3], "bonus_type_name": ""}

    (read,) = read_report(content=FORMS["v5"]([row]))

    assert (read.kind, read.peril, read.amount) == (RowKind.REVERSE_FEE, None, D("50.00"))


def test_an_unknown_operation_is_ignored_and_named():
    row = {**WEEK[0], "supplier_oper_name": "Новая выплата"}

    (read,) = read_report(content=FORMS["csv 2023"]([row]))

    assert (read.kind, read.reason, read.raw_kind) == (
        RowKind.IGNORED,
        "unknown_operation",
        "Новая выплата",
    )


def test_an_unknown_header_variant_is_refused_naming_the_missing_headers():
    headers = {
        **HEADERS_2025,
        "supplier_oper_name": "Основание для оплаты",
        "srid": "Идентификатор заказа",
    }

    with pytest.raises(ReportFileError) as refused:
        read_report(content=xlsx_bytes(table(WEEK, headers)), filename="week.xlsx")

    assert refused.value.code == ErrorCode.INVALID_FILE
    assert refused.value.missing == ["Обоснование для оплаты", "Srid"]
    assert "«Обоснование для оплаты»" in refused.value.message
    assert "«Srid»" in refused.value.message
    assert refused.value.extra["expected"] == list(ReportFormat)


def test_a_csv_without_the_needed_headers_is_refused_too():
    headers = {k: v for k, v in HEADERS_2023.items() if k != "delivery_rub"}

    with pytest.raises(ReportFileError) as refused:
        read_report(content=csv_bytes(table(WEEK, headers)))

    assert refused.value.missing == ["Услуги по доставке товара покупателю"]


def test_the_csv_reads_decimal_commas_and_grouped_thousands():
    content = csv_bytes(table([{**WEEK[0], "ppvz_for_pay": D("1234567.89")}], HEADERS_2023))

    (row,) = read_report(content=content)

    assert "1\u00a0234\u00a0567,89" in content.decode("utf-8-sig")
    assert row.amount == D("1234567.89")
