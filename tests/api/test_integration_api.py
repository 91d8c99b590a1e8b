"""The marketplace integration API, tested as the contract it is: fields may be added,
none renamed or dropped."""

import datetime as dt
import hashlib
import hmac
import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from claims.choices import ClaimStatus, RecoveryStatus
from claims.lifecycle import claim_reject, claim_release, claim_start_review, claim_triage
from claims.models import Claim, MarketplaceCompensation, Payout, WebhookDelivery
from claims.outputs.webhooks import backoff
from claims.tasks import webhooks_retry_due_task
from policies.api.throttling import ApiKeyRateThrottle
from policies.models import MarketplaceApiKey, Policy, Seller, Shipment, ShipmentEvent
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal
NOW = timezone.now().replace(microsecond=0)


def error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert set(body) >= {"code", "message", "fields"}
    return body


def walk(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)
    else:
        yield value


def event(shipment, external_id="ev-1", kind="non_buyout", amount="50.00", days_ago=1):
    return {
        "external_id": external_id,
        "shipment": shipment.external_id,
        "kind": kind,
        "occurred_at": (NOW - dt.timedelta(days=days_ago)).isoformat(),
        "amount": amount,
    }


# access


def test_a_request_without_a_key_is_refused():
    error(APIClient().get("/api/v1/claims/"), 401, "not_authenticated")


def test_an_unknown_key_is_refused():
    client = APIClient(HTTP_AUTHORIZATION="Api-Key abcdefgh.nothing")

    error(client.get("/api/v1/claims/"), 401, "not_authenticated")


def test_a_revoked_key_is_refused(key, api):
    MarketplaceApiKey.objects.filter(pk=key.pk).update(revoked=True)

    error(api.get("/api/v1/claims/"), 401, "not_authenticated")


def test_a_request_records_when_the_key_was_last_used(key, api):
    api.get("/api/v1/claims/")

    assert MarketplaceApiKey.objects.get(pk=key.pk).last_used_at is not None


def test_a_key_sees_nothing_of_another_marketplace(api, insured):
    foreign = factories.ClaimFactory()
    mine = factories.ClaimFactory(shipment=insured)

    listed = api.get("/api/v1/claims/").json()["results"]

    assert [c["number"] for c in listed] == [mine.number]
    error(api.get(f"/api/v1/claims/{foreign.number}/"), 404, "not_found")
    response = api.post(
        "/api/v1/shipments/",
        {
            "external_id": "s-x",
            "seller": foreign.seller.external_id,
            "order_id": "o",
            "sku": "k",
            "declared_value": "10.00",
            "shipped_at": NOW.isoformat(),
        },
        format="json",
    )
    assert error(response, 400, "validation_error")["fields"] == {"seller": ["Unknown seller."]}


