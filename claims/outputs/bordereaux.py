"""Monthly bordereaux for the broker and the insurer: premium and claims registers as CSV.

One row per policy (premium) or per claim (claims), with the month's figures
and the status as it stood at the month's end. Each is kept as a Document,
once per month: asking again returns the one already made.
"""

import calendar
import csv
import datetime as dt
import hashlib
import io
import tempfile

from django.core.files import File
from django.db import transaction
from django.db.models import Count, DecimalField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from claims.models import Claim, ClaimTransition, Payout, Recovery, RecoveryReceipt
from claims.tasks import bordereaux_make_task
from policies.calculation import ZERO
from policies.choices import DocumentKind
from policies.models import Document, Policy, PolicyTransition
from policies.outbox import outbox_enqueue

_MONEY = DecimalField(max_digits=14, decimal_places=2)


def month_bounds(month: dt.date) -> tuple[dt.date, dt.date, dt.datetime]:
    """Return the first day, the last day and the end instant of the month of `month`."""
    first = month.replace(day=1)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    end = timezone.make_aware(dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min))
    return first, last, end


def _status_at(log_model, owner: str, end: dt.datetime) -> Subquery:
    return Subquery(
        log_model.objects.filter(**{owner: OuterRef("pk")}, at__lt=end)
        .order_by("-at", "-pk")
        .values("target_state")[:1]
    )


def _sum(model, end_filter: Q, claim: str = "claim") -> Subquery:
    return Coalesce(
        Subquery(
            model.objects.filter(end_filter, **{claim: OuterRef("pk")})
            .values(claim)
            .annotate(total=Sum("amount"))
            .values("total"),
            output_field=_MONEY,
        ),
        Value(ZERO),
        output_field=_MONEY,
    )


def _premium_rows(first: dt.date, last: dt.date, end: dt.datetime):
    yield [
        "policy",
        "seller",
        "tax_id",
        "product",
        "version",
        "period_start",
        "period_end",
        "status_at_month_end",
        "shipments",
        "declared_value",
        "premium",
    ]
    shipped = Q(
        shipments__shipped_at__gte=timezone.make_aware(dt.datetime.combine(first, dt.time.min)),
        shipments__shipped_at__lt=end,
    )
    policies = (
        Policy.objects.filter(period_start__lte=last, period_end__gte=first)
        .select_related("seller", "product_version__product")
        .annotate(
            status_then=_status_at(PolicyTransition, "policy", end),
            shipped=Count("shipments", filter=shipped),
            declared=Coalesce(Sum("shipments__declared_value", filter=shipped), Value(ZERO)),
            premium=Coalesce(Sum("shipments__premium", filter=shipped), Value(ZERO)),
        )
        .order_by("number")
    )
    for policy in policies.iterator(chunk_size=2000):
        yield [
            policy.number,
            policy.seller.legal_name,
            policy.seller.tax_id,
            policy.product_version.product.code,
            policy.product_version.version,
            policy.period_start.isoformat(),
            policy.period_end.isoformat(),
            policy.status_then or "draft",
            policy.shipped,
            f"{policy.declared:.2f}",
            f"{policy.premium:.2f}",
        ]


def _claims_rows(first: dt.date, last: dt.date, end: dt.datetime):
    yield [
        "claim",
        "policy",
        "seller",
        "tax_id",
        "cover",
        "peril",
        "event_date",
        "status_at_month_end",
        "claimed",
        "assessed",
        "marketplace_compensation",
        "payable",
        "paid_to_date",
        "recovery_raised_to_date",
        "recovery_received_to_date",
    ]
    claims = (
        Claim.objects.filter(created_at__lt=end)
        .select_related("policy", "seller")
        .annotate(
            status_then=_status_at(ClaimTransition, "claim", end),
            paid_then=_sum(Payout, Q(paid_on__lte=last)),
            # A recovery is owed from its raising on, and money back as each part is received.
            raised_then=_sum(Recovery, Q(raised_at__lt=end)),
            received_then=_sum(RecoveryReceipt, Q(received_on__lte=last), "recovery__claim"),
        )
        .order_by("number")
    )
    for claim in claims.iterator(chunk_size=2000):
        yield [
            claim.number,
            claim.policy.number,
            claim.seller.legal_name,
            claim.seller.tax_id,
            claim.cover,
            claim.peril,
            claim.event_date.isoformat(),
            claim.status_then or claim.status,
            f"{claim.claimed_amount:.2f}",
            f"{claim.loss_amount:.2f}",
            f"{claim.compensation_amount:.2f}",
            f"{claim.payable_amount:.2f}",
            f"{claim.paid_then:.2f}",
            f"{claim.raised_then:.2f}",
            f"{claim.received_then:.2f}",
        ]


ROWS = {
    DocumentKind.PREMIUM_BORDEREAU: _premium_rows,
    DocumentKind.CLAIMS_BORDEREAU: _claims_rows,
}


@transaction.atomic
def bordereau_make(*, kind: str, month: dt.date) -> Document:
    """Return the month's bordereau of `kind` as a CSV Document, made once per month."""
    first, last, end = month_bounds(month)
    key = f"{kind}:{first:%Y-%m}"
    if (existing := Document.objects.filter(key=key).first()) is not None:
        return existing
    digest = hashlib.sha256()
    # Written to a temporary file row by row: a month of claims never sits in memory.
    with tempfile.TemporaryFile() as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        csv.writer(text, delimiter=";").writerows(ROWS[kind](first, last, end))
        text.flush()
        raw.seek(0)
        for block in iter(lambda: raw.read(1 << 20), b""):
            digest.update(block)
        raw.seek(0)
        document = Document(kind=kind, key=key, period=first, sha256=digest.hexdigest())
        document.file.save(f"{kind}-{first:%Y-%m}.csv", File(raw), save=False)
        text.detach()
    document.save()
    return document


def bordereaux_request(*, month: dt.date) -> None:
    """Queue the making of the month's premium and claims bordereaux, CSV and PDF."""
    with transaction.atomic():
        outbox_enqueue(task=bordereaux_make_task, month=month.isoformat())
