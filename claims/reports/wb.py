"""Wildberries' seller finance report ("детализация к отчёту о реализации") in all its forms.

The same rows come as the statistics API's reportDetailByPeriod v5 (snake_case, money
as numbers), the finance API's sales-reports/detailed (camelCase, money as strings), and
the seller portal's XLSX or CSV (Russian headers, renamed over the years). Every form is
read by field name through one table, never by column position.

What a row is follows from «Обоснование для оплаты» (supplier_oper_name) and, on logistics
rows, «Виды логистики…» (bonus_type_name): see the tables below.
"""

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

from claims.choices import CompensationReason, ReportFormat, ReportIgnoredReason
from claims.reports.rows import ErrorReason, Period, ReportRow, RowKind, error_row
from claims.reports.values import (
    clean_text,
    normal_currency,
    normal_label,
    parse_count,
    parse_date,
    parse_id,
    parse_money,
)
from policies.choices import Peril


@dataclass(frozen=True)
class WbField:
    v5: str  # reportDetailByPeriod v5
    finance: str  # finance API sales-reports/detailed
    headers: tuple[str, ...] = ()  # the portal's XLSX/CSV headers, every spelling met


# Field → its names. XLSX headers: the 2020–2023 layout, the 2024 layout, and the renames
# of 22.12.2024 («Платная приёмка» → «Операции при приёмке»; the bonus column became
# «Виды логистики, штрафов и корректировок ВВ»). Headers match without regard to case,
# ё/е and repeated spaces; the API names are accepted as headers too (CSV dumps of the API).
FIELDS: dict[str, WbField] = {
    "rrd_id": WbField("rrd_id", "rrdId", ("Номер строки",)),
    "report_id": WbField("realizationreport_id", "reportId", ("Номер отчета",)),
    "row_number": WbField("", "", ("№",)),
    "date_from": WbField("date_from", "dateFrom"),
    "date_to": WbField("date_to", "dateTo"),
    "currency": WbField("currency_name", "currency", ("Валюта",)),
    "supplier_oper_name": WbField(
        "supplier_oper_name", "sellerOperName", ("Обоснование для оплаты",)
    ),
    "doc_type_name": WbField("doc_type_name", "docTypeName", ("Тип документа",)),
    "bonus_type_name": WbField(
        "bonus_type_name",
        "bonusTypeName",
        (
            "Виды логистики, штрафов и доплат",
            "Виды логистики, штрафов и корректировок ВВ",
            "Виды доставок, штрафов и корректировок ВВ",
        ),
    ),
    "srid": WbField("srid", "srid", ("Srid",)),
    "nm_id": WbField("nm_id", "nmId", ("Код номенклатуры", "Артикул WB")),
    "assembly_id": WbField("assembly_id", "orderId", ("Номер сборочного задания",)),
    "rr_dt": WbField("rr_dt", "rrDate", ("Дата операции",)),
    "sale_dt": WbField("sale_dt", "saleDt", ("Дата продажи",)),
    "delivery_amount": WbField("delivery_amount", "deliveryAmount", ("Количество доставок",)),
    "return_amount": WbField("return_amount", "returnAmount", ("Количество возврата",)),
    "delivery_rub": WbField(
        "delivery_rub", "deliveryService", ("Услуги по доставке товара покупателю",)
    ),
    "ppvz_for_pay": WbField(
        "ppvz_for_pay",
        "forPay",
        ("К перечислению Продавцу за реализованный Товар", "К перечислению за товар"),
    ),
    "additional_payment": WbField(
        "additional_payment",
        "additionalPayment",
        ("Доплаты", "Корректировка Вознаграждения Вайлдберриз (ВВ)", "Корректировка ВВ"),
    ),
    "retail_price_withdisc_rub": WbField(
        "retail_price_withdisc_rub",
        "retailPriceWithDisc",
        ("Цена розничная с учетом согласованной скидки",),
    ),
    "penalty": WbField("penalty", "penalty", ("Общая сумма штрафов",)),
    "storage_fee": WbField("storage_fee", "paidStorage", ("Хранение",)),
    "deduction": WbField("deduction", "deduction", ("Удержания",)),
    "acceptance": WbField(
        "acceptance",
        "paidAcceptance",
        ("Платная приемка", "Операции при приемке", "Операции на приемке"),
    ),
    "rebill_logistic_cost": WbField(
        "rebill_logistic_cost",
        "rebillLogisticCost",
        (
            "Возмещение издержек по перевозке",
            "Возмещение издержек по перевозке/по складским операциям с товаром",
        ),
    ),
}

