"""The input rules every interface shares: the API's fields, the seller pages' and the
admin's forms, and the bulk kit's `field_errors` apply these, so that what one refuses
all refuse, in the same words."""

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from itertools import accumulate

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from policies.errors import ErrorCode, PolicyErrorCode

_INN10_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS_1 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS_2 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN = re.compile(r"[0-9]{10}|[0-9]{12}")


def _check_digit(digits: list[int], weights: tuple[int, ...]) -> int:
    return sum(d * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def is_valid_inn(value: str) -> bool:
    """Return whether `value` is a Russian taxpayer number (ИНН) with valid check digits.

    10 digits for an organisation, 12 for an individual entrepreneur; the
    weights are those of the Federal Tax Service's published algorithm. Only
    the digits 0-9: `str.isdigit` would also take full-width or Arabic-Indic
    ones, which no register holds.
    """
    if not isinstance(value, str) or not _INN.fullmatch(value):
        return False
    digits = [int(c) for c in value]
    if len(value) == 10:
        return _check_digit(digits, _INN10_WEIGHTS) == digits[9]
    return (
        _check_digit(digits, _INN12_WEIGHTS_1) == digits[10]
        and _check_digit(digits, _INN12_WEIGHTS_2) == digits[11]
    )


def validate_inn(value: str) -> None:
    if not is_valid_inn(value):
        raise ValidationError(
            _("Enter a valid tax id (ИНН): 10 or 12 digits with correct check digits."),
            code=PolicyErrorCode.INVALID_TAX_ID,
        )


# What a claim's description needs, on the seller pages and the API alike; it also bounds
# the body of a full bulk of claims (API_MAX_BODY_BYTES).
MAX_DESCRIPTION_CHARS = 2000

# Every date the product takes lies here: policies, shipments, events, claims and payments
# of this century. Outside it a date is a typo or a probe, and at the edges of the calendar
# (year 1, 9999) the period and time-zone arithmetic overflows.
EARLIEST_DATE = dt.date(2000, 1, 1)
LATEST_DATE = dt.date(2100, 12, 31)


def validate_date_in_range(value: dt.date) -> None:
    """Refuse a date, or a time by its own calendar day, outside EARLIEST_DATE..LATEST_DATE."""
    day = value.date() if isinstance(value, dt.datetime) else value
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise ValidationError(
            _("Give a date between %(earliest)s and %(latest)s.")
            % {"earliest": EARLIEST_DATE.isoformat(), "latest": LATEST_DATE.isoformat()},
            code=ErrorCode.DATE_OUT_OF_RANGE,
        )


# Unicode's controls (Cc), format characters (Cf: bidi overrides and isolates, zero-width
# spaces and joiners, the byte-order mark, soft hyphens, tags) and line and paragraph
# separators (Zl, Zp), for Unicode 14 to 15.1; tests/policies/test_validators.py holds them
# to the running Python's database. In an id or a name they are invisible or reorder what
# an adjuster reads, and PostgreSQL cannot store a NUL at all.
_INVISIBLE_BMP = (
    r"\u0000-\u001f\u007f-\u009f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2"
    r"\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
)
_INVISIBLE_ASTRAL = (
    r"\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    r"\U000e0001\U000e0020-\U000e007f"
)
# Free text keeps its tabs and line breaks, and the joiners of emoji and some scripts; the
# other controls and the bidi embeddings, overrides and isolates are refused.
_UNSAFE_IN_TEXT = (
    r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e"
    r"\u2066-\u2069"
)
_IN_LINE = re.compile(f"[{_INVISIBLE_BMP}{_INVISIBLE_ASTRAL}]")
_IN_TEXT = re.compile(f"[{_UNSAFE_IN_TEXT}]")

# The rules as JSON Schema patterns, for the API schema. Characters beyond the BMP are left
# out: in ECMA-262 they are surrogate pairs no character class can name, and the schema's
# test tools refuse the escapes that would.
LINE_PATTERN = f"^[^{_INVISIBLE_BMP}]+$"
TEXT_PATTERN = f"^[^{_UNSAFE_IN_TEXT}]+$"


def validate_line(value: str) -> None:
    """Refuse an id, a name or a reference holding a control, invisible or bidi character."""
    if _IN_LINE.search(value):
        raise ValidationError(
            _("Remove the control, invisible or text-direction characters."),
            code=ErrorCode.INVALID_CHARACTERS,
        )


def validate_text(value: str) -> None:
    """Refuse free text holding a control character other than a tab or a line break, or a
    bidi embedding, override or isolate."""
    if _IN_TEXT.search(value):
        raise ValidationError(
            _("Remove the control or text-direction characters."),
            code=ErrorCode.INVALID_CHARACTERS,
        )


# A decimal digit other than 0-9: Python's Decimal, int and date parsers all read them.
_NON_ASCII_DIGIT = re.compile(r"(?![0-9])\d")


def validate_ascii_digits(text: str) -> None:
    """Refuse text written with other digits than 0-9, before it is read as a number or date.

    Refused rather than read: the schema and the forms say 0-9, a marketplace
    that sends other digits has an encoding fault to fix, and what is stored
    is then exactly what was sent.
    """
    if isinstance(text, str) and _NON_ASCII_DIGIT.search(text):
        raise ValidationError(
            _("Write numbers and dates with the digits 0-9."), code=ErrorCode.NON_ASCII_DIGITS
        )


def unsigned_zero(value: Decimal | None) -> Decimal | None:
    """Return `value`, with a zero's sign dropped: -0.00 equals 0.00 but would print as typed."""
    if value is not None and value.is_zero():
        return value.copy_abs()
    return value


def field_rules(field: models.Field) -> tuple[Callable[[object], None], ...]:
    """Return the shared rules a model field's values must meet beyond its own validators.

    Applied by `policies.ingest.field_errors` rather than declared on the
    fields: validators on a model field are part of its migration state.
    """
    if field.choices:
        return ()
    if isinstance(field, models.DateField):  # a DateTimeField is one too
        stamped = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        return () if stamped else (validate_date_in_range,)
    if isinstance(field, models.TextField):
        return (validate_text,)
    if isinstance(field, models.CharField):
        return (validate_line,)
    return ()


# Deeper than any JSON the product reads (an API bulk is 3 levels, an Ozon report pushed
# over the API 8). The stdlib decoder recurses once a level: a few kilobytes of `[` would
# exhaust the stack, so text is measured with json_depth before it is decoded.
MAX_JSON_DEPTH = 32

# After the escapes are gone, a string runs to the next quote (or to the end of the text,
# unclosed); one pass each, however the quotes fall.
_STRING = re.compile(r'"[^"]*+(?:"|\Z)')
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth(text: str) -> int:
    """Return how deeply the arrays and objects of JSON text nest, without decoding it.

    Brackets inside strings do not count. On malformed text the figure may be
    off, but the decoder then refuses the text before it nests any deeper.
    """
    unescaped = text.replace("\\\\", "").replace('\\"', "")
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", unescaped))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)
