"""One error vocabulary: a refusal answers the same code, message, fields and status whether
it is raised in a view, answers a single request or answers one item of a bulk request."""

import datetime as dt

import pytest
from django.utils import timezone

from claims.errors import ClaimErrorCode, PermissionDeniedError
from policies.api.exceptions import exception_handler
from policies.api.views import IngestApi
from policies.errors import ConflictError, DomainError, ErrorCode
from policies.ingest import ItemResult

pytestmark = pytest.mark.django_db


def compensation(insured, **fields) -> dict:
    return {
        "external_id": "C-1",
        "seller": insured.seller.external_id,
        "shipment": insured.external_id,
        "reason": "damage",
        "amount": "4000.00",
        "paid_on": "2026-11-20",
        **fields,
    }


def shipment(insured, **fields) -> dict:
    return {
        "external_id": "S-9",
        "seller": insured.seller.external_id,
        "order_id": "O-9",
        "sku": "K-9",
        "declared_value": "100.00",
        "shipped_at": timezone.now().isoformat(),
        **fields,
    }


def future_claim(insured) -> dict:
    return {
        "external_id": "K-1",
        "shipment": insured.external_id,
        "peril": "damage",
        "claimed_amount": "100.00",
        "event_date": (timezone.localdate() + dt.timedelta(days=3)).isoformat(),
    }


# Per case: the resource, an item stored beforehand (or None), the item refused, and its code.
CASES = {
    "conflict": (
        "compensations",
        compensation,
        lambda insured: compensation(insured, amount="1.00"),
        ErrorCode.CONFLICT,
    ),
    "unknown seller": (
        "shipments",
        None,
        lambda insured: shipment(insured, seller="nobody"),
        ErrorCode.VALIDATION_ERROR,
    ),
    "bad value": (
        "shipments",
        None,
        lambda insured: shipment(insured, declared_value="much"),
        ErrorCode.VALIDATION_ERROR,
    ),
    "hard rule": ("claims", None, future_claim, ClaimErrorCode.CLAIM_NOT_ELIGIBLE),
}


@pytest.mark.parametrize("case", CASES)
def test_a_bulk_item_is_refused_in_the_words_of_the_single_request(api, insured, case):
    resource, stored, refused, code = CASES[case]
    if stored is not None:
        assert api.post(f"/api/v1/{resource}/", stored(insured), format="json").status_code == 201
    item = refused(insured)

    single = api.post(f"/api/v1/{resource}/", item, format="json").json()
    bulk = api.post(f"/api/v1/{resource}/bulk/", {"items": [item]}, format="json")

    [row] = bulk.json()["results"]
    assert single["code"] == code
    assert single["message"]
    assert (row["status"], row["code"], row["message"], row["errors"]) == (
        "error",
        single["code"],
        single["message"],
        single["fields"],
    )


@pytest.mark.parametrize(
    "exc",
    [
        DomainError(ErrorCode.VALIDATION_ERROR, "Invalid input.", fields={"amount": ["Too big."]}),
        ConflictError(ErrorCode.CONFLICT, "Stored with other content.", fields={"amount": ["1"]}),
        PermissionDeniedError(ErrorCode.PERMISSION_DENIED, "You may not."),
        DomainError(ErrorCode.NOT_FOUND, "No such shipment."),
    ],
    ids=lambda exc: exc.code,
)
def test_a_refusal_answers_alike_raised_or_kept_in_an_items_result(exc):
    raised = exception_handler(exc, {})
    kept = IngestApi().single_response(ItemResult.refused("X-1", exc))

    assert (kept.status_code, kept.data) == (raised.status_code, raised.data)
    assert set(kept.data) == {"code", "message", "fields"}


def test_each_shared_code_answers_its_own_status():
    statuses = {
        code: exception_handler(DomainError(code, "Refused."), {}).status_code
        for code in (
            ErrorCode.VALIDATION_ERROR,
            ErrorCode.PERMISSION_DENIED,
            ErrorCode.NOT_FOUND,
            ErrorCode.CONFLICT,
        )
    }

    assert statuses == {
        ErrorCode.VALIDATION_ERROR: 400,
        ErrorCode.PERMISSION_DENIED: 403,
        ErrorCode.NOT_FOUND: 404,
        ErrorCode.CONFLICT: 409,
    }
