"""How a report import reads to people: labels for the codes the importer stores on each row,
and the per-row outcomes as CSV. The seller pages and the admin show the same words."""

import csv
from collections.abc import Iterable, Iterator

from django.utils import translation
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from claims.choices import EligibilityCode, ReportIgnoredReason, ReportOutcome
from claims.models import ReportLine
from claims.reports.rows import ErrorReason, RowKind
from policies.choices import Peril

# What a row of the report was, as the readers classified it (RowKind codes).
KIND_LABELS = {
    RowKind.SALE: gettext_lazy("Sale"),
    RowKind.SALE_RETURN: gettext_lazy("Sale taken back"),
    RowKind.REVERSE_FEE: gettext_lazy("Return logistics from the buyer"),
    RowKind.RETURN_TO_SELLER_FEE: gettext_lazy("Logistics back to the seller"),
    RowKind.FORWARD_FEE: gettext_lazy("Delivery to a buyer who did not buy"),
    RowKind.COMPENSATION: gettext_lazy("Marketplace compensation"),
    RowKind.STORNO: gettext_lazy("Cancellation of an earlier row"),
    RowKind.CORRECTION: gettext_lazy("Correction of an earlier row"),
    RowKind.IGNORED: gettext_lazy("Other operation"),
    RowKind.ERROR: gettext_lazy("Unreadable row"),
}

# Reasons the readers and the importer give beyond ReportIgnoredReason: an unreadable
# row's problem, and a fee that came after its claim was settled.
MORE_REASON_LABELS = {
    ErrorReason.BAD_NUMBER: gettext_lazy("A number could not be read"),
    ErrorReason.BAD_DATE: gettext_lazy("A date could not be read"),
    ErrorReason.MISSING_VALUE: gettext_lazy("A required value is empty"),
    ErrorReason.NOT_AN_OBJECT: gettext_lazy("The row is not a record"),
    ErrorReason.BAD_SHAPE: gettext_lazy("The row has an unexpected shape"),
    ErrorReason.AMOUNT_MISMATCH: gettext_lazy("The amount is not the sum of its parts"),
    ErrorReason.KEY_CONFLICT: gettext_lazy("The same row id with other content"),
    "reported_after_settlement": gettext_lazy("Reported after the claim was settled"),
}


def kind_label(code: str) -> str:
    label = KIND_LABELS.get(code)
    return str(label) if label is not None else _("Other operation")


def reason_label(code: str) -> str:
    """Return the reason's label; a code no list knows reads as "Other reason", never raw."""
    if not code:
        return ""
    if code in ReportIgnoredReason.values:
        return str(ReportIgnoredReason(code).label)
    label = MORE_REASON_LABELS.get(code)
    return str(label) if label is not None else _("Other reason")


def outcome_label(code: str) -> str:
    return str(ReportOutcome(code).label) if code in ReportOutcome.values else _("Other outcome")


def line_detail(line: ReportLine) -> str:
    """Return what more a row's outcome says: why a claim was not eligible, why a row failed.

    The importer keeps a refused claim's eligibility code in `message`; an unreadable row's
    message is the reader's own sentence.
    """
    if line.message in EligibilityCode.values:
        return str(EligibilityCode(line.message).label)
    if line.outcome == ReportOutcome.ERROR:
        return line.message
    return ""


def label_lines(lines: Iterable[ReportLine]) -> list[ReportLine]:
    """Give each row its labels for a page: kind, outcome, reason, peril and detail."""
    labelled = list(lines)
    for line in labelled:
        line.kind_label = kind_label(line.kind)
        line.outcome_label = outcome_label(line.outcome)
        line.reason_label = reason_label(line.reason)
        line.peril_label = str(Peril(line.peril).label) if line.peril in Peril.values else ""
        line.detail = line_detail(line)
    return labelled


class _Echo:
    """A file-like sink for csv.writer that hands each row back for streaming."""

    def write(self, value):
        return value


CSV_FIELDS = (
    "line",
    "key",
    "kind",
    "outcome",
    "reason",
    "amount",
    "shipment_external_id",
    "claim__number",
)


def report_lines_csv(lines: Iterable[tuple], *, language: str) -> Iterator[str]:
    """Yield the per-row outcomes as CSV in `language`, a row at a time.

    `lines` are ReportLine values in CSV_FIELDS order. Semicolons, a byte-order mark and
    decimal commas in Russian, as Excel in a Russian locale opens them. The language is
    fixed here because a streamed body is written after the view has returned.
    """
    writer = csv.writer(_Echo(), delimiter=";")
    with translation.override(language):
        yield "\ufeff" + writer.writerow(
            [
                _("Line"),
                _("Row id"),
                _("Operation"),
                _("Outcome"),
                _("Reason"),
                _("Amount, ₽"),
                _("Item"),
                _("Claim"),
            ]
        )
        for line, key, kind, outcome, reason, amount, item, claim in lines:
            yield writer.writerow(
                [
                    line,
                    key,
                    kind_label(kind),
                    outcome_label(outcome),
                    reason_label(reason),
                    "" if amount is None else number_format(amount, 2, use_l10n=True),
                    item,
                    claim or "",
                ]
            )
