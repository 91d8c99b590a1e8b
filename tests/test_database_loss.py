"""PostgreSQL lost mid-request, through a real TCP proxy a test breaks: every request is
answered 503 with Retry-After (the API's JSON error body, an HTML page for the seller
pages), nothing of a batch is kept half, its replay is right, and a COMMIT whose reply is
lost still delivers every follow-up through the outbox."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from claims.models import Claim
from policies import outbox
from policies.choices import OutboxStatus
from policies.models import OutboxMessage, ShipmentEvent
from tests import factories
from tests.tcp_proxy import DatabaseProxy

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

BULK = "/api/v1/shipment-events/bulk/"


@pytest.fixture
def proxy():
    """Send this process's database connection through a proxy the test can break."""
    if connection.vendor != "postgresql":
        pytest.skip("drills a PostgreSQL connection; runs in CI's PostgreSQL pass")
    settings = connection.settings_dict
    saved = settings["HOST"], settings["PORT"], dict(settings.get("OPTIONS", {}))
    broken = DatabaseProxy((settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432)))
    connection.close()
    # In clear, so the proxy can tell one statement from another.
    settings["HOST"], settings["PORT"] = "127.0.0.1", str(broken.port)
    settings["OPTIONS"] = {**saved[2], "sslmode": "disable"}
    yield broken
    broken.refuse()
    connection.close()
    settings["HOST"], settings["PORT"], settings["OPTIONS"] = saved


def events(shipments, occurred: dt.datetime) -> dict:
    return {
        "items": [
            {
                "external_id": f"ev-{n}",
                "shipment": shipment.external_id,
                "kind": "non_buyout",
                "occurred_at": occurred.isoformat(),
                "amount": "50.00",
            }
            for n, shipment in enumerate(shipments)
        ]
    }


@pytest.fixture
def marketplace_api():
    key = factories.MarketplaceApiKeyFactory()
    shipments = [
        factories.ShipmentFactory(policy__seller__marketplace=key.marketplace) for _ in range(5)
    ]
    client = APIClient(HTTP_AUTHORIZATION=f"Api-Key {key.raw_key}", HTTP_ACCEPT_LANGUAGE="en")
    # Answered as a server answers, by the project's handler, not raised into the test.
    client.raise_request_exception = False
    batch = events(shipments, timezone.now() - dt.timedelta(days=1))
    return client, batch


def assert_unavailable_json(response) -> None:
    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json")
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert "try again" in body["message"].lower()


def reconnect_directly(proxy: DatabaseProxy) -> None:
    """The database is back: this process talks to it without the broken proxy."""
    proxy.refuse()
    connection.close()
    settings = connection.settings_dict
    settings["PORT"] = str(proxy.upstream[1])


def test_a_bulk_that_loses_the_database_midway_is_answered_503_and_keeps_nothing(
    proxy, marketplace_api
):
    client, batch = marketplace_api
    proxy.cut_at(b'INSERT INTO "policies_shipmentevent"')

    response = client.post(BULK, batch, format="json")

    assert proxy.tripped.is_set()
    assert_unavailable_json(response)
    reconnect_directly(proxy)
    assert not ShipmentEvent.objects.exists()
    # The replay, once the database is back, stores the whole batch once.
    replay = client.post(BULK, batch, format="json")
    assert replay.status_code == 200
    assert [item["status"] for item in replay.json()["results"]] == ["created"] * 5
    assert ShipmentEvent.objects.count() == 5


def test_a_request_while_the_database_refuses_connections_is_answered_503(proxy, marketplace_api):
    client, batch = marketplace_api
    proxy.refuse()

    assert_unavailable_json(client.post(BULK, batch, format="json"))
    assert_unavailable_json(client.get("/api/v1/claims/"))


def test_a_seller_page_without_its_database_is_an_html_503(proxy, client):
    user = factories.SellerUserFactory()
    client.force_login(user)
    client.raise_request_exception = False
    proxy.refuse()

    response = client.get("/", HTTP_ACCEPT_LANGUAGE="ru")

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert int(response["Retry-After"]) > 0
    assert "временно недоступ" in response.content.decode()


def test_a_commit_whose_reply_is_lost_still_delivers_every_follow_up(
    proxy, marketplace_api, monkeypatch
):
    client, batch = marketplace_api
    published = []
    monkeypatch.setattr(outbox, "outbox_dispatch", lambda *, ids: published.extend(ids) or len(ids))
    proxy.lose_reply_to(b"COMMIT")

    response = client.post(BULK, batch, format="json")

    assert proxy.tripped.is_set()
    assert_unavailable_json(response)
    reconnect_directly(proxy)
    # The server committed: the batch and its follow-ups are stored, nothing was published.
    assert ShipmentEvent.objects.count() == 5
    assert Claim.objects.count() == 5
    waiting = set(
        OutboxMessage.objects.filter(status=OutboxStatus.PENDING).values_list("pk", flat=True)
    )
    assert waiting and not published
    # The client's replay is answered as a replay; the sweep sends every follow-up.
    replay = client.post(BULK, batch, format="json")
    assert [item["status"] for item in replay.json()["results"]] == ["unchanged"] * 5
    outbox.outbox_sweep(now=timezone.now() + dt.timedelta(minutes=5))
    assert waiting <= set(published)
