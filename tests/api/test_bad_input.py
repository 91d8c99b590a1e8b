"""Bad input from a careless or hostile client is refused in the API's error body, never a
500: deep JSON, dates off the calendar, control characters in paths and values, bodies past
the limit, other scripts' digits; and what is accepted is answered as stored."""

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from rest_framework import serializers

from claims.api import views as claims_api
from claims.api.serializers import ClaimInput
from claims.models import Claim, MarketplaceCompensation
from policies.api import views as policies_api
from policies.api.serializers import DateTimeField, DecimalField
from policies.models import Policy, Seller, Shipment, ShipmentEvent
from policies.validators import MAX_JSON_DEPTH, json_depth
from tests import factories

pytestmark = pytest.mark.django_db

WRITES = [
    "/api/v1/sellers/",
    "/api/v1/sellers/bulk/",
    "/api/v1/policies/",
    "/api/v1/policies/bulk/",
    "/api/v1/shipments/",
    "/api/v1/shipments/bulk/",
    "/api/v1/shipment-events/",
    "/api/v1/shipment-events/bulk/",
    "/api/v1/compensations/",
    "/api/v1/compensations/bulk/",
    "/api/v1/claims/",
    "/api/v1/claims/bulk/",
    "/api/v1/reports/",
]
# 2000-01-01..2100-12-31: the calendar's edges and just past the range.
OFF_DAYS = ["0001-01-01", "1639-06-01", "1999-12-31", "2101-01-01", "9999-12-31"]


def error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert set(body) >= {"code", "message", "fields"}
    return body


def seller_item(**fields) -> dict:
    return {
        "external_id": "S-1",
        "legal_name": "ООО «Ромашка»",
        "tax_id": factories.valid_inn(901),
        "email": "romashka@example.com",
        **fields,
    }


def shipment_item(seller, **fields) -> dict:
    return {
        "external_id": "srid-1",
        "seller": seller.external_id,
        "order_id": "order-1",
        "sku": "SKU-1",
        "declared_value": "1000.00",
        "shipped_at": (timezone.now() - dt.timedelta(days=1)).isoformat(),
        **fields,
    }


# 1. JSON nested beyond reason


@pytest.mark.parametrize("path", WRITES)
def test_a_body_of_a_thousand_nested_brackets_is_a_parse_error(api, path):
    body = error(api.post(path, "[" * 1000, content_type="application/json"), 400, "parse_error")

    assert str(MAX_JSON_DEPTH) in body["message"]


def test_a_body_nested_to_the_limit_is_read_and_one_level_more_is_not(api):
    at_limit = "[" * (MAX_JSON_DEPTH - 1) + "{}" + "]" * (MAX_JSON_DEPTH - 1)
    past = "[" + at_limit + "]"

    read = api.post("/api/v1/sellers/", at_limit, content_type="application/json")
    refused = api.post("/api/v1/sellers/", past, content_type="application/json")

    assert error(read, 400, "validation_error")["fields"] == {
        "non_field_errors": ["Send one JSON object."]
    }
    error(refused, 400, "parse_error")


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ('{"a": [1, {"b": []}]}', 4),
        ('{"a": "[[[[{{{{"}', 1),
        (r'["\"[[[", "\\", [[]]]', 3),
        ('"' + '\\"' * 10_000 + "[[[", 0),
        ("[" * 10_000, 10_000),
    ],
)
def test_json_depth_counts_the_structure_not_the_brackets_in_strings(text, depth):
    assert json_depth(text) == depth


# 2. Dates off the calendar


@pytest.mark.parametrize("day", OFF_DAYS)
def test_a_policy_starting_off_the_calendar_is_a_field_error(api, key, day):
    factories.ProductVersionFactory(product__code="standard")
    seller = factories.SellerFactory(marketplace=key.marketplace)
    body = {"external_id": "P-1", "seller": seller.external_id, "product": "standard"}

    response = api.post("/api/v1/policies/", {**body, "starts_on": day}, format="json")

    assert "starts_on" in error(response, 400, "validation_error")["fields"]
    assert not Policy.objects.filter(external_id="P-1").exists()