# Without these a portal file cannot say what a row is, for which item, for how much.
REQUIRED_HEADERS = (
    "supplier_oper_name",
    "doc_type_name",
    "bonus_type_name",
    "srid",
    "delivery_rub",
    "ppvz_for_pay",
)
# ...and one date: the 2024+ layout has «Дата операции», older ones only «Дата продажи».
DATE_HEADERS = ("rr_dt", "sale_dt")

HEADER_FIELDS: dict[str, str] = {
    normal_label(name): field
    for field, names in FIELDS.items()
    for name in (*names.headers, names.v5, names.finance)
    if name
}

_MONEY_FIELDS = frozenset(
    {
        "delivery_rub",
        "ppvz_for_pay",
        "additional_payment",
        "retail_price_withdisc_rub",
        "penalty",
        "storage_fee",
        "deduction",
        "acceptance",
        "rebill_logistic_cost",
    }
)
_DATE_FIELDS = frozenset({"rr_dt", "sale_dt"})
_TEXT_FIELDS = frozenset({"supplier_oper_name", "doc_type_name", "bonus_type_name", "currency"})
# What makes a portal row itself when the file has no rrd_id: its number in the report
# and everything the readers take from it, in normal form so the XLSX and the CSV of one
# report give the same keys.
_TABLE_KEY_FIELDS = (
    "report_id",
    "row_number",
    "srid",
    "nm_id",
    "assembly_id",
    "supplier_oper_name",
    "doc_type_name",
    "bonus_type_name",
    "rr_dt",
    "sale_dt",
    "delivery_amount",
    "return_amount",
    *sorted(_MONEY_FIELDS),
    "currency",
)


@dataclass(frozen=True)
class _Meaning:
    kind: RowKind
    peril: str | None = None
    reason: str | None = None
    cancels: RowKind | None = None
    money: str | None = None  # the field that holds the row's amount


# «Обоснование для оплаты» of the sale documents. «Возврат» documents take money back:
# their payout is given positive and counts negative.
SALE_OPERATIONS: dict[str, _Meaning] = {
    "продажа": _Meaning(RowKind.SALE, money="ppvz_for_pay"),
    "корректная продажа": _Meaning(RowKind.SALE, money="ppvz_for_pay"),
    "возврат": _Meaning(RowKind.SALE_RETURN, money="ppvz_for_pay"),
    "корректный возврат": _Meaning(RowKind.SALE_RETURN, money="ppvz_for_pay"),
    "сторно продаж": _Meaning(RowKind.STORNO, cancels=RowKind.SALE, money="ppvz_for_pay"),
    "сторно возвратов": _Meaning(RowKind.STORNO, cancels=RowKind.SALE_RETURN, money="ppvz_for_pay"),
    # The sign of a correction is its amount's own.
    "коррекция продаж": _Meaning(RowKind.CORRECTION, cancels=RowKind.SALE, money="ppvz_for_pay"),
}

# Logistics rows: the operation says whether the leg is charged, cancelled or corrected;
# the leg itself is in bonus_type_name.
LOGISTICS_OPERATIONS: dict[str, RowKind | None] = {
    "логистика": None,
    "логистика сторно": RowKind.STORNO,
    "коррекция логистики": RowKind.CORRECTION,
}

# bonus_type_name of a logistics row → the leg. Cover (a) pays the reverse leg from the
# buyer after a non-buyout or refusal («…при отмене»: WB does not tell the two apart) or a
# return, and the leg back to the seller that follows one. The forward leg of a delivery
# not bought out is paid only where the product version says so.
LOGISTICS_LEGS: dict[str, _Meaning] = {
    "от клиента при отмене": _Meaning(RowKind.REVERSE_FEE, peril=Peril.NON_BUYOUT),
    "от клиента при возврате": _Meaning(RowKind.REVERSE_FEE, peril=Peril.RETURN),
    "возврат товара, который приехал по мп, продавцу (к продавцу)": _Meaning(
        RowKind.RETURN_TO_SELLER_FEE
    ),
    "к клиенту при отмене": _Meaning(RowKind.FORWARD_FEE, peril=Peril.NON_BUYOUT),
    "к клиенту при продаже": _Meaning(RowKind.IGNORED, reason=ReportIgnoredReason.NOT_INSURED),
}
# Legs the cover excludes, and charges filed under logistics, by how their name begins.
LOGISTICS_LEG_PREFIXES: tuple[tuple[str, ReportIgnoredReason], ...] = (
    ("возврат по инициативе продавца", ReportIgnoredReason.NOT_INSURED),
    ("возврат своего товара", ReportIgnoredReason.NOT_INSURED),
    ("возврат брака", ReportIgnoredReason.NOT_INSURED),
    ("возврат неопознанного товара", ReportIgnoredReason.NOT_INSURED),
    ("доплата за логистику с палето-мест", ReportIgnoredReason.NOT_INSURED),
    ("платное хранение возвратов", ReportIgnoredReason.CHARGE),
    ("штраф", ReportIgnoredReason.CHARGE),
    ("сторно. штраф", ReportIgnoredReason.CHARGE),
    ("выявленные расхождения", ReportIgnoredReason.CHARGE),
)

