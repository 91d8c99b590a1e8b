"""The compensation CSV import, chunk by chunk: what a broken file keeps and what it says."""

import io

import pytest
from django.utils import translation

from claims import csv_import
from claims.csv_import import compensations_import_csv
from claims.models import MarketplaceCompensation
from policies.errors import DomainError
from tests import factories

pytestmark = pytest.mark.django_db

HEADER = "external_id;seller;shipment;reason;amount;paid_on\n"


def _lines(shipment, numbers) -> str:
    seller = shipment.seller.external_id
    return "".join(
        f"c-{n};{seller};{shipment.external_id};loss;10,00;20.11.2026\n" for n in numbers
    )


def test_a_file_that_breaks_midway_keeps_the_chunks_before_and_a_fixed_one_adds_the_rest(
    monkeypatch,
):
    monkeypatch.setattr(csv_import, "CHUNK", 10)
    shipment = factories.ShipmentFactory()
    good = (HEADER + _lines(shipment, range(600))).encode()
    broken = good + b"c-bad;\xff\xfe;x;loss;1;20.11.2026\n"

    with translation.override("en"), pytest.raises(DomainError) as refused:
        compensations_import_csv(marketplace=shipment.marketplace, stream=io.BytesIO(broken))
    kept = MarketplaceCompensation.objects.count()
    report = compensations_import_csv(marketplace=shipment.marketplace, stream=io.BytesIO(good))

    assert refused.value.code == "invalid_file"
    assert "not UTF-8" in refused.value.message
    # The text is decoded in blocks of 8 KiB: the rows of the blocks before the bad byte
    # (less the chunk read ahead) are stored, the rest come with the fixed file.
    assert 300 < kept < 600
    assert (report.created, report.unchanged, report.failed) == (600 - kept, kept, 0)
    assert MarketplaceCompensation.objects.count() == 600


def test_bad_rows_across_chunks_are_each_named_by_line_in_order(monkeypatch):
    monkeypatch.setattr(csv_import, "CHUNK", 3)
    shipment = factories.ShipmentFactory()
    seller = shipment.seller.external_id
    text = (
        HEADER
        + _lines(shipment, range(4))
        + f"c-x;{seller};{shipment.external_id};nonsense;1;20.11.2026\n"
        + "\n"
        + _lines(shipment, range(4, 8))
        + f"c-y;{seller};{shipment.external_id};loss;1;31.02.2026\n"
    )

    with translation.override("en"):
        report = compensations_import_csv(
            marketplace=shipment.marketplace, stream=io.BytesIO(text.encode())
        )

    assert (report.rows, report.created, report.failed) == (10, 8, 2)
    assert report.errors == [
        (6, "reason is not valid: 'nonsense'"),
        (12, "paid_on is not valid: '31.02.2026'"),
    ]
