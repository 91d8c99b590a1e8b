"""Importing reports into the domain: insured fees open claims (source `report`),
compensations are recorded, every row counts once and keeps its outcome."""

import datetime as dt
import gc
import os
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone, translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claims.choices import (
    ClaimSource,
    ClaimStatus,
    CompensationSource,
    ReportFormat,
    ReportIgnoredReason,
    ReportOutcome,
)
from claims.models import Claim, MarketplaceCompensation, Recovery, ReportImport, ReportLine
from claims.reports.detect import ReportFileError
from claims.reports.importing import report_import_create, report_import_run
from tests import factories
from tests.claims.reports import cut_sheet, fixture_json, json_bytes, xlsx_bytes
from tests.claims.reports.test_ahead import gone
from tests.claims.reports.test_wb_generated import (
    HEADERS_2025,
    api_rows,
    goods,
    logistics,
    table,
)

pytestmark = pytest.mark.django_db

D = Decimal
OZON = "ozon_v3_transaction_list_2026-03_marker_sample.json"
FROM_BUYER_AT_CANCEL = "От клиента при отмене"
FROM_BUYER_AT_RETURN = "От клиента при возврате"


@pytest.fixture
def seller():
    policy = factories.PolicyFactory(
        period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 12, 31)
    )
    return policy.seller


def ozon_report() -> bytes:
    ops = [op for group in fixture_json(OZON)["groups"] for op in group["operations"]]
    return json_bytes({"result": {"operations": ops, "page_count": 1, "row_count": len(ops)}})


def run(seller, content: bytes, name: str = "report.json"):
    made = report_import_create(
        marketplace=seller.marketplace,
        seller=seller,
        content=content,
        filename=name,
        source="upload",
    )
    return report_import_run(import_id=made.pk)


@pytest.fixture
def imported(seller, django_capture_on_commit_callbacks):
    def do(content: bytes, name: str = "report.json"):
        with django_capture_on_commit_callbacks(execute=True):
            return run(seller, content, name)

    return do


def yesterday() -> dt.date:
    return timezone.localdate() - dt.timedelta(days=1)


def storno(rrd_id: int, shipment, amount: Decimal, day: dt.date) -> dict:
    """Return WB's «Логистика сторно» of the reverse leg after a non-buyout of `shipment`."""
    return logistics(
        rrd_id,
        shipment.external_id,
        FROM_BUYER_AT_CANCEL,
        amount,
        day,
        operation="Логистика сторно",
        returns=1,
    )


def week(*rows) -> bytes:
    return api_rows(list(rows), form=ReportFormat.WB_V5)


def test_the_real_ozon_month_opens_a_claim_per_insured_fee_and_counts_its_compensation(
    imported, seller
):
    report = imported(ozon_report())

    assert report.outcomes == {
        "claim_opened": 5,
        "compensation_recorded": 2,
        "ignored": 23,
        "netted": 4,
    }
    assert report.fees_found == 5 and report.fees_amount == D("441.30")
    claims = sorted(Claim.objects.values_list("peril", "claimed_amount", "source"))
    assert claims == [
        ("non_buyout", D("67.11"), ClaimSource.REPORT),
        ("refusal", D("82.11"), ClaimSource.REPORT),
        ("refusal", D("112.61"), ClaimSource.REPORT),
        ("return", D("82.11"), ClaimSource.REPORT),
        ("return", D("97.36"), ClaimSource.REPORT),
    ]
    # Marketplace-verified, but reported eight months late: each goes to a person.
    assert set(Claim.objects.values_list("status", flat=True)) == {ClaimStatus.UNDER_REVIEW}
    # Ozon's accruals name no item: kept against the seller for an adjuster to link.
    unlinked = MarketplaceCompensation.objects.filter(seller=seller, shipment=None, claim=None)
    assert sorted(unlinked.values_list("amount", flat=True)) == [D("2166.72"), D("25086.25")]
    assert set(unlinked.values_list("source", flat=True)) == {CompensationSource.REPORT}
    assert report.compensations_amount == D("27252.97")
    forward = ReportLine.objects.filter(report=report, kind="forward_fee")
    assert set(forward.values_list("reason", flat=True)) == {
        ReportIgnoredReason.FORWARD_LEG_NOT_COVERED
    }


