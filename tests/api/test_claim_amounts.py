"""A claim's `amounts` in the API: the one line of its money beside the first keys, the same
figures in the list and the detail, and documented in the schema."""

from decimal import Decimal

import pytest

from claims.choices import ClaimStatus, LimitApplied
from claims.lifecycle import claim_reject
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal


def amounts(api, claim) -> dict:
    return api.get(f"/api/v1/claims/{claim.number}/").json()["amounts"]


def test_a_paid_claim_with_a_recovery_reads_net_of_it(api, insured):
    claim = factories.ClaimFactory(
        shipment=insured,
        status=ClaimStatus.PAID,
        compensation_amount=D("10000.00"),
        deductible_amount=D("500.00"),
        payable_amount=D("1500.00"),
    )
    factories.PayoutFactory(claim=claim, amount=D("7500.00"))
    factories.RecoveryFactory(claim=claim, amount=D("6000.00"))

    read = amounts(api, claim)
    [listed] = api.get("/api/v1/claims/").json()["results"]

    assert {
        name: read[name]
        for name in (
            "loss",
            "marketplace_paid",
            "paid",
            "insurer_paid",
            "to_pay",
            "seller_bore",
            "deductible",
            "unpaid",
            "owed_back",
        )
    } == {
        "loss": "12000.00",
        "marketplace_paid": "10000.00",
        "paid": "7500.00",
        "insurer_paid": "1500.00",
        "to_pay": "0.00",
        "seller_bore": "500.00",
        "deductible": "500.00",
        "unpaid": "0.00",
        "owed_back": "6000.00",
    }
    assert read["limits"] == []
    assert read["no_payable_reason"] is None
    assert listed["amounts"] == read


def test_each_limit_that_cut_the_claim_is_listed_by_code(api, insured):
    claim = factories.ClaimFactory(
        shipment=insured,
        status=ClaimStatus.APPROVED,
        claimed_amount=D("80000.00"),
        deductible_amount=D("500.00"),
        payable_amount=D("30000.00"),
        limit_applied=LimitApplied.AGGREGATE,
    )

    read = amounts(api, claim)

    assert read["limits"] == [
        {"limit": "per_claim", "amount": "29500.00"},
        {"limit": "aggregate", "amount": "20000.00"},
    ]
    assert (read["payable"], read["to_pay"], read["seller_bore"]) == (
        "30000.00",
        "30000.00",
        "50000.00",
    )


def test_a_rejected_claim_reads_with_no_payable_and_its_reason(api, insured, adjuster):
    claim = factories.ClaimFactory(
        shipment=insured,
        status=ClaimStatus.UNDER_REVIEW,
        assignee=adjuster,
        deductible_amount=D("500.00"),
        payable_amount=D("11500.00"),
    )
    claim_reject(claim_id=claim.pk, adjuster=adjuster, code="no_loss", reason="Цел.")

    read = amounts(api, claim)

    assert read["no_payable_reason"] == "rejected"
    assert (read["payable"], read["to_pay"], read["deductible"]) == ("0.00", "0.00", "0.00")
    assert read["seller_bore"] == read["unpaid"] == "12000.00"


def test_the_schema_documents_the_new_amounts(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    properties = schema["components"]["schemas"]["AmountsOutput"]["properties"]
    for name in ("loss", "marketplace_paid", "insurer_paid", "to_pay", "owed_back", "unpaid"):
        assert properties[name].get("description"), name
    assert {"$ref": "#/components/schemas/NullEnum"} in properties["no_payable_reason"]["oneOf"]
    assert "limits" in properties
