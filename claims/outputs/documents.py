"""The claims' documents: acknowledgement, settlement act, rejection letter, reconciliation
report and the bordereaux' PDFs, made with the renderer of `policies.documents`.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from claims.calculation import Calculation, MoneyLine, money_line
from claims.choices import ClaimStatus, DiscrepancyKind, LimitApplied
from claims.models import Claim, ClaimTransition, Discrepancy, ReconciliationRun
from claims.outputs.bordereaux import month_bounds
from policies.calculation import ZERO
from policies.calendar import add_working_days
from policies.choices import Cover, DocumentKind
from policies.documents import Draft, document_make, issuer
from policies.models import Document

# A run report lists this many discrepancies; the admin and the CSV hold them all.
REPORT_ROWS = 500


# A bordereau PDF lists this many rows beside its totals; the CSV holds every row.
BORDEREAU_ROWS = 1000


def _claim(claim_id: int) -> Claim:
    return Claim.objects.select_related(
        "seller",
        "marketplace",
        "shipment",
        "policy__product_version__product",
        "payout",
    ).get(pk=claim_id)


def _claim_draft(claim: Claim, *, kind: str, key: str, name: str, context: dict) -> Draft:
    return Draft(
        kind=kind,
        key=key,
        template=f"documents/{kind}.html",
        filename=f"{name}-{claim.number}.pdf",
        language=claim.seller.language,
        context={**issuer(), "claim": claim, "seller": claim.seller, **context},
        owner={"seller": claim.seller, "policy": claim.policy, "owner": claim},
    )


def acknowledgement_key(claim: Claim) -> str:
    return f"{DocumentKind.CLAIM_ACKNOWLEDGEMENT}:{claim.number}"


def claim_acknowledgement_make(*, claim_id: int) -> Document:
    """Return the acknowledgement of the claim's submission, made once."""
    from claims.assessment import DECISION_WORKING_DAYS

    claim = _claim(claim_id)
    key = acknowledgement_key(claim)

    def draft() -> Draft:
        started = claim.sla_started_on or timezone.localdate(claim.submitted_at)
        version = claim.policy.product_version
        waits = claim.cover == Cover.CARGO and claim.compensation_amount == ZERO
        return _claim_draft(
            claim,
            kind=DocumentKind.CLAIM_ACKNOWLEDGEMENT,
            key=key,
            name="acknowledgement",
            context={
                "decide_by": add_working_days(started, DECISION_WORKING_DAYS),
                "decision_days": DECISION_WORKING_DAYS,
                "compensation_wait_days": version.cargo_compensation_wait_days if waits else None,
            },
        )

    return document_make(key=key, draft=draft)


@dataclass(frozen=True)
class Line:
    """One line of the settlement act; its label is lazy, read in the seller's language."""

    label: str
    amount: Decimal | None
    note: str = ""
    total: bool = False


def settlement_lines(calc: Calculation) -> list[Line]:
    """Return the settlement act's lines, the limit that bound marked.

    One line per step of the payable: the assessed loss, less the marketplace's compensation,
    less the deductible, then the least of that, the per-claim limit, what the per-event
    limit still allows and what the aggregate limit still allows.
    """

    def bound(code: str) -> str:
        return _("applied") if calc.limit_applied == code else ""

    lines = [
        Line(_("Assessed loss"), calc.loss),
        Line(_("Less the marketplace's compensation"), calc.compensation),
        Line(_("Net loss"), calc.net),
        Line(_("Less the deductible"), calc.deductible),
        Line(_("After the deductible"), calc.after_deductible),
        Line(_("Limit per claim"), calc.per_claim_limit, bound(LimitApplied.PER_CLAIM)),
    ]
    if calc.event_room is not None:
        note = bound(LimitApplied.PER_EVENT)
        lines.append(Line(_("Limit per event still available"), calc.event_room, note))
    lines += [
        Line(
            _("Aggregate limit still available"), calc.aggregate_room, bound(LimitApplied.AGGREGATE)
        ),
        Line(_("Payable"), calc.payable, total=True),
    ]
    return lines


def _paid_calculation(claim: Claim) -> Calculation:
    """Return the calculation kept with the payout, or today's if the payout kept none."""
    from claims.assessment import claim_calculate

    record = claim.payout.calculation
    if not record:
        return claim_calculate(claim=claim)
    money_lines = {
        name: None if value is None else Decimal(value)
        for name, value in record.items()
        if name != "limit_applied"
    }
    return Calculation(**money_lines, limit_applied=record["limit_applied"])


def _paid_money_line(claim: Claim, calc: Calculation) -> MoneyLine:
    """Return the claim's money line as the payment left it: the act's own calculation, the
    payout, and no recovery yet."""
    return money_line(
        status=ClaimStatus.PAID,
        closed_from="",
        claimed=claim.claimed_amount,
        loss=calc.loss,
        compensation=calc.compensation,
        deductible=calc.deductible,
        payable=calc.payable,
        rooms=(calc.per_claim_limit, calc.event_room, calc.aggregate_room),
        paid=claim.payout.amount,
        recovery_raised=ZERO,
        recovery_received=ZERO,
    )


def settlement_act_key(claim: Claim) -> str:
    return f"{DocumentKind.SETTLEMENT_ACT}:{claim.number}"


def settlement_act_make(*, claim_id: int) -> Document:
    """Return the settlement act of the claim's payment, made once."""
    claim = _claim(claim_id)
    key = settlement_act_key(claim)

    def draft() -> Draft:
        calc = _paid_calculation(claim)
        return _claim_draft(
            claim,
            kind=DocumentKind.SETTLEMENT_ACT,
            key=key,
            name="settlement-act",
            context={
                "payout": claim.payout,
                "lines": settlement_lines(calc),
                "limit_label": LimitApplied(calc.limit_applied).label if calc.limit_applied else "",
                "line": _paid_money_line(claim, calc),
            },
        )

    return document_make(key=key, draft=draft)