def test_too_many_requests_answer_429_with_retry_after(api, monkeypatch):
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "2/min"})
    cache.clear()

    statuses = [api.get("/api/v1/claims/").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    response = api.get("/api/v1/claims/")
    error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    cache.clear()


# bad input


def test_malformed_json_is_a_parse_error(api):
    response = api.post("/api/v1/sellers/", "{not json", content_type="application/json")

    error(response, 400, "parse_error")


def test_a_list_where_one_object_is_expected_is_refused(api):
    error(api.post("/api/v1/sellers/", [], format="json"), 400, "validation_error")


def test_wrong_values_are_named_field_by_field(api, insured):
    response = api.post(
        "/api/v1/shipment-events/",
        {
            "external_id": "e" * 65,
            "shipment": insured.external_id,
            "kind": "exploded",
            "occurred_at": "2026-11-20T10:00:00",
            "amount": "-1",
        },
        format="json",
    )

    fields = error(response, 400, "validation_error")["fields"]
    assert set(fields) == {"external_id", "kind", "occurred_at", "amount"}
    assert not ShipmentEvent.objects.exists()


@pytest.mark.parametrize("count", [0, 1001])
def test_bulk_outside_1_to_1000_items_is_refused(api, count):
    response = api.post("/api/v1/sellers/bulk/", {"items": [{}] * count}, format="json")

    assert "items" in error(response, 400, "validation_error")["fields"]


def test_a_bulk_of_1000_shipments_is_stored_whole(api, insured):
    items = [
        {
            "external_id": f"s-{n}",
            "seller": insured.seller.external_id,
            "order_id": f"o-{n}",
            "sku": "k",
            "declared_value": "100.00",
            "shipped_at": NOW.isoformat(),
        }
        for n in range(1000)
    ]

    results = api.post("/api/v1/shipments/bulk/", {"items": items}, format="json").json()["results"]

    assert {r["status"] for r in results} == {"created"}
    assert Shipment.objects.filter(policy=insured.policy).count() == 1001


# idempotency


SELLER = {
    "external_id": "WB-1",
    "legal_name": "ООО «Ромашка»",
    "tax_id": "7708123450",
    "email": "a@example.com",
}


def test_sellers_are_upserted(api):
    first = api.post("/api/v1/sellers/", SELLER, format="json")
    replay = api.post("/api/v1/sellers/", SELLER, format="json")
    changed = api.post("/api/v1/sellers/", {**SELLER, "email": "b@example.com"}, format="json")

    assert (first.status_code, replay.status_code, changed.status_code) == (201, 200, 200)
    assert first.json()["id"] == replay.json()["id"] == changed.json()["id"]
    assert Seller.objects.get().email == "b@example.com"


def test_policies_replay_and_conflict(api, key):
    factories.ProductVersionFactory(product__code="standard")
    seller = factories.SellerFactory(marketplace=key.marketplace)
    body = {
        "external_id": "P-1",
        "seller": seller.external_id,
        "product": "standard",
        "starts_on": "2026-11-01",
    }

    first = api.post("/api/v1/policies/", body, format="json")
    replay = api.post("/api/v1/policies/", body, format="json")
    conflict = api.post("/api/v1/policies/", {**body, "starts_on": "2026-12-01"}, format="json")

    assert first.status_code == 201
    assert first.json()["status"] == "active"
    assert {c["cover"] for c in first.json()["covers"]} == {"cargo", "return_logistics"}
    assert replay.status_code == 200
    assert replay.json()["number"] == first.json()["number"]
    assert "period_start" in error(conflict, 409, "conflict")["fields"]
    assert Policy.objects.filter(seller=seller).count() == 1


def test_events_replay_and_conflict(api, insured):
    first = api.post("/api/v1/shipment-events/", event(insured, kind="delivered"), format="json")
    replay = api.post("/api/v1/shipment-events/", event(insured, kind="delivered"), format="json")
    conflict = api.post(
        "/api/v1/shipment-events/", event(insured, kind="delivered", amount="60.00"), format="json"
    )

    assert (first.status_code, replay.status_code) == (201, 200)
    assert first.json()["id"] == replay.json()["id"]
    assert list(error(conflict, 409, "conflict")["fields"]) == ["amount"]
    assert ShipmentEvent.objects.count() == 1


def compensation(insured, external_id: str = "C-1", **fields) -> dict:
    """The body of a marketplace payout for the insured shipment."""
    return {
        "external_id": external_id,
        "seller": insured.seller.external_id,
        "shipment": insured.external_id,
        "reason": "damage",
        "amount": "4000.00",
        "paid_on": "2026-11-20",
        **fields,
    }


def test_compensations_replay_and_conflict(api, insured):
    body = compensation(insured)

    first = api.post("/api/v1/compensations/", body, format="json")
    replay = api.post("/api/v1/compensations/", body, format="json")
    conflict = api.post("/api/v1/compensations/", {**body, "amount": "1.00"}, format="json")

    assert (first.status_code, replay.status_code) == (201, 200)
    assert list(error(conflict, 409, "conflict")["fields"]) == ["amount"]
    assert MarketplaceCompensation.objects.count() == 1


def test_a_compensation_bulk_answers_a_repeat_within_the_batch_as_the_first(api, insured):
    body = compensation(insured)
    items = [body, body, {**body, "reason": "loss"}, {**body, "external_id": "C-2"}]

    results = api.post("/api/v1/compensations/bulk/", {"items": items}, format="json").json()[
        "results"
    ]

    assert [r["status"] for r in results] == ["created", "created", "error", "created"]
    assert results[0]["id"] == results[1]["id"] != results[3]["id"]
    assert (results[2]["code"], list(results[2]["errors"])) == ("conflict", ["reason"])
    stored = MarketplaceCompensation.objects.get(external_id="C-1")
    assert (stored.shipment, stored.amount, stored.source) == (insured, D("4000.00"), "api")


def test_a_recorded_compensation_answers_with_the_stored_record(api, insured):
    body = compensation(insured, "C-9", reason="loss", amount="12.50")

    answer = api.post("/api/v1/compensations/", body, format="json")

    assert answer.status_code == 201
    stored = MarketplaceCompensation.objects.get()
    assert answer.json() == {
        **body,
        "id": stored.pk,
        "claim": None,
        "matched_at": None,
    }


def test_a_replayed_bulk_reads_no_row_per_item(api, insured, django_assert_max_num_queries):
    events = [event(insured, f"ev-{n}", kind="delivered", amount=None) for n in range(40)]
    compensations = [compensation(insured, f"C-{n}", amount="10.00") for n in range(40)]
    for path, items in (("shipment-events", events), ("compensations", compensations)):
        api.post(f"/api/v1/{path}/bulk/", {"items": items}, format="json")

        # Savepoints included; a query per item would be 40 more.
        with django_assert_max_num_queries(12):
            results = api.post(f"/api/v1/{path}/bulk/", {"items": items}, format="json").json()

        assert {r["status"] for r in results["results"]} == {"unchanged"}


def test_a_partial_bulk_keeps_the_valid_items_and_answers_in_order(api, insured):
    items = [
        event(insured, "ok-1", kind="shipped", amount=None),
        {"external_id": "bad", "shipment": insured.external_id, "kind": "nope"},
        event(insured, "ok-2", kind="delivered", amount=None),
        {**event(insured, "x", kind="shipped", amount=None), "shipment": "unknown"},
        event(insured, "ok-1", kind="shipped", amount=None),
    ]

    results = api.post("/api/v1/shipment-events/bulk/", {"items": items}, format="json").json()[
        "results"
    ]

    assert [r["status"] for r in results] == ["created", "error", "created", "error", "created"]
    assert results[0]["id"] == results[4]["id"]
    assert "kind" in results[1]["errors"]
    assert results[3]["errors"] == {"shipment": ["Unknown shipment."]}
    assert ShipmentEvent.objects.count() == 2


# claims opened by events


def test_a_non_buyout_opens_a_claim_that_is_paid_straight_through(
    api, insured, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post("/api/v1/shipment-events/", event(insured), format="json").json()

    claim = Claim.objects.get(number=answer["claim"])
    assert (claim.source, claim.status, claim.peril) == ("marketplace", "paid", "non_buyout")
    assert Payout.objects.get(claim=claim).amount == D("50.00")
    replay = api.post("/api/v1/shipment-events/", event(insured), format="json").json()
    assert replay["claim"] == claim.number
    assert Claim.objects.count() == 1


def test_a_lost_item_opens_a_claim_that_waits_for_compensation(
    api, insured, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(
            "/api/v1/shipment-events/", event(insured, kind="lost", amount=None), format="json"
        ).json()

    claim = Claim.objects.get(number=answer["claim"])
    assert claim.status == ClaimStatus.AWAITING_COMPENSATION
    assert claim.claimed_amount == insured.declared_value


def test_an_event_of_an_uninsured_shipment_opens_no_claim(api, key):
    seller = factories.SellerFactory(marketplace=key.marketplace)
    shipment = factories.ShipmentFactory(policy=None, seller=seller)

    answer = api.post("/api/v1/shipment-events/", event(shipment), format="json").json()

    assert "claim" not in answer
    assert not Claim.objects.exists()


# claims


def test_filing_a_claim_that_breaks_a_hard_rule_names_the_rule(api, insured):
    body = {
        "external_id": "K-1",
        "shipment": insured.external_id,
        "peril": "damage",
        "claimed_amount": "100.00",
        "event_date": (timezone.localdate() + dt.timedelta(days=3)).isoformat(),
    }

    body = error(api.post("/api/v1/claims/", body, format="json"), 400, "claim_not_eligible")

    assert body["fields"] == {"reason": ["event_in_future"]}


def test_a_filed_claim_reads_with_its_amounts_and_public_transitions(api, insured, adjuster):
    created = api.post(
        "/api/v1/claims/",
        {
            "external_id": "K-1",
            "shipment": insured.external_id,
            "peril": "damage",
            "claimed_amount": "12000.00",
            "event_date": (timezone.localdate() - dt.timedelta(days=3)).isoformat(),
        },
        format="json",
    )
    assert created.status_code == 201
    number = created.json()["number"]
    claim = Claim.objects.get(number=number)
    claim_triage(claim_id=claim.pk)
    claim_release(claim_id=claim.pk)
    claim_reject(claim_id=claim.pk, adjuster=adjuster, code="no_loss", reason="Цел.")
    claim.transitions.filter(transition="reject").update(internal_note="SECRET")

    body = api.get(f"/api/v1/claims/{number}/").json()

    assert body["status"] == "rejected"
    assert body["amounts"]["claimed"] == "12000.00"
    assert set(body["amounts"]) == {
        "claimed",
        "assessed",
        "compensation",
        "deductible",
        "payable",
        "paid",
        "recovered",
        "recovery_raised",
        "recovery_received",
        "seller_bore",
        "loss",
        "marketplace_paid",
        "insurer_paid",
        "to_pay",
        "limits",
        "unpaid",
        "owed_back",
        "no_payable_reason",
    }
    assert [t["to"] for t in body["transitions"]][-1] == "rejected"
    assert set(body["transitions"][0]) == {"from", "to", "at", "actor", "note"}
    assert "SECRET" not in json.dumps(body)
    assert not any(isinstance(v, float) for v in walk(body))


def test_a_claims_amounts_tell_the_recoveries_raised_from_those_received(api, insured):
    claim = factories.ClaimFactory(shipment=insured, status=ClaimStatus.PAID)
    factories.PayoutFactory(claim=claim, amount=D("7500.00"))
    factories.RecoveryFactory(claim=claim, amount=D("1000.00"))
    factories.RecoveryFactory(
        claim=claim,
        amount=D("2500.00"),
        status=RecoveryStatus.RECEIVED,
        received_on=timezone.localdate(),
    )

    read = api.get(f"/api/v1/claims/{claim.number}/").json()["amounts"]
    [listed] = api.get("/api/v1/claims/").json()["results"]

    # `recovered` keeps its first meaning: every recovery raised, received or not.
    assert {name: read[name] for name in ("recovered", "recovery_raised", "recovery_received")} == {
        "recovered": "3500.00",
        "recovery_raised": "3500.00",
        "recovery_received": "2500.00",
    }
    assert listed["amounts"] == read


def test_claims_list_filters_and_pages_with_a_cursor(api, insured):
    policy = insured.policy
    claims = [factories.ClaimFactory(shipment=insured)] + [
        factories.ClaimFactory(shipment=factories.ShipmentFactory(policy=policy)) for _ in range(4)
    ]
    factories.ClaimFactory(
        shipment=factories.ShipmentFactory(policy=policy), status=ClaimStatus.PAID
    )

    seen, url = [], "/api/v1/claims/?status=submitted&page_size=2"
    while url:
        page = api.get(url).json()
        seen += [c["number"] for c in page["results"]]
        url = page["next"]

    assert sorted(seen) == sorted(c.number for c in claims)
    since = (timezone.now() + dt.timedelta(minutes=1)).isoformat()
    assert api.get("/api/v1/claims/", {"updated_since": since}).json()["results"] == []
    other_seller = api.get("/api/v1/claims/", {"seller": "nobody"}).json()["results"]
    assert other_seller == []


def test_claims_list_costs_the_same_queries_for_many_claims(
    api, insured, django_assert_max_num_queries
):
    for _ in range(50):
        factories.ClaimFactory(shipment=factories.ShipmentFactory(policy=insured.policy))

    with django_assert_max_num_queries(8):
        response = api.get("/api/v1/claims/?page_size=100")

    assert len(response.json()["results"]) == 50


# webhooks


class Receiver(BaseHTTPRequestHandler):
    answer = 200
    received: list

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        self.send_response(self.answer)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    handler = type("Handler", (Receiver,), {"received": [], "answer": 200})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def hooked_claim(url):
    claim = factories.ClaimFactory()
    claim.marketplace.webhook_url = url
    claim.marketplace.webhook_secret = "s3cret"
    claim.marketplace.save()
    return claim


def test_a_transition_sends_a_signed_webhook(
    receiver, adjuster, django_capture_on_commit_callbacks
):
    handler, url = receiver
    claim = hooked_claim(url)

    with django_capture_on_commit_callbacks(execute=True):
        claim_start_review(claim_id=claim.pk, adjuster=adjuster)

    [(headers, body)] = handler.received
    payload = json.loads(body)
    assert payload["event"] == "claim.status_changed"
    assert (payload["claim"], payload["from"], payload["to"]) == (
        claim.number,
        "submitted",
        "under_review",
    )
    assert set(payload) == {"event", "claim", "from", "to", "payable", "at", "delivery"}
    signed = headers["X-Sellercover-Timestamp"].encode() + b"." + body
    expected = "sha256=" + hmac.new(b"s3cret", signed, hashlib.sha256).hexdigest()
    assert headers["X-Sellercover-Signature"] == expected
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.log.count()) == ("delivered", 1, 1)


def test_a_failing_endpoint_is_retried_later_and_never_blocks_the_transition(
    receiver, adjuster, django_capture_on_commit_callbacks
):
    handler, url = receiver
    handler.answer = 500
    claim = hooked_claim(url)

    with django_capture_on_commit_callbacks(execute=True):
        claim_start_review(claim_id=claim.pk, adjuster=adjuster)

    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.UNDER_REVIEW
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.next_attempt_at > timezone.now()
    assert delivery.log.get().status_code == 500

    handler.answer = 200
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    webhooks_retry_due_task()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)


def test_an_unreachable_endpoint_never_raises_into_the_transition(
    adjuster, django_capture_on_commit_callbacks
):
    claim = hooked_claim("http://127.0.0.1:9/hook")

    with django_capture_on_commit_callbacks(execute=True):
        claim_start_review(claim_id=claim.pk, adjuster=adjuster)

    attempt = WebhookDelivery.objects.get().log.get()
    assert attempt.status_code is None
    assert attempt.error


def test_backoff_doubles_and_is_capped():
    waits = [backoff(n).total_seconds() for n in range(1, 12)]

    assert waits[:3] == [30, 60, 120]
    assert max(waits) == 6 * 3600


# schema


def test_the_schema_lists_the_api_and_the_docs_load_nothing_from_outside(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    docs = client.get("/api/docs/").content.decode()

    assert schema["openapi"].startswith("3.")
    assert {"/api/v1/claims/", "/api/v1/shipment-events/bulk/"} <= set(schema["paths"])
    assert "http://" not in docs.replace("http://testserver", "")
    assert "https://" not in docs


def test_error_messages_follow_accept_language(key):
    client = APIClient(HTTP_AUTHORIZATION=f"Api-Key {key.raw_key}", HTTP_ACCEPT_LANGUAGE="ru")

    response = client.post(
        "/api/v1/shipment-events/",
        {
            "external_id": "e-1",
            "shipment": "srid-nowhere",
            "kind": "lost",
            "occurred_at": "2026-11-20T10:00:00+03:00",
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["fields"]["shipment"] == ["Неизвестное отправление."]


def test_an_impossible_time_is_a_400_naming_the_field(api):
    response = api.post(
        "/api/v1/shipments/bulk/",
        {"items": [{"external_id": "s-1", "shipped_at": "2024-01-01T12:99:00Z"}]},
        format="json",
    )

    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["status"] == "error"
    assert "shipped_at" in row["errors"]
