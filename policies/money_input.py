"""Amounts as people type them into the forms: `12 500,00`, `12 500`, `12500.00`, `12,500.00`.

One rule for every form, in both languages:

- the kopecks follow the last comma or dot: at most as many digits as the field keeps;
- the roubles may be grouped in threes by spaces (a normal, a non-breaking or a thin one),
  or by commas when a dot marks the kopecks (`12,500.00`, as the English pages print);
- a single comma followed by exactly three digits (`12,500`) groups thousands only where
  the page's language groups them with commas (English); elsewhere it is three decimals
  and refused, since a Russian reader means 12,5 and a guess would be a thousand times off;
- a dot never groups (`12.500,00` is refused); a minus is refused where an amount cannot be
  negative; a trailing `₽` is allowed, so that what the pages print reads back as it was.

Anything else is refused with a message naming what is wrong, never guessed.
"""

import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from policies.errors import ErrorCode
from policies.validators import validate_ascii_digits

GROUP_SPACES = " \u00a0\u2009\u202f"
_MINUS = ("-", "\u2212")
_ALLOWED = frozenset("0123456789,." + GROUP_SPACES)
_GROUP_MARK = re.compile(f"[{GROUP_SPACES},]")


def _refuse(message, code: ErrorCode, **params) -> ValidationError:
    return ValidationError(message, code=code, params=params or None)


def _invalid() -> ValidationError:
    return _refuse(
        _("Enter the amount in digits, such as 12 500,00 or 12500.00, with no letters or signs."),
        ErrorCode.INVALID_AMOUNT,
    )


def _separators() -> ValidationError:
    return _refuse(
        _(
            "Put the kopecks after a single comma or dot. Group thousands with spaces "
            "(12 500,00), or with commas when a dot marks the kopecks (12,500.00)."
        ),
        ErrorCode.AMOUNT_SEPARATORS,
    )


def _split(body: str, *, comma_groups: bool) -> tuple[str, str | None]:
    """Return the roubles and the kopecks (None: none typed) of an unsigned amount."""
    if body.count(".") > 1:
        raise _separators()
    if "." in body:
        integer, fraction = body.split(".")
        if "," in fraction:
            raise _separators()
        return integer, fraction
    if "," not in body:
        return body, None
    head, _comma, tail = body.rpartition(",")
    if comma_groups and len(tail) == 3 and tail.isdigit():
        return body, None
    if "," in head:
        raise _separators()
    return head, tail


def _ungroup(integer: str) -> str:
    """Return the roubles' digits, their group marks checked and dropped."""
    if integer.isdigit():
        return integer
    marks = {c for c in integer if not c.isdigit()}
    first, *rest = _GROUP_MARK.split(integer)
    if (
        not (marks <= set(GROUP_SPACES) or marks == {","})
        or not 1 <= len(first) <= 3
        or first.startswith("0")
        or any(len(group) != 3 for group in rest)
    ):
        raise _refuse(
            _("Group the digits in threes, such as 12 500,00 or 1 250 000."),
            ErrorCode.AMOUNT_GROUPING,
        )
    return first + "".join(rest)


def amount_from_text(
    text: str, *, places: int | None = 2, comma_groups: bool = False, negative: bool = False
) -> Decimal:
    """Return the amount `text` says, by the rule above; raise ValidationError naming the fault.

    `places` is how many decimals the amount may have (None: any), `comma_groups` whether
    the reader's language groups thousands with commas, `negative` whether the amount may
    be below zero. The value keeps the places typed: `12 500` is Decimal("12500").
    """
    validate_ascii_digits(text)
    body = text.strip().removesuffix("₽").rstrip()
    sign = ""
    if body.startswith(_MINUS):
        sign, body = "-", body[1:]
    if not body or not set(body) <= _ALLOWED:
        raise _invalid()
    integer, fraction = _split(body, comma_groups=comma_groups)
    if not integer or (fraction is not None and not fraction.isdigit()):
        raise _invalid()
    if places is not None and fraction is not None and len(fraction) > places:
        raise _refuse(
            ngettext_lazy(
                "Write at most %(places)d digit after the comma or dot; to group thousands, "
                "use a space: 12 500.",
                "Write at most %(places)d digits after the comma or dot; to group thousands, "
                "use a space: 12 500.",
                "places",
            ),
            ErrorCode.AMOUNT_DECIMAL_PLACES,
            places=places,
        )
    digits = _ungroup(integer)
    value = Decimal(f"{sign}{digits}.{fraction}" if fraction else f"{sign}{digits}")
    if value < 0 and not negative:
        raise _refuse(_("The amount cannot be negative."), ErrorCode.NEGATIVE_AMOUNT)
    return value