def test_one_policy_of_the_year_9999_in_a_bulk_leaves_the_others_enrolled(api, key):
    factories.ProductVersionFactory(product__code="standard")
    sellers = factories.SellerFactory.create_batch(2, marketplace=key.marketplace)
    items = [
        {"external_id": "P-bad", "seller": sellers[0].external_id, "starts_on": "9999-12-31"},
        {
            "external_id": "P-good",
            "seller": sellers[1].external_id,
            "starts_on": timezone.localdate().isoformat(),
        },
    ]

    response = api.post(
        "/api/v1/policies/bulk/",
        {"items": [{**item, "product": "standard"} for item in items]},
        format="json",
    )

    assert response.status_code == 200, response.content
    bad, good = response.json()["results"]
    assert (bad["status"], bad["code"], list(bad["errors"])) == (
        "error",
        "validation_error",
        ["starts_on"],
    )
    assert good["status"] == "created"
    assert list(Policy.objects.values_list("external_id", flat=True)) == ["P-good"]


def test_one_shipment_shipped_before_the_range_in_a_bulk_leaves_the_others_written(api, key):
    seller = factories.SellerFactory(marketplace=key.marketplace)
    items = [
        shipment_item(seller, external_id="srid-bad", shipped_at="1999-12-31T23:00:00+03:00"),
        shipment_item(seller, external_id="srid-good"),
    ]

    response = api.post("/api/v1/shipments/bulk/", {"items": items}, format="json")

    assert response.status_code == 200, response.content
    assert [r["status"] for r in response.json()["results"]] == ["error", "created"]
    assert list(Shipment.objects.values_list("external_id", flat=True)) == ["srid-good"]


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_every_date_the_api_takes_is_held_to_the_range(api, key, insured, day):
    at = f"{day}T12:00:00+03:00"
    seller = insured.seller
    writes = {
        "shipped_at": (
            "/api/v1/shipments/",
            shipment_item(seller, shipped_at=at),
        ),
        "occurred_at": (
            "/api/v1/shipment-events/",
            {"external_id": "e", "shipment": insured.external_id, "kind": "delivered"}
            | {"occurred_at": at},
        ),
        "paid_on": (
            "/api/v1/compensations/",
            {"external_id": "c", "seller": seller.external_id, "shipment": insured.external_id}
            | {"reason": "damage", "amount": "10.00", "paid_on": day},
        ),
        "event_date": (
            "/api/v1/claims/",
            {"external_id": "cl", "shipment": insured.external_id, "peril": "damage"}
            | {"claimed_amount": "10.00", "event_date": day},
        ),
    }

    for name, (path, body) in writes.items():
        assert name in error(api.post(path, body, format="json"), 400, "validation_error")["fields"]
    updated = api.get("/api/v1/claims/", {"updated_since": at})
    assert "updated_since" in error(updated, 400, "validation_error")["fields"]
    assert not ShipmentEvent.objects.exists()
    assert not MarketplaceCompensation.objects.exists()
    assert not Claim.objects.exists()


# 3. Control characters in the path and the query


@pytest.mark.parametrize(
    "path", ["/api/v1/claims/%00/", "/api/v1/claims/CL%07X/", "/api/v1/reports/%00/rows/"]
)
def test_a_control_character_in_an_api_path_names_nothing(api, path):
    error(api.get(path), 404, "not_found")


def test_a_control_character_in_an_api_query_parameter_is_refused(api):
    body = error(api.get("/api/v1/claims/", {"seller": "S-\x00"}), 400, "validation_error")

    assert list(body["fields"]) == ["seller"]


def test_a_url_the_api_does_not_route_answers_the_json_error_body(api):
    error(api.get("/api/v1/claims/a%2Fb/"), 404, "not_found")
    error(api.get("/api/v1/nothing-here/"), 404, "not_found")


# 4. Bodies up to a full bulk, and past it