def rejection_letter_key(claim: Claim, transition: ClaimTransition) -> str:
    # A reopened claim can be rejected again: each rejection has its own letter.
    return f"{DocumentKind.REJECTION_LETTER}:{claim.number}:{transition.pk}"


def rejection_letter_make(*, claim_id: int, transition_id: int) -> Document:
    """Return the letter for one rejection of the claim, made once per rejection."""
    from claims.assessment import APPEAL_WINDOW_DAYS, appeal_by

    claim = _claim(claim_id)
    rejection = claim.transitions.get(pk=transition_id, transition="reject")
    key = rejection_letter_key(claim, rejection)

    def draft() -> Draft:
        rejected_on = timezone.localdate(rejection.at)
        return _claim_draft(
            claim,
            kind=DocumentKind.REJECTION_LETTER,
            key=key,
            name="rejection-letter",
            context={
                "rejected_on": rejected_on,
                # The reason as given at this rejection, even if the claim was reopened since.
                "reason": rejection.note,
                "appeal_days": APPEAL_WINDOW_DAYS,
                "appeal_by": appeal_by(decided_on=rejected_on),
            },
        )

    return document_make(key=key, draft=draft)


def reconciliation_report_make(*, run_id: int) -> Document:
    """Return the report of a finished reconciliation run, made once."""
    run = ReconciliationRun.objects.select_related("triggered_by").get(pk=run_id)
    key = f"{DocumentKind.RECONCILIATION_REPORT}:{run.pk}"

    def draft() -> Draft:
        discrepancies = Discrepancy.objects.filter(run=run)
        return Draft(
            kind=DocumentKind.RECONCILIATION_REPORT,
            key=key,
            template="documents/reconciliation_report.html",
            filename=f"reconciliation-{run.pk}.pdf",
            language=settings.LANGUAGE_CODE,
            context={
                **issuer(),
                "run": run,
                "by_kind": [
                    {"label": DiscrepancyKind(row["kind"]).label, "count": row["count"]}
                    for row in discrepancies.values("kind")
                    .annotate(count=Count("pk"))
                    .order_by("kind")
                ],
                "rows": list(
                    discrepancies.select_related("compensation__marketplace").order_by("pk")[
                        :REPORT_ROWS
                    ]
                ),
                "row_limit": REPORT_ROWS,
            },
            owner={"owner": run},
        )

    return document_make(key=key, draft=draft)


# Per bordereau: the columns its totals group by, and the columns they add up.
BORDEREAU_TOTALS = {
    DocumentKind.PREMIUM_BORDEREAU: (("product",), ("shipments", "declared_value", "premium")),
    DocumentKind.CLAIMS_BORDEREAU: (
        ("cover", "status_at_month_end"),
        (
            "claimed",
            "payable",
            "paid_to_date",
            "recovery_raised_to_date",
            "recovery_received_to_date",
        ),
    ),
}


@dataclass
class BordereauSummary:
    """A bordereau's column names, its first rows and its totals, cells paired with columns."""

    header: list[str]
    rows: list[list[tuple[str, str]]]
    count: int
    totals: list[tuple[list[tuple[str, str]], int, list[tuple[str, Decimal]]]]


def bordereau_summary(*, kind: str, first: dt.date, last: dt.date, end: dt.datetime):
    """Return the bordereau's first rows and its totals, read in one pass over the CSV rows."""
    from claims.outputs.bordereaux import ROWS

    rows = ROWS[kind](first, last, end)
    header = next(rows)
    group_by, summed = BORDEREAU_TOTALS[kind]
    keys = [header.index(column) for column in group_by]
    amounts = [header.index(column) for column in summed]
    listed, groups, count = [], {}, 0
    for row in rows:
        count += 1
        if len(listed) < BORDEREAU_ROWS:
            listed.append(list(zip(header, row, strict=True)))
        group = groups.setdefault(tuple(row[i] for i in keys), [0, [ZERO] * len(amounts)])
        group[0] += 1
        group[1] = [total + Decimal(row[i]) for total, i in zip(group[1], amounts, strict=True)]
    return BordereauSummary(
        header=header,
        rows=listed,
        count=count,
        totals=[
            (list(zip(group_by, key, strict=True)), n, list(zip(summed, sums, strict=True)))
            for key, (n, sums) in sorted(groups.items())
        ],
    )


def bordereau_pdf_make(*, kind: str, month: dt.date) -> Document:
    """Return the month's bordereau of `kind` as a PDF beside its CSV: totals, then the rows."""
    from claims.outputs.bordereaux import bordereau_make

    csv_document = bordereau_make(kind=kind, month=month)
    first, last, end = month_bounds(month)
    key = f"{kind}:{first:%Y-%m}:pdf"

    def draft() -> Draft:
        group_by, summed = BORDEREAU_TOTALS[kind]
        return Draft(
            kind=kind,
            key=key,
            template="documents/bordereau.html",
            filename=f"{kind}-{first:%Y-%m}.pdf",
            language=settings.LANGUAGE_CODE,
            context={
                **issuer(),
                "title": DocumentKind(kind).label,
                "first": first,
                "last": last,
                "summary": bordereau_summary(kind=kind, first=first, last=last, end=end),
                "group_by": group_by,
                "summed": summed,
                "row_limit": BORDEREAU_ROWS,
                "csv": csv_document,
            },
            owner={"period": first},
        )

    return document_make(key=key, draft=draft)
