"""The scheduled jobs: service-level flags and the monthly bordereaux."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone, translation

from claims.choices import ClaimFlag, ClaimStatus, RecoveryStatus
from claims.jobs import claims_flag_sla_breaches
from claims.models import Claim
from claims.outputs.bordereaux import bordereau_make, month_bounds
from claims.outputs.documents import bordereau_summary
from claims.templatetags.bordereau import column_label
from policies.choices import DocumentKind
from policies.models import Document
from tests import factories

pytestmark = pytest.mark.django_db


def test_overdue_claims_are_flagged_once_and_their_adjuster_told(adjuster):
    today = timezone.localdate()
    late = factories.ClaimFactory(
        status=ClaimStatus.UNDER_REVIEW, due_on=today - dt.timedelta(days=1), assignee=adjuster
    )
    on_time = factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW, due_on=today)
    settled = factories.ClaimFactory(status=ClaimStatus.PAID, due_on=today - dt.timedelta(days=9))

    first = claims_flag_sla_breaches(today=today)
    second = claims_flag_sla_breaches(today=today)

    for claim in (late, on_time, settled):
        claim.refresh_from_db()
    assert (first, second) == (1, 0)
    assert late.flags == [ClaimFlag.SLA_BREACHED]
    assert on_time.flags == settled.flags == []
    assert len(mail.outbox) == 1
    assert late.number in mail.outbox[0].body
    assert mail.outbox[0].to == [adjuster.email]


def read(document: Document) -> list[dict]:
    with document.file.open("rb") as handle:
        text = handle.read().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def test_the_claims_bordereau_shows_each_claim_as_at_the_months_end(senior):
    payout = factories.PayoutFactory(amount=Decimal("7500.00"), paid_on=dt.date(2026, 10, 20))
    claim = payout.claim
    Claim.objects.filter(pk=claim.pk).update(
        created_at=timezone.make_aware(dt.datetime(2026, 10, 15, 9))
    )
    factories.ClaimTransitionFactory(
        claim=claim,
        source_state="approved",
        target_state="paid",
        at=timezone.make_aware(dt.datetime(2026, 10, 20, 12)),
    )

    document = bordereau_make(kind=DocumentKind.CLAIMS_BORDEREAU, month=dt.date(2026, 10, 1))

    [row] = read(document)
    assert row["claim"] == claim.number
    assert row["status_at_month_end"] == "paid"
    assert row["paid_to_date"] == "7500.00"
    assert row["claimed"] == "12000.00"
    assert document.period == dt.date(2026, 10, 1)


def test_the_claims_bordereau_names_recoveries_raised_apart_from_those_received():
    claim = factories.PayoutFactory(paid_on=dt.date(2026, 10, 20)).claim
    Claim.objects.filter(pk=claim.pk).update(
        created_at=timezone.make_aware(dt.datetime(2026, 10, 15, 9))
    )
    october, november = (timezone.make_aware(dt.datetime(2026, m, 25, 12)) for m in (10, 11))
    factories.RecoveryFactory(claim=claim, amount=Decimal("1000.00"), raised_at=october)
    factories.RecoveryFactory(
        claim=claim,
        amount=Decimal("2500.00"),
        raised_at=october,
        status=RecoveryStatus.RECEIVED,
        received_on=dt.date(2026, 10, 28),
    )
    factories.RecoveryFactory(claim=claim, amount=Decimal("400.00"), raised_at=november)

    [row] = read(bordereau_make(kind=DocumentKind.CLAIMS_BORDEREAU, month=dt.date(2026, 10, 1)))
    first, last, end = month_bounds(dt.date(2026, 10, 1))
    summary = bordereau_summary(kind=DocumentKind.CLAIMS_BORDEREAU, first=first, last=last, end=end)

    assert "recovered_to_date" not in row
    assert (row["recovery_raised_to_date"], row["recovery_received_to_date"]) == (
        "3500.00",
        "2500.00",
    )
    [(_key, _count, sums)] = summary.totals
    assert dict(sums)["recovery_raised_to_date"] == Decimal("3500.00")
    assert dict(sums)["recovery_received_to_date"] == Decimal("2500.00")


def test_the_bordereau_pdf_labels_recoveries_raised_apart_from_those_received():
    labels = {}
    for language in ("en", "ru"):
        with translation.override(language):
            labels[language] = tuple(
                str(column_label(column))
                for column in ("recovery_raised_to_date", "recovery_received_to_date")
            )

    assert labels == {
        "en": ("Recoveries raised", "Recoveries received"),
        "ru": ("Начислено возвратов", "Получено возвратов"),
    }


def test_the_premium_bordereau_sums_the_months_shipments_per_policy():
    policy = factories.PolicyFactory(period_start=dt.date(2026, 1, 1))
    for day in (3, 17):
        factories.ShipmentFactory(
            policy=policy,
            declared_value=Decimal("1000.00"),
            premium=Decimal("14.70"),
            shipped_at=timezone.make_aware(dt.datetime(2026, 10, day, 10)),
        )
    factories.ShipmentFactory(
        policy=policy, shipped_at=timezone.make_aware(dt.datetime(2026, 11, 2, 10))
    )

    document = bordereau_make(kind=DocumentKind.PREMIUM_BORDEREAU, month=dt.date(2026, 10, 1))

    [row] = read(document)
    assert (row["policy"], row["shipments"], row["declared_value"], row["premium"]) == (
        policy.number,
        "2",
        "2000.00",
        "29.40",
    )


def test_a_months_bordereau_is_made_once():
    first = bordereau_make(kind=DocumentKind.CLAIMS_BORDEREAU, month=dt.date(2026, 10, 5))
    again = bordereau_make(kind=DocumentKind.CLAIMS_BORDEREAU, month=dt.date(2026, 10, 31))

    assert again.pk == first.pk
    assert Document.objects.count() == 1