def test_a_workbook_broken_partway_is_refused_and_nothing_is_stored(seller):
    day = yesterday()
    rows = [
        logistics(9000 + n, f"{n}.0.0", FROM_BUYER_AT_CANCEL, D("50.00"), day, returns=1)
        for n in range(1, 2000)
    ]
    content = cut_sheet(xlsx_bytes(table(rows, HEADERS_2025)))

    with translation.override("en"), pytest.raises(ReportFileError, match="cannot be read"):
        run(seller, content, "week.xlsx")

    assert not ReportImport.objects.exists()
    assert not ReportLine.objects.exists()


def test_the_same_report_again_changes_nothing(imported):
    first = imported(ozon_report())
    claims = list(Claim.objects.values_list("pk", "claimed_amount", "status"))
    records = MarketplaceCompensation.objects.count()

    again = imported(ozon_report())

    assert again.outcomes == {"duplicate": 34}
    assert list(Claim.objects.values_list("pk", "claimed_amount", "status")) == claims
    assert MarketplaceCompensation.objects.count() == records
    assert first.outcomes["claim_opened"] == 5


def test_a_week_opens_claims_only_for_insured_reverse_legs(imported, seller):
    insured = factories.ShipmentFactory(policy__seller=seller, external_id="a1b2c3.0.0")
    day = yesterday()

    report = imported(
        week(
            goods(9001, "7711.0.0", "Продажа", "Продажа", D("1120.50"), day),
            logistics(9003, insured.external_id, "К клиенту при отмене", D("103.10"), day),
            logistics(9004, insured.external_id, FROM_BUYER_AT_CANCEL, D("50.00"), day, returns=1),
            goods(9007, "7744.0.0", "Продажа", "Компенсация ущерба", D("1640.00"), day),
            goods(9009, "7755.0.0", "Продажа", "Возмещение издержек по перевозке", D("0"), day),
        )
    )

    lines = {line.key: line for line in ReportLine.objects.filter(report=report)}
    claim = Claim.objects.get()
    assert lines["9004"].outcome == ReportOutcome.CLAIM_OPENED and lines["9004"].claim == claim
    assert (claim.shipment, claim.peril, claim.claimed_amount) == (insured, "non_buyout", D("50"))
    assert claim.event_date == day
    assert lines["9003"].reason == ReportIgnoredReason.FORWARD_LEG_NOT_COVERED
    assert lines["9001"].outcome == ReportOutcome.IGNORED
    assert lines["9007"].outcome == ReportOutcome.COMPENSATION_RECORDED
    assert lines["9009"].reason == ReportIgnoredReason.REBILL_LOGISTICS


def test_a_fee_of_a_seller_with_no_policy_in_force_opens_nothing(
    django_capture_on_commit_callbacks,
):
    uninsured = factories.SellerFactory()
    fee = logistics(9004, "999.0.0", FROM_BUYER_AT_RETURN, D("50"), yesterday(), returns=1)

    with django_capture_on_commit_callbacks(execute=True):
        report = run(uninsured, week(fee))

    line = ReportLine.objects.get(report=report)
    assert (line.outcome, line.reason) == (ReportOutcome.IGNORED, ReportIgnoredReason.UNINSURED)
    assert not Claim.objects.exists()


def test_a_fee_cancelled_in_the_same_report_opens_nothing_and_both_rows_are_netted(
    imported, seller
):
    insured = factories.ShipmentFactory(policy__seller=seller)
    day = yesterday()

    report = imported(
        week(
            logistics(9004, insured.external_id, FROM_BUYER_AT_CANCEL, D("50"), day, returns=1),
            storno(9008, insured, D("50"), day),
        )
    )

    assert report.outcomes == {"netted": 2}
    assert not Claim.objects.exists()