def test_a_full_bulk_of_long_cyrillic_shipments_sent_escaped_is_written(api, key):
    seller = factories.SellerFactory(marketplace=key.marketplace)
    items = [
        shipment_item(
            seller,
            external_id=f"О-{n:04d}".ljust(64, "Ж"),
            order_id="З" * 64,
            sku="А" * 64,
            category="К" * 200,
            warehouse="С" * 200,
            pickup_point="П" * 200,
        )
        for n in range(policies_api.MAX_BULK_ITEMS)
    ]
    # ensure_ascii: each letter sent as \u041e, six bytes, as most clients write JSON.
    body = json.dumps({"items": items}, ensure_ascii=True)
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    response = api.post("/api/v1/shipments/bulk/", body, content_type="application/json")

    assert response.status_code == 200, response.content[:500]
    assert {r["status"] for r in response.json()["results"]} == {"created"}
    assert Shipment.objects.filter(seller=seller).count() == policies_api.MAX_BULK_ITEMS


def test_a_body_past_the_limit_is_a_json_413_naming_it(api):
    limit = settings.API_MAX_BODY_BYTES
    body = '{"items": [' + " " * limit + "]}"

    english = api.post("/api/v1/shipments/bulk/", body, content_type="application/json")
    russian = api.post(
        "/api/v1/shipments/bulk/",
        body,
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="ru",
    )

    assert str(limit) in error(english, 413, "request_too_large")["message"]
    assert error(russian, 413, "request_too_large")["message"] == (
        f"Тело запроса больше предела API в {limit} байт."
    )


def _widest(field: serializers.Field):
    """Return the longest value a field takes, in Cyrillic where it takes text."""
    if isinstance(field, serializers.ChoiceField):
        return max(field.choices, key=len)
    if isinstance(field, serializers.DecimalField):
        return "9" * (field.max_digits - field.decimal_places) + "." + "9" * field.decimal_places
    if isinstance(field, serializers.DateTimeField):
        return "2026-11-20T14:30:00.123456+03:00"
    if isinstance(field, serializers.DateField):
        return "2026-11-20"
    if isinstance(field, serializers.EmailField):
        return "ж" * 64 + "@" + "ж" * (field.max_length - 65)
    if isinstance(field, serializers.CharField):
        return "Ж" * field.max_length
    raise AssertionError(f"no widest value for {field!r}")


@pytest.mark.parametrize(
    "view",
    [
        policies_api.SellerBulkApi,
        policies_api.PolicyBulkApi,
        policies_api.ShipmentBulkApi,
        claims_api.ShipmentEventBulkApi,
        claims_api.CompensationBulkApi,
        claims_api.ClaimBulkApi,
    ],
)
def test_a_full_bulk_of_the_widest_items_fits_the_body_limit(view):
    fields = view.input_serializer().fields
    item = {name: _widest(field) for name, field in fields.items()}
    body = json.dumps({"items": [item] * policies_api.MAX_BULK_ITEMS}, ensure_ascii=True)

    assert len(body) <= settings.API_MAX_BODY_BYTES


def test_a_claims_description_is_bounded_for_the_body_limit():
    assert ClaimInput().fields["description"].max_length is not None


# 5. Stored garbage


INVISIBLE = {
    "a control character": "\x07",
    "an escape": "\x1b[31m",
    "a right-to-left override": "\u202e",
    "a left-to-right isolate": "\u2066",
    "a zero-width space": "\u200b",
    "a zero-width joiner": "\u200d",
    "a byte-order mark": "\ufeff",
    "a tag character": "\U000e0041",
    "a line separator": "\u2028",
}


@pytest.mark.parametrize("character", INVISIBLE.values(), ids=INVISIBLE.keys())
@pytest.mark.parametrize("name", ["external_id", "legal_name"])
def test_an_id_or_a_name_with_an_invisible_character_is_a_field_error(api, name, character):
    item = seller_item()
    item[name] = f"{item[name]}{character}x"

    response = api.post("/api/v1/sellers/", item, format="json")

    assert list(error(response, 400, "validation_error")["fields"]) == [name]
    assert not Seller.objects.exists()