# WB's payments for goods it lost, damaged or substituted, with the reason they carry.
COMPENSATIONS: dict[str, CompensationReason] = {
    "компенсация ущерба": CompensationReason.DAMAGE,
    "компенсация подмены": CompensationReason.SUBSTITUTION,
    "компенсация подмененного товара": CompensationReason.SUBSTITUTION,
    "оплата брака": CompensationReason.DEFECT,
    "компенсация брака": CompensationReason.DEFECT,
    "частичная компенсация брака": CompensationReason.DEFECT,
    "оплата потерянного товара": CompensationReason.LOSS,
    "компенсация потерянного товара": CompensationReason.LOSS,
    "оплата по итогам инвентаризации": CompensationReason.LOSS,
    "авансовая оплата за товар без движения": CompensationReason.OTHER,
    "добровольная компенсация при возврате": CompensationReason.OTHER,
}

# Charges to the seller, with the column that holds their money (None: a column the
# readers do not take).
CHARGES: dict[str, str | None] = {
    "штраф": "penalty",
    "штрафы": "penalty",
    "штрафы и доплаты": "penalty",
    "доплаты": "additional_payment",
    "хранение": "storage_fee",
    "пересчет хранения": "storage_fee",
    "удержание": "deduction",
    "удержания": "deduction",
    "платная приемка": "acceptance",
    "платная приемка мп по коробам": "acceptance",
    "обработка товара": "acceptance",
    "обработка товара мп по коробам": "acceptance",
    "корректировка вознаграждения": None,
    "возмещение за выдачу и возврат товаров на пвз": None,
    "компенсация скидки по программе лояльности": None,
    "коррекция эквайринга": None,
    "эквайринг": None,
}

# «Возмещение издержек по перевозке[/по складским операциям с товаром]» and its relatives
# re-invoice transport costs to the seller: a charge, whatever the word «возмещение»
# suggests; never a compensation.
REBILL_PREFIXES = ("возмещение издержек по перевозке", "перевыставление расходов по логистике")


def classify(*, operation: str, leg: str, deliveries: int, returns: int) -> _Meaning:
    """Return what a row is from its normalised operation and leg labels."""
    if operation in SALE_OPERATIONS:
        return SALE_OPERATIONS[operation]
    if operation in LOGISTICS_OPERATIONS:
        base = _logistics_leg(leg=leg, deliveries=deliveries, returns=returns)
        wrapper = LOGISTICS_OPERATIONS[operation]
        if wrapper is None:
            return base
        return _Meaning(
            wrapper,
            peril=base.peril,
            reason=base.reason,
            cancels=base.kind,
            money="delivery_rub",
        )
    if operation in COMPENSATIONS:
        return _Meaning(RowKind.COMPENSATION, reason=COMPENSATIONS[operation], money="ppvz_for_pay")
    if operation.startswith(REBILL_PREFIXES):
        return _Meaning(
            RowKind.IGNORED,
            reason=ReportIgnoredReason.REBILL_LOGISTICS,
            money="rebill_logistic_cost",
        )
    if operation in CHARGES:
        return _Meaning(
            RowKind.IGNORED, reason=ReportIgnoredReason.CHARGE, money=CHARGES[operation]
        )
    return _Meaning(RowKind.IGNORED, reason=ReportIgnoredReason.UNKNOWN_OPERATION)