def test_a_fee_cancelled_in_a_later_week_withdraws_its_unpaid_claim(imported, seller):
    insured = factories.ShipmentFactory(policy__seller=seller)
    fee = logistics(
        9004, insured.external_id, FROM_BUYER_AT_CANCEL, D("50"), yesterday(), returns=1
    )
    cancel = storno(9108, insured, D("50"), timezone.localdate())
    with transaction.atomic():
        first = imported(week(fee))
    claim = Claim.objects.get()
    # A person looks at it first: the product's threshold is below the fee here.
    Claim.objects.filter(pk=claim.pk).update(status=ClaimStatus.SUBMITTED)

    later = imported(week(cancel))

    claim.refresh_from_db()
    assert first.outcomes == {"claim_opened": 1}
    assert later.outcomes == {"claim_updated": 1}
    assert claim.status == ClaimStatus.WITHDRAWN


def test_a_fee_cancelled_after_payment_becomes_a_recovery(imported, seller):
    insured = factories.ShipmentFactory(policy__seller=seller)
    imported(
        week(
            logistics(
                9004, insured.external_id, FROM_BUYER_AT_CANCEL, D("50"), yesterday(), returns=1
            )
        )
    )
    claim = Claim.objects.get()
    assert claim.status == ClaimStatus.PAID

    imported(week(storno(9108, insured, D("20"), timezone.localdate())))

    claim.refresh_from_db()
    recovery = Recovery.objects.get(claim=claim)
    assert claim.claimed_amount == D("30.00")
    assert recovery.amount == claim.payout.amount - claim.payable_amount
    assert recovery.amount > 0


def test_rows_in_another_currency_are_ignored(imported, seller):
    insured = factories.ShipmentFactory(policy__seller=seller)
    report = imported(
        api_rows(
            [
                logistics(
                    9004, insured.external_id, FROM_BUYER_AT_CANCEL, D("50"), yesterday(), returns=1
                )
            ],
            form=ReportFormat.WB_V5,
            currency="KZT",
        )
    )

    line = ReportLine.objects.get(report=report)
    assert (line.outcome, line.reason) == (ReportOutcome.IGNORED, ReportIgnoredReason.CURRENCY)
    assert not Claim.objects.exists()


def end_state() -> tuple:
    return (
        sorted(Claim.objects.values_list("shipment__external_id", "peril", "claimed_amount")),
        sorted(MarketplaceCompensation.objects.values_list("external_id", "amount")),
        sorted(ReportLine.objects.filter(counted=True).values_list("key", "outcome")),
    )


WEEK_ROWS = st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=6, unique=True)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(first=WEEK_ROWS, second=WEEK_ROWS)
def test_two_overlapping_weeks_in_either_order_come_to_the_same_end_state(seller, first, second):
    """Importing twice equals importing once, and either order of two weeks gives one state."""
    shipments = [factories.ShipmentFactory(policy__seller=seller) for _ in range(3)]
    day = yesterday()
    rows = [
        logistics(9000 + n, shipments[n % 3].external_id, leg, D("50"), day, returns=1)
        for n, leg in enumerate([FROM_BUYER_AT_CANCEL, FROM_BUYER_AT_RETURN] * 3)
    ]
    rows[5] = goods(9005, shipments[2].external_id, "Продажа", "Компенсация ущерба", D("900"), day)
    week_a, week_b = week(*[rows[n] for n in first]), week(*[rows[n] for n in second])
    states = []
    for order in ((week_a, week_b, week_a), (week_b, week_a)):
        with transaction.atomic():
            for content in order:
                run(seller, content)
            states.append(end_state())
            transaction.set_rollback(True)

    assert states[0] == states[1]


