"""The schema is written for the marketplace engineer who integrates: each operation says
what it does and how it behaves on a replay, each write shows a realistic object that the
schema itself accepts, and the webhook the API sends is documented with its headers."""

import json
import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from jsonschema import Draft202012Validator

WRITES_SAY = ("external_id", "409")
MONEY = re.compile(r"^-?[0-9]+\.[0-9]{2}$")
HEADERS = {
    "X-Sellercover-Event",
    "X-Sellercover-Delivery",
    "X-Sellercover-Timestamp",
    "X-Sellercover-Signature",
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    path = tmp_path_factory.mktemp("schema") / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(path), "--validate")
    return json.loads(path.read_text())


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", method, operation


def validator(schema, body_schema) -> Draft202012Validator:
    return Draft202012Validator({**body_schema, "components": schema["components"]})


def money_in(value):
    """Yield every string in `value` written as an amount of money."""
    if isinstance(value, dict):
        for item in value.values():
            yield from money_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from money_in(item)
    elif isinstance(value, str) and MONEY.match(value):
        yield value


def test_every_operation_has_a_summary_and_a_description_of_its_own(schema):
    descriptions = []
    for name, _method, operation in operations(schema):
        assert operation.get("summary"), name
        assert len(operation.get("description", "")) >= 100, name
        descriptions.append(operation["description"])
    assert len(set(descriptions)) == len(descriptions)


def test_every_write_says_how_a_replay_is_answered(schema):
    for name, method, operation in operations(schema):
        if method == "post":
            for words in WRITES_SAY:
                assert words in operation["description"], (name, words)


def test_every_write_shows_an_example_the_schema_accepts(schema):
    for name, method, operation in operations(schema):
        if method != "post":
            continue
        content = operation["requestBody"]["content"]["application/json"]
        examples = content.get("examples", {})
        assert examples, name
        for example in examples.values():
            errors = list(validator(schema, content["schema"]).iter_errors(example["value"]))
            assert not errors, (name, [e.message for e in errors])


def test_every_answer_example_matches_its_schema(schema):
    checked = 0
    for name, _method, operation in operations(schema):
        for status, response in operation["responses"].items():
            content = response.get("content", {}).get("application/json", {})
            for example in content.get("examples", {}).values():
                errors = list(validator(schema, content["schema"]).iter_errors(example["value"]))
                assert not errors, (name, status, [e.message for e in errors])
                checked += 1
    assert checked >= 12


def test_example_amounts_are_amounts_a_seller_would_see(schema):
    amounts = [
        Decimal(amount)
        for _name, _method, operation in operations(schema)
        for amount in money_in(operation)
    ]
    assert len(amounts) >= 10
    assert all(Decimal("0") <= amount < Decimal("10000000") for amount in amounts), amounts


def test_the_overview_covers_auth_idempotency_errors_limits_and_webhooks(schema):
    overview = schema["info"]["description"]
    for words in (
        "Api-Key",
        "external_id",
        "409",
        '"code"',
        "429",
        "Retry-After",
        "503",
        "bulk",
        "webhook",
    ):
        assert words in overview, words


def test_the_status_webhook_is_documented_with_its_headers_and_body(schema):
    webhook = schema["webhooks"]["claim.status_changed"]["post"]
    headers = {p["name"] for p in webhook["parameters"] if p["in"] == "header"}
    assert headers == HEADERS
    assert "Deduplicate" in webhook["description"] or "Drop repeats" in webhook["description"]
    assert "HMAC-SHA256" in webhook["description"]
    body = webhook["requestBody"]["content"]["application/json"]
    ref = body["schema"]["$ref"].rsplit("/", 1)[-1]
    fields = set(schema["components"]["schemas"][ref]["properties"])
    assert fields == {"event", "delivery", "claim", "from", "to", "payable", "at"}
    [example] = body["examples"].values()
    assert not list(validator(schema, body["schema"]).iter_errors(example["value"]))
