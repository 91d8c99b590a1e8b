"""The shared input rules: which characters, digits and dates every interface refuses."""

import datetime as dt
import re
import sys
import unicodedata
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from claims.models import Claim
from policies.api.serializers import YEARS_PATTERN
from policies.ingest import build, field_errors
from policies.validators import (
    EARLIEST_DATE,
    LATEST_DATE,
    LINE_PATTERN,
    TEXT_PATTERN,
    is_valid_inn,
    unsigned_zero,
    validate_ascii_digits,
    validate_date_in_range,
    validate_line,
    validate_text,
)
from tests import factories

INVISIBLE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}
# Every code point but the surrogates, which no decoded text holds (DRF refuses them).
CODE_POINTS = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
# Egyptian hieroglyph format controls: Cf since Unicode 15.0 (Python 3.12), refused on 3.11 too.
FORMAT_CHARACTERS_OF_UNICODE_15 = {chr(c) for c in range(0x13439, 0x13440)}


def refuses(rule, value) -> bool:
    try:
        rule(value)
    except ValidationError:
        return True
    return False


def test_a_line_refuses_exactly_unicodes_controls_format_characters_and_separators():
    refused = {c for c in CODE_POINTS if refuses(validate_line, f"a{c}b")}

    expected = {c for c in CODE_POINTS if unicodedata.category(c) in INVISIBLE_CATEGORIES}
    assert refused == expected | FORMAT_CHARACTERS_OF_UNICODE_15


def test_free_text_keeps_tabs_line_breaks_and_joiners_but_not_bidi_controls():
    assert not refuses(validate_text, "Коробка вскрыта.\r\n\tТовар разбит 👨\u200d👩\u200d👧.")
    for character in "\x00\x07\x1b\x7f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
        assert refuses(validate_text, f"a{character}b"), hex(ord(character))


def test_the_schema_patterns_read_the_bmp_as_the_rules_do():
    for character in (c for c in CODE_POINTS if ord(c) <= 0xFFFF):
        value = f"a{character}b"
        assert (re.search(LINE_PATTERN, value) is None) == refuses(validate_line, value)
        assert (re.search(TEXT_PATTERN, value) is None) == refuses(validate_text, value)


@pytest.mark.parametrize(
    ("day", "taken"),
    [
        (EARLIEST_DATE - dt.timedelta(days=1), False),
        (EARLIEST_DATE, True),
        (dt.date(2026, 11, 20), True),
        (LATEST_DATE, True),
        (LATEST_DATE + dt.timedelta(days=1), False),
        (dt.date(1, 1, 1), False),
        (dt.date(9999, 12, 31), False),
    ],
)
def test_the_schemas_years_are_the_date_rules_range(day, taken):
    assert (not refuses(validate_date_in_range, day)) is taken
    assert bool(re.search(YEARS_PATTERN, day.isoformat())) is taken


def test_a_time_is_held_to_the_range_by_its_own_day():
    late = dt.datetime(2100, 12, 31, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))

    assert not refuses(validate_date_in_range, late)
    assert refuses(validate_date_in_range, dt.datetime(1, 1, 1, tzinfo=dt.UTC))


@pytest.mark.parametrize("text", ["１２３", "١٢٣", "۱۲۳", "१२३", "12３"])
def test_digits_of_other_scripts_are_refused(text):
    assert refuses(validate_ascii_digits, text)


@pytest.mark.parametrize("text", ["1 500,00", "1\u00a0500,00 ₽", "20.11.2026", "1500.00"])
def test_the_digits_0_to_9_and_their_separators_are_taken(text):
    assert not refuses(validate_ascii_digits, text)


def test_a_tax_id_has_the_digits_0_to_9():
    assert is_valid_inn("7707083893")
    assert not is_valid_inn("７７０７０８３８９３")
    assert not is_valid_inn("٧٧٠٧٠٨٣٨٩٣")


def test_a_signed_zero_loses_its_sign_and_nothing_else_changes():
    assert str(unsigned_zero(Decimal("-0.00"))) == "0.00"
    assert unsigned_zero(Decimal("-1.50")) == Decimal("-1.50")
    assert unsigned_zero(None) is None


@pytest.mark.django_db
def test_the_bulk_kits_field_errors_apply_the_shared_rules():
    seller = factories.SellerFactory.build(legal_name="ООО «Ромашка»\u202e")
    shipment = factories.ShipmentFactory.build(
        warehouse="Коледино\u200b", shipped_at=dt.datetime(1, 1, 1, tzinfo=dt.UTC)
    )

    assert list(field_errors(seller)) == ["legal_name"]
    assert set(field_errors(shipment)) == {"warehouse", "shipped_at"}
    assert field_errors(factories.ShipmentFactory.build()) == {}


@pytest.mark.django_db
def test_a_field_moved_off_its_default_is_checked_again():
    claim = factories.ClaimFactory.build()
    assert field_errors(claim) == {}

    # Each of these starts at its model's default, which is checked once and then skipped.
    claim.payable_amount = Decimal("1e20")
    claim.sla_paused_days = -1
    claim.rejection_reason = "Причина\u202e"

    assert set(field_errors(claim)) == {"payable_amount", "sla_paused_days", "rejection_reason"}


@pytest.mark.django_db
def test_a_default_that_is_no_valid_value_is_never_skipped():
    # A number left blank defaults to "", which its field refuses: it is checked as given.
    claim = factories.ClaimFactory.build(number="")

    assert "number" in field_errors(claim)


@pytest.mark.django_db
def test_build_makes_the_row_its_keyword_arguments_make():
    shipment = factories.ShipmentFactory()
    values = {
        "number": "CL-261203-ABCDEFGH",
        "marketplace": shipment.marketplace,
        "seller": shipment.seller,
        "policy": shipment.policy,
        "shipment": shipment,
        "cover": "return_logistics",
        "peril": "non_buyout",
        "event_date": dt.date(2026, 11, 30),
        "event_key": "k",
        "source": "report",
        "claimed_amount": Decimal("50.00"),
    }

    built, made = build(Claim, **values), Claim(**values)

    fields = Claim._meta.concrete_fields
    assert [getattr(built, f.attname) for f in fields] == [getattr(made, f.attname) for f in fields]
    assert built.shipment is shipment and built.seller is shipment.seller
    assert built.flags == [] and built.flags is not build(Claim, **values).flags
    assert built._state.adding
    with pytest.raises(TypeError, match="no field colour"):
        build(Claim, colour="red")
