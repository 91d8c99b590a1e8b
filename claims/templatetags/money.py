"""Money and dates as Russian readers expect them: `1 500,00 ₽`, `22.11.2026`."""

import datetime as dt
from decimal import Decimal

from django import template
from django.utils import timezone
from django.utils.formats import number_format

register = template.Library()


@register.filter
def rub(amount: Decimal | None) -> str:
    """Return the amount with two decimals, grouped in the active language, and the ruble sign."""
    if amount is None or amount == "":
        return "—"
    return f"{number_format(Decimal(amount), 2, use_l10n=True, force_grouping=True)}\xa0₽"


@register.filter
def day(value: dt.date | dt.datetime | None) -> str:
    """Return the date as dd.mm.yyyy, the local date for a moment in time."""
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        value = timezone.localdate(value)
    return value.strftime("%d.%m.%Y")


@register.filter
def percent(rate: Decimal) -> str:
    """Return a rate such as 0.014 as `1,4 %` in the active language."""
    share = (Decimal(rate) * 100).normalize()
    places = max(0, -share.as_tuple().exponent)
    return f"{number_format(share, places, use_l10n=True)}\xa0%"
