"""Amounts as people type them: the app's own format and the plain ones read back exactly;
anything ambiguous or malformed is refused with a message naming the problem."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.formats import number_format
from hypothesis import given
from hypothesis import strategies as st

from claims.templatetags.money import rub
from policies.errors import ErrorCode
from policies.forms import DecimalField
from policies.money_input import GROUP_SPACES, amount_from_text

D = Decimal

AMOUNTS = st.decimals(min_value=D("0"), max_value=D("999999999999.99"), places=2)


def refusal(text: str, **kwargs) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        amount_from_text(text, **kwargs)
    return caught.value


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("12 500,00", D("12500.00")),
        ("12 500", D("12500")),
        ("12500.00", D("12500.00")),
        ("12500,00", D("12500.00")),
        ("1 500,5", D("1500.5")),
        ("12\u00a0500,00", D("12500.00")),
        ("12\u2009500,00", D("12500.00")),
        ("12\u202f500,00", D("12500.00")),
        ("1 250 000", D("1250000")),
        ("12,500.00", D("12500.00")),
        ("  12 500,00 ₽ ", D("12500.00")),
        ("0,05", D("0.05")),
        ("7", D("7")),
    ],
)
@pytest.mark.parametrize("comma_groups", [False, True])
def test_the_ways_people_type_an_amount_are_read(text, amount, comma_groups):
    assert amount_from_text(text, comma_groups=comma_groups) == amount


def test_a_comma_before_three_digits_groups_thousands_where_the_language_does():
    assert amount_from_text("12,500", comma_groups=True) == D("12500")
    assert amount_from_text("1,234,567", comma_groups=True) == D("1234567")


def test_a_comma_before_three_digits_is_three_decimals_where_the_language_writes_12_5():
    error = refusal("12,500", comma_groups=False)

    assert error.code == ErrorCode.AMOUNT_DECIMAL_PLACES
    assert "12 500" in error.messages[0]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("12 500,0055", ErrorCode.AMOUNT_DECIMAL_PLACES),
        ("12500.123", ErrorCode.AMOUNT_DECIMAL_PLACES),
        ("1e5", ErrorCode.INVALID_AMOUNT),
        ("1E+5", ErrorCode.INVALID_AMOUNT),
        ("NaN", ErrorCode.INVALID_AMOUNT),
        ("Infinity", ErrorCode.INVALID_AMOUNT),
        ("12 500 руб.", ErrorCode.INVALID_AMOUNT),
        ("+500", ErrorCode.INVALID_AMOUNT),
        ("12500,", ErrorCode.INVALID_AMOUNT),
        (",50", ErrorCode.INVALID_AMOUNT),
        ("-", ErrorCode.INVALID_AMOUNT),
        ("12 50", ErrorCode.AMOUNT_GROUPING),
        ("1250 000", ErrorCode.AMOUNT_GROUPING),
        ("12  500", ErrorCode.AMOUNT_GROUPING),
        ("0 500", ErrorCode.AMOUNT_GROUPING),
        ("1 234,567.00", ErrorCode.AMOUNT_GROUPING),
        ("12.500,00", ErrorCode.AMOUNT_SEPARATORS),
        ("12.500.000", ErrorCode.AMOUNT_SEPARATORS),
        ("1,234,56", ErrorCode.AMOUNT_SEPARATORS),
        ("-500", ErrorCode.NEGATIVE_AMOUNT),
        ("\u2212500,00", ErrorCode.NEGATIVE_AMOUNT),
        ("１２５００", ErrorCode.NON_ASCII_DIGITS),
        ("١٢٥٠٠", ErrorCode.NON_ASCII_DIGITS),
    ],
)
@pytest.mark.parametrize("comma_groups", [False, True])
def test_ambiguous_or_malformed_amounts_are_refused_with_their_code(text, code, comma_groups):
    assert refusal(text, comma_groups=comma_groups).code == code


def test_a_negative_amount_is_read_where_the_field_allows_one():
    assert amount_from_text("-1 500,00", negative=True) == D("-1500.00")


def test_the_places_are_the_fields():
    assert amount_from_text("0,01425", places=5) == D("0.01425")
    assert refusal("0,014", places=2).params == {"places": 2}


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("ru", "Сгруппируйте цифры по три"),
        ("en", "Group the digits in threes"),
    ],
)
def test_the_refusal_is_in_the_readers_language(language, message):
    with translation.override(language):
        assert message in refusal("12 50").messages[0]


@given(amount=AMOUNTS, language=st.sampled_from(["ru", "en"]))
def test_an_amount_as_the_pages_print_it_reads_back(amount, language):
    with translation.override(language):
        printed = rub(amount)
        comma_groups = language == "en"

    assert amount_from_text(printed, comma_groups=comma_groups) == amount


@given(amount=AMOUNTS, space=st.sampled_from(GROUP_SPACES), comma_groups=st.booleans())
def test_an_amount_grouped_with_any_space_reads_back(amount, space, comma_groups):
    with translation.override("ru"):
        grouped = number_format(amount, 2, use_l10n=True, force_grouping=True)

    typed = grouped.replace("\u00a0", space)

    assert amount_from_text(typed, comma_groups=comma_groups) == amount


@given(amount=AMOUNTS, comma_groups=st.booleans())
def test_a_plain_amount_reads_back_with_a_dot_a_comma_or_no_kopecks(amount, comma_groups):
    plain = f"{amount:.2f}"

    assert amount_from_text(plain, comma_groups=comma_groups) == amount
    assert amount_from_text(plain.replace(".", ","), comma_groups=comma_groups) == amount
    whole = amount.to_integral_value()
    assert amount_from_text(f"{whole:f}", comma_groups=comma_groups) == whole


@given(text=st.text(max_size=30))
def test_any_text_is_read_or_refused_never_an_error(text):
    try:
        value = amount_from_text(text, comma_groups=True)
    except ValidationError as error:
        assert error.code
    else:
        assert value.is_finite() and value >= 0


@pytest.mark.parametrize("language", ["ru", "en"])
def test_the_form_field_reads_grouped_amounts_in_both_languages(language):
    field = DecimalField(max_digits=14, decimal_places=2, min_value=D("0.01"), localize=True)

    with translation.override(language):
        assert field.clean("12 500,00") == D("12500.00")
        assert field.clean("12\u00a0500") == D("12500")
        assert field.clean("12500,00") == D("12500.00")


def test_the_form_field_groups_with_commas_only_in_english():
    field = DecimalField(max_digits=14, decimal_places=2, min_value=D("0.01"))

    with translation.override("en"):
        assert field.clean("12,500") == D("12500")
    with translation.override("ru"), pytest.raises(ValidationError) as caught:
        field.clean("12,500")
    assert caught.value.error_list[0].code == ErrorCode.AMOUNT_DECIMAL_PLACES


def test_the_form_field_is_a_text_input_with_a_decimal_keypad():
    field = DecimalField(max_digits=14, decimal_places=2)

    html = field.widget.render("amount", "12 500,00")

    assert 'type="text"' in html
    assert 'inputmode="decimal"' in html
