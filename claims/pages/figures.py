"""How the seller's figures read on the page: months in the reader's language, the bars of the
charts (drawn as SVG on the server, no script) and the CSV of the month-by-month money."""

import csv
import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext, pgettext_lazy

from claims.choices import ClaimStatus
from claims.selectors import MonthFigures, PolicyLimitUse, SellerFigures
from claims.templatetags.money import rub

# Standalone month names: Russian writes them in lower case, "март 2026".
MONTH_NAMES = {
    1: pgettext_lazy("standalone month", "January"),
    2: pgettext_lazy("standalone month", "February"),
    3: pgettext_lazy("standalone month", "March"),
    4: pgettext_lazy("standalone month", "April"),
    5: pgettext_lazy("standalone month", "May"),
    6: pgettext_lazy("standalone month", "June"),
    7: pgettext_lazy("standalone month", "July"),
    8: pgettext_lazy("standalone month", "August"),
    9: pgettext_lazy("standalone month", "September"),
    10: pgettext_lazy("standalone month", "October"),
    11: pgettext_lazy("standalone month", "November"),
    12: pgettext_lazy("standalone month", "December"),
}


def month_label(month: dt.date) -> str:
    """Return the month and year as the reader names them: "март 2026", "March 2026"."""
    return pgettext("month and year", "%(month)s %(year)s") % {
        "month": MONTH_NAMES[month.month],
        "year": month.year,
    }


# The parts a month's losses went to, in the order the bar stacks them; each key is the
# MonthFigures field and the CSS class (series-<key>) that colours it.
MONEY_SERIES = (
    ("marketplace_paid", pgettext_lazy("money line", "Marketplace paid")),
    ("insurer_paid", pgettext_lazy("money line", "Insurer paid")),
    ("to_pay", gettext_lazy("Insurer still to pay")),
    ("seller_bore", pgettext_lazy("money line", "You bore")),
)

# The claims' statuses, gathered into the stages the status chart stacks.
STATUS_STAGES = (
    (
        "settling",
        gettext_lazy("Being settled"),
        (
            ClaimStatus.SUBMITTED,
            ClaimStatus.AWAITING_COMPENSATION,
            ClaimStatus.UNDER_REVIEW,
            ClaimStatus.APPROVED,
        ),
    ),
    ("waiting", gettext_lazy("Waiting for your answer"), (ClaimStatus.INFO_REQUESTED,)),
    ("paid", gettext_lazy("Paid"), (ClaimStatus.PAID,)),
    (
        "refused",
        gettext_lazy("Rejected or withdrawn"),
        (ClaimStatus.REJECTED, ClaimStatus.WITHDRAWN),
    ),
    ("closed", gettext_lazy("Closed"), (ClaimStatus.CLOSED,)),
)

# The chart's rows: the month's name and figure on one line, its bar on the next.
ROW_HEIGHT = 46
BAR_TOP = 21
BAR_HEIGHT = 16


@dataclass(frozen=True)
class Segment:
    key: str
    title: str
    x: float
    width: float


@dataclass(frozen=True)
class BarRow:
    label: str
    figure: str
    y: int
    segments: tuple[Segment, ...]

    @property
    def text_y(self) -> int:
        return self.y + BAR_TOP - 6

    @property
    def bar_y(self) -> int:
        return self.y + BAR_TOP


@dataclass(frozen=True)
class BarChart:
    rows: tuple[BarRow, ...]
    legend: tuple[tuple[str, str], ...]

    @property
    def height(self) -> int:
        return len(self.rows) * ROW_HEIGHT

    @property
    def bar_height(self) -> int:
        return BAR_HEIGHT


def _part(label, value) -> str:
    """Return a bar part's tooltip: its label and its figure."""
    return pgettext("chart part", "%(label)s: %(value)s") % {"label": label, "value": value}


def _percent(part, whole) -> float:
    return round(float(part) * 100 / float(whole), 2) if whole else 0.0


def _stack(parts: list[tuple[str, str, Decimal | int]], scale: Decimal | int) -> tuple:
    """Return the parts as segments side by side, each as wide as its share of `scale`."""
    segments, x = [], 0.0
    for key, title, value in parts:
        if value <= 0:
            continue
        width = _percent(value, scale)
        segments.append(Segment(key=key, title=title, x=x, width=width))
        x = round(x + width, 2)
    return tuple(segments)