def _logistics_leg(*, leg: str, deliveries: int, returns: int) -> _Meaning:
    if leg in LOGISTICS_LEGS:
        meaning = LOGISTICS_LEGS[leg]
    elif prefix := next((p for p in LOGISTICS_LEG_PREFIXES if leg.startswith(p[0])), None):
        meaning = _Meaning(RowKind.IGNORED, reason=prefix[1])
    elif not leg and returns > 0:
        # v5 sends bonus_type_name only when it has one: a leg with a return counted is
        # the reverse leg, but of which peril the row does not say.
        meaning = _Meaning(RowKind.REVERSE_FEE)
    elif not leg and deliveries > 0:
        meaning = _Meaning(RowKind.IGNORED, reason=ReportIgnoredReason.NOT_INSURED)
    else:
        meaning = _Meaning(RowKind.IGNORED, reason=ReportIgnoredReason.UNKNOWN_OPERATION)
    return _Meaning(meaning.kind, peril=meaning.peril, reason=meaning.reason, money="delivery_rub")


class _Problem(Exception):
    def __init__(self, reason: ErrorReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class _Source:
    """One row, seen through the field table: raw values, and the column names for messages."""

    def __init__(
        self,
        *,
        get: Callable[[str], object],
        has: Callable[[str], bool],
        label: Callable[[str], str],
    ) -> None:
        self.get, self.has, self.label = get, has, label

    def money(self, field: str) -> Decimal:
        raw = self.get(field)
        try:
            return parse_money(raw)
        except ValueError:
            raise _Problem(
                ErrorReason.BAD_NUMBER,
                _("%(column)s: “%(value)s” is not a number.")
                % {"column": self.label(field), "value": raw},
            ) from None

    def count(self, field: str) -> int:
        try:
            return parse_count(self.get(field))
        except ValueError:
            raise _Problem(
                ErrorReason.BAD_NUMBER,
                _("%(column)s: “%(value)s” is not a whole number.")
                % {"column": self.label(field), "value": self.get(field)},
            ) from None

    def date(self, field: str) -> dt.date | None:
        raw = self.get(field)
        try:
            return parse_date(raw)
        except ValueError:
            raise _Problem(
                ErrorReason.BAD_DATE,
                _("%(column)s: “%(value)s” is not a date.")
                % {"column": self.label(field), "value": raw},
            ) from None


def _row(source: _Source, *, key: str, line: int) -> ReportRow:
    operation_text = clean_text(source.get("supplier_oper_name"))
    leg_text = clean_text(source.get("bonus_type_name"))
    if not operation_text:
        raise _Problem(
            ErrorReason.MISSING_VALUE,
            _("%(column)s is empty.") % {"column": source.label("supplier_oper_name")},
        )
    operation, leg = normal_label(operation_text), normal_label(leg_text)
    needs_counts = operation in LOGISTICS_OPERATIONS and not leg
    meaning = classify(
        operation=operation,
        leg=leg,
        deliveries=source.count("delivery_amount") if needs_counts else 0,
        returns=source.count("return_amount") if needs_counts else 0,
    )
    takes_back = normal_label(source.get("doc_type_name")) == "возврат"

    amount = None
    if meaning.money and source.has(meaning.money):
        amount = source.money(meaning.money)
        if meaning.kind is RowKind.STORNO:
            amount = abs(amount)
        elif meaning.kind in (RowKind.SALE, RowKind.SALE_RETURN) and takes_back:
            amount = -amount
        elif meaning.kind is RowKind.COMPENSATION:
            if amount:
                amount = -amount if takes_back else amount
            elif source.has("additional_payment"):
                # Some reports put a compensation's cash in additional_payment, signed.
                amount = source.money("additional_payment")

    item_value = None
    if meaning.kind in (RowKind.SALE, RowKind.SALE_RETURN, RowKind.COMPENSATION):
        price = source.money("retail_price_withdisc_rub")
        item_value = abs(price) if price else None

    return ReportRow(
        key=key,
        line=line,
        kind=meaning.kind,
        amount=amount,
        currency=normal_currency(source.get("currency")),
        peril=meaning.peril,
        reason=meaning.reason,
        cancels=meaning.cancels,
        shipment_id=parse_id(source.get("srid")),
        order_id=parse_id(source.get("assembly_id")),
        sku=parse_id(source.get("nm_id")),
        occurred_on=source.date("rr_dt") or source.date("sale_dt"),
        item_value=item_value,
        raw_kind=operation_text,
        raw_detail=leg_text,
    )


def _read(source: _Source, *, key: str, line: int) -> ReportRow:
    try:
        return _row(source, key=key, line=line)
    except _Problem as problem:
        return error_row(
            key=key,
            line=line,
            reason=problem.reason,
            message=problem.message,
            raw_kind=clean_text(source.get("supplier_oper_name")),
        )


# JSON (both APIs) ---------------------------------------------------------------------


def _json_names(form: ReportFormat) -> dict[str, str]:
    if form is ReportFormat.WB_V5:
        return {field: names.v5 for field, names in FIELDS.items() if names.v5}
    return {field: names.finance for field, names in FIELDS.items() if names.finance}


def wb_json_rows(items: Sequence[object], *, form: ReportFormat) -> Iterator[ReportRow]:
    """Yield the rows of a v5 or finance-API answer (a JSON list of objects)."""
    names = _json_names(form)
    for line, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            yield error_row(
                key="",
                line=line,
                reason=ErrorReason.NOT_AN_OBJECT,
                message=_("Row %(line)s is not an object.") % {"line": line},
            )
            continue
        source = _Source(
            get=lambda field, item=item: item.get(names.get(field, "")),
            # The APIs leave out empty fields (bonus_type_name) but every field is theirs.
            has=lambda field: field in names,
            label=lambda field: names.get(field, field),
        )
        key = parse_id(item.get(names["rrd_id"]))
        if key is None:
            yield error_row(
                key="",
                line=line,
                reason=ErrorReason.MISSING_VALUE,
                message=_("%(column)s is empty.") % {"column": names["rrd_id"]},
                raw_kind=clean_text(source.get("supplier_oper_name")),
            )
            continue
        yield _read(source, key=key, line=line)


def wb_json_period(items: Iterable[object], *, form: ReportFormat) -> Period | None:
    """Return the period the rows' reports cover (date_from..date_to), if they give it."""
    names = _json_names(form)
    starts, ends = [], []
    for item in items:
        if not isinstance(item, dict):
            continue
        for field, dates in (("date_from", starts), ("date_to", ends)):
            try:
                day = parse_date(item.get(names[field]))
            except ValueError:
                day = None
            if day:
                dates.append(day)
    if not starts or not ends:
        return None
    return Period(start=min(starts), end=max(ends))


# Portal XLSX and CSV ------------------------------------------------------------------


def wb_table_columns(header: Sequence[object]) -> dict[str, int]:
    """Return the position of each known field in a header row (the first of synonyms wins)."""
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        field = HEADER_FIELDS.get(normal_label(cell))
        if field and field not in columns:
            columns[field] = index
    return columns


def wb_table_missing(columns: dict[str, int]) -> list[str]:
    """Return the headers (as WB spells them) of the required fields a header row lacks."""
    missing = [FIELDS[field].headers[0] for field in REQUIRED_HEADERS if field not in columns]
    if not any(field in columns for field in DATE_HEADERS):
        missing.append(FIELDS["sale_dt"].headers[0])
    return missing


def _key_money(raw: object) -> str:
    return str(parse_money(raw))


def _key_date(raw: object) -> str:
    day = parse_date(raw)
    return day.isoformat() if day else ""


def _key_id(raw: object) -> str:
    return parse_id(raw) or ""


def _key_plan(columns: dict[str, int]) -> list[tuple[int | None, Callable[[object], str]]]:
    """Return, per key field, its column (None: not in this file) and its normal form."""
    plan = []
    for field in _TABLE_KEY_FIELDS:
        if field in _MONEY_FIELDS:
            normal = _key_money
        elif field in _DATE_FIELDS:
            normal = _key_date
        elif field in _TEXT_FIELDS:
            normal = normal_label
        else:
            normal = _key_id
        plan.append((columns.get(field), normal))
    return plan


def _table_key(cells: Sequence[object], plan: list[tuple[int | None, Callable]]) -> str:
    parts = []
    width = len(cells)
    for index, normal in plan:
        raw = cells[index] if index is not None and index < width else None
        try:
            parts.append(normal(raw))
        except ValueError:
            parts.append(clean_text(raw))
    return "wb-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def wb_table_rows(
    rows: Iterable[tuple[int, Sequence[object]]],
    *,
    columns: dict[str, int],
    header: Sequence[object],
) -> Iterator[ReportRow]:
    """Yield the rows of a portal XLSX or CSV: (line, cells) pairs under `header`."""
    labels = {field: clean_text(header[index]) for field, index in columns.items()}
    plan = _key_plan(columns)
    for line, cells in rows:

        def get(field: str, cells: Sequence[object] = cells) -> object:
            index = columns.get(field)
            return cells[index] if index is not None and index < len(cells) else None

        source = _Source(get=get, has=columns.__contains__, label=lambda f: labels.get(f, f))
        key = parse_id(get("rrd_id")) or _table_key(cells, plan)
        yield _read(source, key=key, line=line)
