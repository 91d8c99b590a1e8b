"""A claim's recoveries in the API: each one's status, what was paid back and what is owed."""

import datetime as dt
from decimal import Decimal

import pytest

from claims.choices import ClaimStatus
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal


def test_a_claim_reads_each_recovery_with_its_payments_back(api, insured):
    claim = factories.ClaimFactory(shipment=insured, status=ClaimStatus.PAID)
    factories.PayoutFactory(claim=claim, amount=D("7500.00"))
    recovery = factories.RecoveryFactory(claim=claim, amount=D("6000.00"), status="partly_received")
    factories.RecoveryReceiptFactory(
        recovery=recovery,
        amount=D("2500.00"),
        received_on=dt.date(2026, 11, 20),
        reference="PP-2026-77",
    )

    read = api.get(f"/api/v1/claims/{claim.number}/").json()
    [listed] = api.get("/api/v1/claims/").json()["results"]

    [recovered] = read["recoveries"]
    assert {key: recovered[key] for key in ("status", "amount", "received", "owed")} == {
        "status": "partly_received",
        "amount": "6000.00",
        "received": "2500.00",
        "owed": "3500.00",
    }
    assert recovered["receipts"] == [
        {"amount": "2500.00", "received_on": "2026-11-20", "reference": "PP-2026-77"}
    ]
    assert read["amounts"]["owed_back"] == "3500.00"
    assert listed["recoveries"] == read["recoveries"]


def test_a_claim_with_no_recovery_reads_an_empty_list(api, insured):
    claim = factories.ClaimFactory(shipment=insured)

    assert api.get(f"/api/v1/claims/{claim.number}/").json()["recoveries"] == []
