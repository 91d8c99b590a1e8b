"""The management commands: demo data, API keys, reconciliation and the CSV import."""

import io
from pathlib import Path

import pytest
import redis
from celery import current_app
from django.apps import apps
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import translation

from claims.choices import ClaimStatus, RecoveryStatus
from claims.management.commands.bench_reconcile import BROKER as BENCH_BROKER
from claims.models import (
    Claim,
    MarketplaceCompensation,
    Recovery,
    ReportImport,
    ReportImportStatus,
)
from policies.models import Marketplace, MarketplaceApiKey, User
from tests import factories

pytestmark = pytest.mark.django_db

LOGINS = [
    "seller1@demo.local",
    "seller2@demo.local",
    "seller3@demo.local",
    "adjuster@demo.local",
    "senior@demo.local",
    "underwriter@demo.local",
]


def row_counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count()
        for app in ("policies", "claims")
        for model in apps.get_app_config(app).get_models()
    }


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


# On-commit work (triage, payment) runs as in production only outside a test transaction.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_seed_demo_loads_a_working_demo_and_a_second_run_changes_nothing(settings):
    settings.DEBUG = True

    first = seed()
    counts = row_counts()
    second = seed()

    assert row_counts() == counts
    assert {code for code in Marketplace.objects.values_list("code", flat=True)} >= {"wb", "ozon"}
    for email in LOGINS:
        assert User.objects.get(email=email).check_password("demo-pass-2026")
        assert email in first
    assert set(Claim.objects.values_list("status", flat=True)) == set(ClaimStatus.values)
    assert MarketplaceCompensation.objects.exists()
    assert Recovery.objects.exists()
    # Every path of the adjuster's desk: a sign-off only the senior can give, a recovery to
    # settle, a seller's report read into claims and a compensation.
    adjuster = User.objects.get(email="adjuster@demo.local")
    senior = User.objects.get(email="senior@demo.local")
    waiting = Claim.objects.filter(signoff_requested_by=adjuster, status=ClaimStatus.UNDER_REVIEW)
    assert waiting.exists()
    assert all(
        adjuster.authority_limit < c.payable_amount <= senior.authority_limit for c in waiting
    )
    assert Recovery.objects.exclude(status=RecoveryStatus.RECEIVED).exists()
    report = ReportImport.objects.get()
    assert report.status == ReportImportStatus.DONE
    assert {"claim_opened", "compensation_recorded"} <= set(report.outcomes)
    key = first.split("API key of marketplace wb: ")[1].split()[0]
    assert MarketplaceApiKey.objects.get_from_key(key).marketplace.code == "wb"
    assert f"API key of marketplace wb: {key}" in second


def test_seed_demo_refuses_to_run_with_debug_off(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError):
        call_command("seed_demo", stdout=io.StringIO())

    assert not Marketplace.objects.exists()


def test_create_api_key_prints_a_key_stored_only_as_a_hash():
    factories.MarketplaceFactory(code="wb")
    out = io.StringIO()

    call_command("create_api_key", "wb", stdout=out)

    key = out.getvalue().strip()
    assert MarketplaceApiKey.objects.is_valid(key)
    stored = MarketplaceApiKey.objects.get()
    assert key.split(".")[1] not in stored.hashed_key


def test_create_api_key_for_an_unknown_marketplace_names_the_known_ones():
    factories.MarketplaceFactory(code="wb")

    with pytest.raises(CommandError, match="wb"):
        call_command("create_api_key", "nope", stdout=io.StringIO())


def test_reconcile_counts_a_compensation_on_its_claim_and_prints_the_counts():
    claim = factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW)
    factories.CompensationFactory(
        shipment=None,
        shipment_external_id=claim.shipment.external_id,
        seller=claim.seller,
        marketplace=claim.marketplace,
    )
    out = io.StringIO()

    call_command("reconcile", stdout=out)

    claim.refresh_from_db()
    assert claim.compensation_amount == 4000
    assert "matched            1" in out.getvalue()


