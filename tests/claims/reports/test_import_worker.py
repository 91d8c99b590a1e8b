"""A large report imported by a real prefork worker: its pool's child forks the reader."""

import datetime as dt
from decimal import Decimal

import pytest
import redis
from django.db import connection
from django.utils import timezone

from claims.choices import ReportFormat
from claims.models import Claim, ReportImport, ReportImportStatus
from claims.reports import ahead
from claims.reports.importing import report_import_request
from tests import factories
from tests.claims.reports.test_wb_generated import api_rows, goods, logistics
from tests.test_celery_worker import BROKER_URL, broker_reachable
from tests.workers import publishing_to, running_worker, wait_for

pytestmark = [
    pytest.mark.broker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def published():
    """Publish this process's tasks to the real Redis, as a web process does."""
    if not broker_reachable():
        pytest.skip(f"NO REDIS REACHABLE at {BROKER_URL}: did not run")
    if connection.vendor != "postgresql":
        pytest.skip("the worker process needs a shared database: runs in CI's PostgreSQL pass")
    with publishing_to(BROKER_URL):
        yield
    redis.Redis.from_url(BROKER_URL).flushdb()


def test_a_prefork_worker_imports_a_report_it_reads_in_a_process_of_its_own(published, tmp_path):
    policy = factories.PolicyFactory(
        period_start=timezone.localdate() - dt.timedelta(days=30),
        period_end=timezone.localdate() + dt.timedelta(days=30),
    )
    seller = policy.seller
    insured = [factories.ShipmentFactory(policy=policy) for _ in range(3)]
    day = timezone.localdate() - dt.timedelta(days=1)
    sales = [
        goods(10_000 + n, f"{n}.0.0", "Продажа", "Продажа", Decimal("99.90"), day)
        for n in range(ahead.AHEAD_FROM)
    ]
    fees = [
        logistics(n, shipment.external_id, "От клиента при отмене", Decimal("50.00"), day)
        for n, shipment in enumerate(insured, start=1)
    ]
    content = api_rows([*fees, *sales], form=ReportFormat.WB_V5)

    with running_worker(
        broker_url=BROKER_URL, pool="prefork", PRIVATE_MEDIA_ROOT=str(tmp_path / "media")
    ) as log:
        imported = report_import_request(
            marketplace=seller.marketplace,
            seller=seller,
            content=content,
            filename="week.json",
            source="upload",
        )
        done = wait_for(
            lambda: (
                ReportImport.objects.get(pk=imported.pk).status
                in (ReportImportStatus.DONE, ReportImportStatus.FAILED)
            ),
            120,
        )

    imported.refresh_from_db()
    assert done and imported.status == ReportImportStatus.DONE, (
        imported.error or log["output"][-4000:]
    )
    assert imported.rows == ahead.AHEAD_FROM + 3
    assert imported.outcomes == {"claim_opened": 3, "ignored": ahead.AHEAD_FROM}
    assert set(Claim.objects.values_list("shipment", flat=True)) == {s.pk for s in insured}