def test_a_storno_whose_fee_was_counted_last_week_cancels_it_even_if_the_fee_comes_again(
    imported, seller
):
    insured = factories.ShipmentFactory(policy__seller=seller)
    fee = logistics(
        9004, insured.external_id, FROM_BUYER_AT_CANCEL, D("50"), yesterday(), returns=1
    )
    cancel = storno(9108, insured, D("50"), timezone.localdate())
    imported(week(fee))
    Claim.objects.update(status=ClaimStatus.SUBMITTED)

    overlapping = imported(week(fee, cancel))

    assert overlapping.outcomes == {"duplicate": 1, "claim_updated": 1}
    assert Claim.objects.get().status == ClaimStatus.WITHDRAWN


def test_a_sale_cancelled_in_the_same_report_is_netted_with_its_storno(imported, seller):
    """A sale writes nothing but its row: it goes in as read, and the netting at the end of
    the report turns it and its storno to `netted`."""
    day = yesterday()

    report = imported(
        week(
            goods(9001, "7711.0.0", "Продажа", "Продажа", D("1120.50"), day),
            goods(9002, "7711.0.0", "Продажа", "Сторно продаж", D("1120.50"), day),
            goods(9003, "7722.0.0", "Продажа", "Продажа", D("640.00"), day),
        )
    )

    lines = dict(ReportLine.objects.filter(report=report).values_list("key", "outcome"))
    assert lines == {
        "9001": ReportOutcome.NETTED,
        "9002": ReportOutcome.NETTED,
        "9003": ReportOutcome.IGNORED,
    }
    assert report.outcomes == {"netted": 2, "ignored": 1}


class _Killed(BaseException):
    """A worker killed mid-import: nothing of the import's own error handling runs."""


def test_the_rows_go_in_with_full_collections_held_off_and_they_come_back_after(
    seller, monkeypatch
):
    from claims.reports import importing

    thresholds, real_chunk = [], importing._import_chunk

    def chunk(imported, rows):
        thresholds.append(gc.get_threshold())
        real_chunk(imported, rows)

    monkeypatch.setattr(importing, "_import_chunk", chunk)
    before = gc.get_threshold()
    shipment = factories.ShipmentFactory(policy__seller=seller)
    day = yesterday()
    run(seller, week(logistics(9101, shipment.external_id, FROM_BUYER_AT_CANCEL, D("50"), day)))
    assert thresholds and all(full >= 1_000_000 for _young, _middle, full in thresholds)
    assert gc.get_threshold() == before


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner statistics")
def test_an_import_renews_the_statistics_of_the_tables_it_files_into(seller, monkeypatch):
    from claims.reports import importing

    monkeypatch.setattr(importing, "CHUNK", 2)
    monkeypatch.setattr(importing, "CHUNK_MAX", 2)
    day = yesterday()
    shipments = [factories.ShipmentFactory(policy__seller=seller) for _ in range(4)]
    run(
        seller,
        week(
            *(
                goods(9201 + n, shipment.external_id, "Продажа", "Компенсация ущерба", D("90"), day)
                for n, shipment in enumerate(shipments)
            )
        ),
    )
    table = MarketplaceCompensation._meta.db_table
    with connection.cursor() as cursor:
        # Counted exactly by ANALYZE, for a table this small, after the last chunk.
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
        assert cursor.fetchone()[0] == MarketplaceCompensation.objects.count() >= 4