def money_chart(months: list[MonthFigures]) -> BarChart:
    """Return one bar a month: what the marketplace paid, the insurer paid, the insurer has
    still to pay and the seller bore, stacked, on one scale for all months."""
    scale = max(
        (max(m.loss, sum((getattr(m, key) for key, _label in MONEY_SERIES), Decimal(0))))
        for m in months
    )
    rows = []
    for index, month in enumerate(months):
        parts = [
            (key, _part(label, rub(getattr(month, key))), getattr(month, key))
            for key, label in MONEY_SERIES
        ]
        rows.append(
            BarRow(
                label=month_label(month.month),
                figure=_("loss %(amount)s") % {"amount": rub(month.loss)}
                if month.claims
                else _("no claims"),
                y=index * ROW_HEIGHT,
                segments=_stack(parts, scale),
            )
        )
    return BarChart(rows=tuple(rows), legend=tuple((k, str(label)) for k, label in MONEY_SERIES))


def status_chart(months: list[MonthFigures]) -> BarChart:
    """Return one bar a month: its claims in each stage now, on one scale for all months."""
    scale = max(m.claims for m in months)
    rows = []
    for index, month in enumerate(months):
        parts = []
        for key, label, statuses in STATUS_STAGES:
            n = sum(month.by_status.get(status, 0) for status in statuses)
            parts.append((key, _part(label, n), n))
        rows.append(
            BarRow(
                label=month_label(month.month),
                figure=claims_count(month.claims),
                y=index * ROW_HEIGHT,
                segments=_stack(parts, scale),
            )
        )
    return BarChart(
        rows=tuple(rows), legend=tuple((key, str(label)) for key, label, _s in STATUS_STAGES)
    )


def claims_count(n: int) -> str:
    return ngettext("%(n)s claim", "%(n)s claims", n) % {"n": n}


def status_table(figures: SellerFigures) -> dict:
    """Return the claims by month and status as a table: the statuses the period's claims are
    in (in lifecycle order), a row a month with claims, and the total row; each count paired
    with its status's label, which names its cell on a phone."""
    columns = [
        (code, label) for code, label in ClaimStatus.choices if figures.total.by_status.get(code)
    ]

    def counts(month: MonthFigures) -> list[tuple[str, int]]:
        return [(label, month.by_status.get(code, 0)) for code, label in columns]

    return {
        "columns": [label for _code, label in columns],
        "rows": [(month_label(m.month), m, counts(m)) for m in figures.months if m.claims],
        "total": counts(figures.total),
    }


@dataclass(frozen=True)
class LimitBar:
    use: PolicyLimitUse
    used_width: float
    held_width: float

    @property
    def used_percent(self) -> float:
        return _percent(self.use.used, self.use.limit)


def limit_bars(policies: list[PolicyLimitUse]) -> list[LimitBar]:
    """Return each policy's aggregate limit as a bar: the part used, then the part held."""
    bars = []
    for use in policies:
        used = min(100.0, _percent(use.used, use.limit))
        held = min(100.0 - used, _percent(use.held, use.limit))
        bars.append(LimitBar(use=use, used_width=used, held_width=held))
    return bars


def figures_csv(figures: SellerFigures) -> str:
    """Return the month-by-month money as CSV: a byte-order mark for spreadsheets to read it
    as UTF-8, the header in the reader's language, months as YYYY-MM and amounts with a
    decimal point."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(
        [
            _("Month"),
            _("Claims"),
            _("Loss, ₽"),
            _("Marketplace paid, ₽"),
            _("Insurer paid, ₽"),
            _("Insurer still to pay, ₽"),
            _("You bore, ₽"),
            _("Still owed back, ₽"),
        ]
    )
    for month in [*figures.months, figures.total]:
        writer.writerow(
            [
                month.month.strftime("%Y-%m") if month.month else _("Total"),
                month.claims,
                *(
                    f"{amount:.2f}"
                    for amount in (
                        month.loss,
                        month.marketplace_paid,
                        month.insurer_paid,
                        month.to_pay,
                        month.seller_bore,
                        month.owed_back,
                    )
                ),
            ]
        )
    return out.getvalue()