def test_an_invisible_character_in_a_bulk_item_refuses_that_item_alone(api, key):
    seller = factories.SellerFactory(marketplace=key.marketplace)
    items = [
        shipment_item(seller, external_id="srid-\u202e1"),
        shipment_item(seller, external_id="srid-2", warehouse="Коледино\u200b"),
        shipment_item(seller, external_id="srid-3"),
    ]

    response = api.post("/api/v1/shipments/bulk/", {"items": items}, format="json")

    results = response.json()["results"]
    assert [(r["status"], list(r["errors"])) for r in results] == [
        ("error", ["external_id"]),
        ("error", ["warehouse"]),
        ("created", []),
    ]


def test_a_description_keeps_its_line_breaks_but_not_a_direction_override(api, insured):
    claim = {
        "external_id": "cl-1",
        "shipment": insured.external_id,
        "peril": "damage",
        "claimed_amount": "100.00",
        "event_date": (timezone.localdate() - dt.timedelta(days=3)).isoformat(),
    }

    refused = api.post(
        "/api/v1/claims/", {**claim, "description": "Коробка\u202eвскрыта"}, format="json"
    )
    filed = api.post(
        "/api/v1/claims/",
        {**claim, "description": "Коробка вскрыта.\r\n\tТовар разбит."},
        format="json",
    )

    assert list(error(refused, 400, "validation_error")["fields"]) == ["description"]
    assert filed.status_code == 201, filed.content
    assert Claim.objects.get().description == "Коробка вскрыта.\r\n\tТовар разбит."


@pytest.mark.parametrize(
    "amount",
    ["１０００.００", "١٠٠٠", "۱۰۰۰", "१०००", "1e3", "1_000", " 1000", "+1000", "1000."],
)
def test_an_amount_is_written_with_the_digits_0_to_9_and_a_dot(api, key, amount):
    seller = factories.SellerFactory(marketplace=key.marketplace)

    response = api.post(
        "/api/v1/shipments/", shipment_item(seller, declared_value=amount), format="json"
    )

    assert list(error(response, 400, "validation_error")["fields"]) == ["declared_value"]


@pytest.mark.parametrize("amount", ["1000", "1000.5", "0.05", 1000, 1000.5])
def test_an_amount_as_plain_digits_or_a_json_number_is_taken(api, key, amount):
    seller = factories.SellerFactory(marketplace=key.marketplace)

    response = api.post(
        "/api/v1/shipments/", shipment_item(seller, declared_value=amount), format="json"
    )

    assert response.status_code == 201, response.content
    assert Decimal(response.json()["declared_value"]) == Decimal(str(amount))


@pytest.mark.parametrize("tax_id", ["７７０７０８３８９３", "٧٧٠٧٠٨٣٨٩٣"])
def test_a_tax_id_in_other_digits_is_refused(api, tax_id):
    # 7707083893 is a valid ИНН; the same digits of another script are not one.
    response = api.post("/api/v1/sellers/", seller_item(tax_id=tax_id), format="json")

    assert list(error(response, 400, "validation_error")["fields"]) == ["tax_id"]


def test_a_date_in_other_digits_is_refused(api, insured):
    response = api.post(
        "/api/v1/compensations/",
        {
            "external_id": "c",
            "seller": insured.seller.external_id,
            "shipment": insured.external_id,
            "reason": "damage",
            "amount": "10.00",
            "paid_on": "٢٠٢٦-١١-٢٠",
        },
        format="json",
    )

    assert list(error(response, 400, "validation_error")["fields"]) == ["paid_on"]


