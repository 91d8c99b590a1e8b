"""Values that marketplace reports spell in many ways: money, dates, ids, currency, labels.

Each parser takes what a reader hands it (a JSON value, an XLSX cell, a CSV field) and
returns one normal form, or raises `ValueError`; the reader turns that into an error row.
"""

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

KOPECK = Decimal("0.01")
ZERO = Decimal("0.00")
ROUBLES = "RUB"

# Spaces of any width group thousands in Russian exports ("1 120,50", "1 120,50").
_GROUPING = re.compile(r"[\s\u00a0\u2007\u202f]+")
# One optional sign, digits, at most one decimal separator: anything else is ambiguous
# ("1.120,50", "12,3,4") and is refused rather than guessed.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)")
_MINUS_SIGNS = str.maketrans({"\u2212": "-", "\u2013": "-"})
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?")
_RU_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?: .*)?")
# Excel counts days from 1899-12-30; a date cell saved without a date style arrives as that
# number. The range keeps ordinary amounts from being read as dates (1982 to 2173).
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_EXCEL_SERIALS = range(30_000, 100_000)

# Names the reports give the rouble; the finance API says "RUB", v5 says "руб".
_ROUBLE_NAMES = frozenset({"rub", "rur", "руб", "руб.", "рубль", "рубли", "₽", "643"})


def parse_money(value: object) -> Decimal:
    """Return the amount as a Decimal of two places, rounded half up; blank is zero.

    Accepts JSON numbers already read as Decimal or int, strings with a decimal point or
    comma and grouping spaces, and XLSX numbers.
    """
    if value is None or isinstance(value, bool):
        if value is None:
            return ZERO
        raise ValueError(value)
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        # XLSX keeps numbers as binary doubles and its reader hands them over as float;
        # repr() is the shortest text that reads back as the same double, i.e. the number
        # as it was written, so no binary rounding enters the Decimal.
        number = Decimal(repr(value))
    elif isinstance(value, str):
        text = _GROUPING.sub("", value).translate(_MINUS_SIGNS)
        if not text:
            return ZERO
        if not _PLAIN_NUMBER.fullmatch(text):
            raise ValueError(value)
        number = Decimal(text.replace(",", "."))
    else:
        raise ValueError(value)
    if not number.is_finite():
        raise ValueError(value)
    try:
        return number.quantize(KOPECK, rounding=ROUND_HALF_UP)
    except InvalidOperation as error:
        raise ValueError(value) from error


def parse_count(value: object) -> int:
    """Return a whole count (quantity, number of deliveries); blank is zero."""
    number = parse_money(value)
    if number != number.to_integral_value():
        raise ValueError(value)
    return int(number)


def parse_date(value: object) -> dt.date | None:
    """Return the calendar date the report gives (its own day, no time-zone shift)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, float | int) and not isinstance(value, bool):
        if value == int(value) and int(value) in _EXCEL_SERIALS:
            return _EXCEL_EPOCH + dt.timedelta(days=int(value))
        raise ValueError(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if match := _ISO_DATE.fullmatch(text):
            year, month, day = match.groups()
        elif match := _RU_DATE.fullmatch(text):
            day, month, year = match.groups()
        else:
            raise ValueError(value)
        return dt.date(int(year), int(month), int(day))
    raise ValueError(value)


def parse_id(value: object) -> str | None:
    """Return an identifier as text; blank and 0 (WB's "none") are None.

    XLSX hands whole numbers over as float (1234567.0): they become "1234567".
    """
    if value is None or isinstance(value, bool):
        return None
    if (isinstance(value, float) and value.is_integer()) or (
        isinstance(value, Decimal) and value == value.to_integral_value()
    ):
        value = int(value)
    text = str(value).strip()
    return None if text in ("", "0") else text


def clean_text(value: object) -> str:
    """Return a text cell stripped; numbers keep their written form."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(str(value).split())


def normal_label(value: object) -> str:
    """Return a label in the form the lookup tables use: lower case, ё as е, single spaces."""
    return clean_text(value).lower().replace("ё", "е")


def normal_currency(value: object) -> str:
    """Return ISO-style currency: the rouble as RUB, others as written (upper case).

    A report that names no currency is in roubles: both marketplaces report Russian
    sellers in roubles and name another currency only when it is one.
    """
    text = clean_text(value)
    if not text or text.lower() in _ROUBLE_NAMES:
        return ROUBLES
    return text.upper()
