"""Cells of a bordereau's CSV row as its PDF shows them, in the document's language."""

import datetime as dt
from decimal import Decimal

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from claims.choices import ClaimStatus
from policies.choices import Cover, Peril, PolicyStatus

register = template.Library()

COLUMNS = {
    "policy": _("Policy"),
    "seller": _("Seller"),
    "tax_id": _("INN"),
    "product": _("Product"),
    "version": _("Version"),
    "period_start": _("From"),
    "period_end": _("To"),
    "status_at_month_end": _("Status at month end"),
    "shipments": _("Shipments"),
    "declared_value": _("Declared value"),
    "premium": _("Premium"),
    "claim": _("Claim"),
    "cover": _("Cover"),
    "peril": _("Peril"),
    "event_date": _("Event"),
    "claimed": _("Claimed"),
    "assessed": _("Assessed"),
    "marketplace_compensation": _("Compensation"),
    "payable": _("Payable"),
    "paid_to_date": _("Paid"),
    "recovery_raised_to_date": pgettext_lazy("amount", "Recoveries raised"),
    "recovery_received_to_date": pgettext_lazy("amount", "Recoveries received"),
}
MONEY = {
    "declared_value",
    "premium",
    "claimed",
    "assessed",
    "marketplace_compensation",
    "payable",
    "paid_to_date",
    "recovery_raised_to_date",
    "recovery_received_to_date",
}
DATES = {"period_start", "period_end", "event_date"}
LABELS = {
    "cover": dict(Cover.choices),
    "peril": dict(Peril.choices),
    "status_at_month_end": {**dict(PolicyStatus.choices), **dict(ClaimStatus.choices)},
}


@register.filter
def column_label(column: str) -> str:
    return COLUMNS.get(column, column)


@register.filter
def is_amount(column: str) -> bool:
    return column in MONEY or column == "shipments"


@register.filter
def cell(value, column: str) -> str:
    """Return one CSV value formatted for reading: money grouped, dates dd.mm.yyyy, codes named."""
    if column in MONEY:
        return number_format(Decimal(value), 2, use_l10n=True, force_grouping=True)
    if column in DATES:
        return dt.date.fromisoformat(value).strftime("%d.%m.%Y")
    if column in LABELS:
        return str(LABELS[column].get(value, value))
    return str(value)
