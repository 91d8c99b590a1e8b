"""Rows inserted as values, with what is the same for all of them given once."""

import pytest

from claims.models import ReportImport, ReportLine
from policies.ingest import insert_values
from tests import factories

pytestmark = pytest.mark.django_db


def test_values_the_same_for_every_row_are_given_once_and_the_rest_take_their_defaults():
    seller = factories.SellerFactory()
    imported = ReportImport.objects.create(
        marketplace=seller.marketplace,
        seller=seller,
        format="wb_v5",
        source="upload",
        sha256="0" * 64,
    )
    insert_values(
        ReportLine,
        [
            {"line": 2, "key": "a", "outcome": "ignored"},
            {"line": 3, "key": "b", "outcome": "netted"},
        ],
        same={"report_id": imported.pk, "marketplace_id": imported.marketplace_id},
    )
    lines = ReportLine.objects.filter(report=imported).order_by("line")
    assert [(line.line, line.key, line.outcome) for line in lines] == [
        (2, "a", "ignored"),
        (3, "b", "netted"),
    ]
    assert {line.marketplace_id for line in lines} == {imported.marketplace_id}
    assert [(line.reason, line.counted, line.claim_id) for line in lines] == [("", False, None)] * 2