def test_a_signed_zero_is_stored_and_answered_as_zero(api, insured):
    response = api.post(
        "/api/v1/shipment-events/",
        {
            "external_id": "ev-zero",
            "shipment": insured.external_id,
            "kind": "non_buyout",
            "occurred_at": (timezone.now() - dt.timedelta(days=1)).isoformat(),
            "amount": "-0.00",
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["amount"] == "0.00"
    assert str(ShipmentEvent.objects.get(external_id="ev-zero").amount) == "0.00"


def test_a_negative_zero_of_a_calculation_is_answered_unsigned():
    field = DecimalField(max_digits=14, decimal_places=2)

    assert field.to_representation(Decimal("-0.001")) == "0.00"
    assert field.to_representation(Decimal("-0")) == "0.00"


ISO_WITH_MINUTES = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def test_a_time_whose_zone_offset_had_seconds_is_answered_in_utc(api, key):
    claim = factories.ClaimFactory(shipment__policy__seller__marketplace=key.marketplace)
    # Moscow kept local mean time, +02:30:17, until 1880: a row stored before the date rule.
    long_ago = dt.datetime(1639, 6, 1, 12, 0, tzinfo=dt.UTC)
    factories.ClaimTransitionFactory(claim=claim, at=long_ago)

    body = api.get(f"/api/v1/claims/{claim.number}/").json()

    times = [t["at"] for t in body["transitions"]] + [body["created_at"], body["updated_at"]]
    assert "1639-06-01T12:00:00Z" in times
    assert all(ISO_WITH_MINUTES.fullmatch(t) for t in times), times


def test_a_time_of_this_century_is_answered_in_the_projects_zone():
    at = dt.datetime(2026, 11, 20, 11, 30, tzinfo=dt.UTC)

    assert DateTimeField().to_representation(at) == "2026-11-20T14:30:00+03:00"


# 6. The schema says what the API does


def test_a_bulk_endpoint_takes_post_only(api):
    error(api.get("/api/v1/claims/bulk/"), 405, "method_not_allowed")
    schema = api.get(reverse("api-schema"), {"format": "json"}).json()
    assert set(schema["paths"]["/api/v1/claims/bulk/"]) == {"post"}


def test_an_unknown_query_parameter_is_refused_not_ignored(api):
    body = error(
        api.get("/api/v1/claims/", {"update_since": "2026-01-01"}), 400, "validation_error"
    )

    assert list(body["fields"]) == ["update_since"]


@pytest.mark.parametrize("size", ["0", "1001", "ten", "١٠"])
def test_a_page_size_outside_the_documented_range_is_refused(api, size):
    response = api.get("/api/v1/claims/", {"page_size": size})

    assert list(error(response, 400, "validation_error")["fields"]) == ["page_size"]


def test_a_cursor_that_is_not_one_is_a_404(api):
    error(api.get("/api/v1/claims/", {"cursor": "o=1&p=not base64"}), 404, "not_found")


@pytest.fixture
def schema(api):
    return api.get(reverse("api-schema"), {"format": "json"}).json()


def test_every_operation_documents_the_statuses_it_can_answer(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert statuses >= {"400", "401", "414", "429", "503"}, (method, path)
            if method == "post":
                assert statuses >= {"413", "415"}, path
            if method == "get":
                assert "404" in statuses, path


def test_the_schema_states_lengths_item_counts_and_the_money_pattern(schema):
    components = schema["components"]["schemas"]
    bulk = components["ShipmentInputBulk"]["properties"]["items"]
    shipment = components["ShipmentInput"]["properties"]
    external_id = shipment["external_id"]["oneOf"][0]
    money = shipment["declared_value"]["oneOf"][0]["pattern"]

    assert (bulk["minItems"], bulk["maxItems"]) == (1, policies_api.MAX_BULK_ITEMS)
    assert (external_id["minLength"], external_id["maxLength"]) == (1, 64)
    assert re.search(external_id["pattern"], "srid-1")
    assert not re.search(external_id["pattern"], "srid-\u202e1")
    assert [bool(re.search(money, v)) for v in ["1500.00", "0", "-0.00", "-1", "1e3", "١"]] == [
        True,
        True,
        True,
        False,
        False,
        False,
    ]
    answered = components["ShipmentOutput"]["properties"]["declared_value"]["pattern"]
    assert re.search(answered, "1500.00") and not re.search(answered, "1500")