def test_a_report_read_by_a_child_process_imports_as_one_read_in_process(
    seller, monkeypatch, tmp_path
):
    from claims.reports import ahead, importing

    monkeypatch.setattr(importing, "CHUNK", 2)
    shipments = [factories.ShipmentFactory(policy__seller=seller) for _ in range(2)]
    day = yesterday()
    content = week(
        logistics(9002, shipments[0].external_id, FROM_BUYER_AT_CANCEL, D("50"), day, returns=1),
        logistics(9004, shipments[1].external_id, FROM_BUYER_AT_CANCEL, D("60"), day, returns=1),
        goods(9005, shipments[1].external_id, "Продажа", "Компенсация ущерба", D("900"), day),
        goods(9006, "7711.0.0", "Продажа", "Продажа", D("1120.50"), day),
        storno(9007, shipments[0], D("50"), day),
    )
    real_read, reader = ahead._read, tmp_path / "reader"

    def read(*args):
        reader.write_text(str(os.getpid()))
        real_read(*args)

    monkeypatch.setattr(ahead, "_read", read)

    def state() -> tuple:
        with transaction.atomic():
            report = run(seller, content)
            lines = ReportLine.objects.filter(report=report)
            found = (
                end_state(),
                sorted(lines.values_list("line", "key", "outcome", "reason", "counted")),
                report.outcomes,
            )
            transaction.set_rollback(True)
        return found

    in_process = state()
    assert not reader.exists()
    monkeypatch.setattr(ahead, "AHEAD_FROM", 1)

    assert state() == in_process
    assert in_process[2] == {
        "netted": 2,
        "claim_opened": 1,
        "compensation_recorded": 1,
        "ignored": 1,
    }
    assert int(reader.read_text()) != os.getpid()
    assert gone(int(reader.read_text()))


def test_an_import_killed_midway_resumes_to_the_state_of_one_uninterrupted_run(seller, monkeypatch):
    from claims.reports import importing

    monkeypatch.setattr(importing, "CHUNK", 2)
    shipments = [factories.ShipmentFactory(policy__seller=seller) for _ in range(3)]
    day = yesterday()
    content = week(
        goods(9001, "7711.0.0", "Продажа", "Продажа", D("1120.50"), day),
        logistics(9002, shipments[0].external_id, FROM_BUYER_AT_CANCEL, D("50"), day, returns=1),
        goods(9003, "7711.0.0", "Продажа", "Сторно продаж", D("1120.50"), day),
        logistics(9004, shipments[1].external_id, FROM_BUYER_AT_CANCEL, D("60"), day, returns=1),
        goods(9005, shipments[2].external_id, "Продажа", "Компенсация ущерба", D("900"), day),
        logistics(9006, shipments[2].external_id, FROM_BUYER_AT_CANCEL, D("70"), day, returns=1),
        storno(9007, shipments[1], D("60"), day),
    )

    def state(report) -> tuple:
        report.refresh_from_db()
        lines = ReportLine.objects.filter(report=report)
        return (
            end_state(),
            sorted(lines.values_list("line", "key", "outcome", "reason", "counted")),
            report.status,
            report.outcomes,
            report.processed,
        )

    with transaction.atomic():
        expected = state(run(seller, content))
        transaction.set_rollback(True)
    # Both pairs netted (the sale and the fee with their stornos), two claims opened.
    assert expected[3] == {"netted": 4, "claim_opened": 2, "compensation_recorded": 1}

    # Killed while the rows are read, and while those that open claims go in.
    for kill_at in (2, 6):
        real_chunk, calls = importing._import_chunk, []

        def dying(imported, chunk, real_chunk=real_chunk, calls=calls, kill_at=kill_at):
            calls.append(len(chunk))
            if len(calls) == kill_at:
                raise _Killed
            real_chunk(imported, chunk)

        with transaction.atomic():
            made = report_import_create(
                marketplace=seller.marketplace,
                seller=seller,
                content=content,
                filename="week.json",
                source="upload",
            )
            monkeypatch.setattr(importing, "_import_chunk", dying)
            with pytest.raises(_Killed):
                report_import_run(import_id=made.pk)
            monkeypatch.setattr(importing, "_import_chunk", real_chunk)
            made.refresh_from_db()
            assert 0 < made.processed < 7 and made.status == "running"

            assert state(report_import_run(import_id=made.pk)) == expected
            transaction.set_rollback(True)