def test_import_compensations_reports_bad_lines_and_keeps_good_ones(tmp_path: Path):
    shipment = factories.ShipmentFactory(policy__seller__marketplace__code="wb")
    path = tmp_path / "compensations.csv"
    path.write_text(
        "\ufeffexternal_id;seller;shipment;reason;amount;paid_on\n"
        f"c-1;{shipment.seller.external_id};{shipment.external_id};loss;1 234,50;20.11.2026\n"
        f"c-2;{shipment.seller.external_id};{shipment.external_id};bogus;10;2026-11-20\n",
        encoding="utf-8",
    )
    out = io.StringIO()

    with translation.override("en"):
        call_command("import_compensations", "wb", str(path), stdout=out, stderr=io.StringIO())
        call_command("import_compensations", "wb", str(path), stdout=out, stderr=io.StringIO())

    record = MarketplaceCompensation.objects.get()
    assert (record.external_id, str(record.amount)) == ("c-1", "1234.50")
    assert "line 3: reason is not valid" in out.getvalue()
    assert "created 0, unchanged 1, rejected 1" in out.getvalue()


def test_bench_documents_renders_and_reports_its_figures():
    factories.ProductVersionFactory(product__code="standard")
    out = io.StringIO()

    call_command("bench_documents", count=3, stdout=out)

    assert "settlement acts       3 (1 page(s) each)" in out.getvalue()
    assert "median" in out.getvalue()
    assert current_app.conf.task_always_eager  # the command left tasks as it found them


@pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"],
    reason="bench_reconcile measures PostgreSQL",
)
@pytest.mark.broker
# Its workers are processes of their own: they see only what is committed.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_bench_reconcile_runs_the_real_task_on_one_worker_and_on_two():
    try:
        redis.Redis.from_url(BENCH_BROKER, socket_connect_timeout=2).ping()
    except redis.ConnectionError:
        pytest.skip(f"NO BROKER REACHABLE at {BENCH_BROKER}: bench_reconcile did not run")
    factories.ProductVersionFactory(product__code="standard")
    out = io.StringIO()

    call_command("bench_reconcile", rows=2000, stdout=out)

    assert out.getvalue().count("records reconciled    2,000") == 2
    assert "on 1 worker process\n" in out.getvalue()
    assert "on 2 worker processes\n" in out.getvalue()
    assert "two workers against one" in out.getvalue()
    assert current_app.conf.task_always_eager


@pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"],
    reason="bench_import measures PostgreSQL",
)
def test_bench_import_imports_a_generated_export_twice_and_reports_its_figures():
    out = io.StringIO()

    call_command("bench_import", rows=1000, stdout=out)

    # One row in a hundred carries an amount that is not a number.
    assert "rows                  1,000: created 990, rejected 10" in out.getvalue()
    assert "created 0, unchanged 990" in out.getvalue()
    assert MarketplaceCompensation.objects.count() == 990


@pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"],
    reason="bench_report measures PostgreSQL",
)
def test_bench_report_imports_a_generated_week_and_reports_its_figures():
    factories.ProductVersionFactory(product__code="standard")
    out = io.StringIO()

    call_command("bench_report", rows=500, stdout=out)

    # One row in ten is an insured reverse leg, one a compensation.
    assert "'claim_opened': 50" in out.getvalue()
    assert "'compensation_recorded': 50" in out.getvalue()
    assert "ratio to the floors" in out.getvalue()
    assert current_app.conf.task_always_eager


def test_the_system_checks_of_this_database_print_nothing():
    """`make run` and `migrate` check the models against the database they use: on the
    embedded SQLite the PostgreSQL covering index would warn on every start."""
    from django.core import checks

    found = checks.run_checks(databases=["default"], include_deployment_checks=False)

    assert [message for message in found if not message.is_silenced()] == []
