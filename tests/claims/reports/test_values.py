"""Money, dates, ids and currencies as the reports spell them."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claims.reports.detect import load_json
from claims.reports.values import (
    normal_currency,
    normal_label,
    parse_date,
    parse_id,
    parse_money,
)

amounts = st.decimals(
    min_value=Decimal("-999999999.99"),
    max_value=Decimal("999999999.99"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)


def _grouped(amount: Decimal, space: str, point: str) -> str:
    return format(amount, ",.2f").replace(",", space).replace(".", point)


# Every way a WB or Ozon file writes one amount.
SPELLINGS = {
    "v5 JSON number": lambda d: load_json(str(d)),
    "finance API string": lambda d: str(d),
    "decimal comma": lambda d: str(d).replace(".", ","),
    "grouped with spaces": lambda d: _grouped(d, " ", ","),
    "grouped with no-break spaces": lambda d: _grouped(d, "\u00a0", ","),
    "grouped with narrow no-break spaces": lambda d: _grouped(d, "\u202f", "."),
    "unicode minus": lambda d: str(d).replace("-", "\u2212"),
    "padded": lambda d: f"  {d}\t",
    "one place": lambda d: f"{d:.1f}" if d == d.quantize(Decimal("0.1")) else str(d),
    "XLSX double": lambda d: float(d),
    "explicit plus": lambda d: f"+{d}" if d >= 0 else str(d),
}


@given(amount=amounts, spelling=st.sampled_from(sorted(SPELLINGS)))
def test_any_spelling_of_an_amount_reads_as_the_same_decimal(amount, spelling):
    parsed = parse_money(SPELLINGS[spelling](amount))

    assert parsed == amount
    assert isinstance(parsed, Decimal)
    assert parsed.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "0.00"),
        ("", "0.00"),
        (0, "0.00"),
        (50, "50.00"),
        ("1.349", "1.35"),  # WB's rebill cost has three places; money keeps two, half up
        (Decimal("0.125"), "0.13"),
        ("1 120,5", "1120.50"),
    ],
)
def test_amounts_are_two_places_rounded_half_up(value, expected):
    assert parse_money(value) == Decimal(expected)


@pytest.mark.parametrize(
    "value", ["5O,00", "12,3,4", "1.120,50", "1e3", "abc", "NaN", True, [1], "--5"]
)
def test_a_broken_number_is_refused_not_guessed(value):
    with pytest.raises(ValueError):
        parse_money(value)


def test_json_never_makes_a_float():
    data = load_json('{"a": 1120.50, "b": [0.1, 2], "c": "3.30"}')

    assert data == {"a": Decimal("1120.50"), "b": [Decimal("0.1"), 2], "c": "3.30"}
    with pytest.raises(ValueError):
        load_json('{"a": NaN}')


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2022-10-20", dt.date(2022, 10, 20)),  # v5 rr_dt
        ("2022-10-20T00:00:00Z", dt.date(2022, 10, 20)),  # v5 sale_dt
        ("2026-03-05 00:00:00", dt.date(2026, 3, 5)),  # Ozon operation_date
        ("12.10.2024", dt.date(2024, 10, 12)),  # CSV
        ("12.10.2024 15:22:04", dt.date(2024, 10, 12)),
        (dt.datetime(2024, 10, 12, 15, 22, 4), dt.date(2024, 10, 12)),  # XLSX date cell
        (45577.0, dt.date(2024, 10, 12)),  # XLSX date saved without a date style
        ("", None),
        (None, None),
    ],
)
def test_dates_are_the_reports_own_day(value, expected):
    assert parse_date(value) == expected


@pytest.mark.parametrize("value", ["20/10/2022", "2022-13-01", "вчера", 1120.5, 12])
def test_a_broken_date_is_refused(value):
    with pytest.raises(ValueError):
        parse_date(value)


def test_ids_are_text_and_zero_is_none():
    assert parse_id(1232610467) == "1232610467"
    assert parse_id(1234567.0) == "1234567"  # XLSX numbers arrive as float
    assert parse_id("0f1c3999172603062979867564654dac5b702849") == (
        "0f1c3999172603062979867564654dac5b702849"
    )
    assert parse_id("27384950617283746.0.0") == "27384950617283746.0.0"
    assert parse_id(0) is None
    assert parse_id("") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("руб", "RUB"), ("RUB", "RUB"), ("", "RUB"), (None, "RUB"), ("KZT", "KZT"), ("сум", "СУМ")],
)
def test_currency_names_the_rouble_once(value, expected):
    assert normal_currency(value) == expected


def test_labels_match_whatever_the_case_spaces_and_yo():
    assert normal_label("  Операции  при приёмке ") == normal_label("операции при приемке")
