"""Overlapping bulks sent at once to gunicorn on PostgreSQL: a race is answered per item as
its replay is (created once, unchanged everywhere else, an event's claim by its number),
never with a 5xx, and nothing is stored twice."""

import datetime as dt
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict

import pytest
from django.db import connection
from django.utils import timezone

from claims.models import Claim, ClaimTransition, MarketplaceCompensation
from claims.tasks import claims_triage_task
from policies.models import OutboxMessage, Policy, Seller, Shipment, ShipmentEvent
from tests import factories
from tests.workers import ROOT, database_url

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

CLIENTS = 4
ROUNDS = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server():
    """Gunicorn with as many workers as clients, on the test database; yields its port."""
    if connection.vendor != "postgresql":
        pytest.skip("races between server processes need PostgreSQL: runs in its pass")
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "config.wsgi"),
            *("--workers", str(CLIENTS), "--bind", f"127.0.0.1:{port}"),
            *("--timeout", "120", "--log-level", "warning"),
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": database_url(),
            "API_KEY_THROTTLE_RATE": "1000000/min",
            "LOG_LEVEL": "WARNING",
            # Follow-ups are published as in production, to a broker of the process's own
            # that nothing drains: the test counts them in the outbox.
            "CELERY_BROKER_URL": "memory://",
            "CELERY_TASK_ALWAYS_EAGER": "false",
        },
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = request(port, "", "GET", "/api/v1/claims/")
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.3)
        assert answer[0] in (401, 403)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def request(port: int, key: str, method: str, path: str, items=None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(
            method,
            path,
            body=None if items is None else json.dumps({"items": items}),
            headers={"Authorization": f"Api-Key {key}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    try:
        return response.status, json.loads(body)
    except ValueError:
        return response.status, {"raw": body[:300].decode(errors="replace")}


def overlapping(items: list[dict]) -> list[list[dict]]:
    """Cut the items into one bulk per client, each sharing half of its items with the next
    one's; every other bulk in reverse order, as no marketplace promises an order."""
    half = len(items) // (CLIENTS + 1)
    bulks = [items[c * half : c * half + 2 * half] for c in range(CLIENTS)]
    bulks[-1] = items[(CLIENTS - 1) * half :]
    return [bulk[::-1] if c % 2 else bulk for c, bulk in enumerate(bulks)]


def at_once(port: int, key: str, path: str, bulks: list[list[dict]]) -> list[tuple[int, dict]]:
    """Send the bulks from one thread each, released together; return the answers."""
    barrier = threading.Barrier(len(bulks))
    answers: list = [None] * len(bulks)

    def send(index: int) -> None:
        barrier.wait()
        try:
            answers[index] = request(port, key, "POST", path, bulks[index])
        except OSError as exc:
            answers[index] = (0, {"raw": repr(exc)})

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(bulks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def without_status(row: dict) -> dict:
    return {name: value for name, value in row.items() if name != "status"}


def race(port: int, key: str, path: str, items: list[dict]) -> dict[str, dict]:
    """Send the items as overlapping bulks at once, then all again; return what the replay
    answers per external id, having checked that the race was answered as that replay."""
    answers = at_once(port, key, path, overlapping(items))
    problems = [f"HTTP {status}: {body}" for status, body in answers if status != 200]
    assert not problems, f"{path}: " + "; ".join(problems)
    raced = defaultdict(list)
    for _, body in answers:
        for row in body["results"]:
            raced[row["external_id"]].append(row)

    status, body = request(port, key, "POST", path, items)
    assert status == 200, body
    replay = {row["external_id"]: row for row in body["results"]}
    assert set(replay) == set(raced) == {item["external_id"] for item in items}
    for external_id, rows in raced.items():
        statuses = Counter(row["status"] for row in rows)
        if statuses != Counter({"created": 1, "unchanged": len(rows) - 1}):
            problems.append(f"{external_id}: {dict(statuses)} {rows}")
        elif any(without_status(row) != without_status(replay[external_id]) for row in rows):
            problems.append(f"{external_id}: raced {rows}, replayed {replay[external_id]}")
        if replay[external_id]["status"] != "unchanged":
            problems.append(f"{external_id}: replayed {replay[external_id]}")
    assert not problems, f"{path}: {len(problems)} items answered otherwise: " + "; ".join(
        problems[:5]
    )
    return replay


def round_items(round_: int, product: str) -> dict[str, list[dict]]:
    """Return one round's bulks: sellers, their policies, shipments (a fifth lost, a fifth
    damaged, a fifth not bought out, a fifth claimed by the marketplace), compensations
    and events."""
    tag, now, today = f"r{round_}", timezone.now(), timezone.localdate()
    sellers = [
        {
            "external_id": f"{tag}-seller-{n}",
            "legal_name": f"ООО «Гонка {tag} {n}»",
            "tax_id": factories.valid_inn(9_000_000 + 1000 * round_ + n),
            "email": f"race-{tag}-{n}@example.com",
            "language": "ru",
        }
        for n in range(50)
    ]
    policies = [
        {
            "external_id": f"{tag}-policy-{n}",
            "seller": seller["external_id"],
            "product": product,
            "starts_on": (today - dt.timedelta(days=30)).isoformat(),
        }
        for n, seller in enumerate(sellers)
    ]
    shipments, events, again, compensations, claims = [], [], [], [], []
    for n in range(250):
        shipment = f"{tag}-item-{n}"
        shipments.append(
            {
                "external_id": shipment,
                "seller": sellers[n % len(sellers)]["external_id"],
                "order_id": f"{tag}-order-{n // 2}",
                "sku": f"SKU-{n}",
                "category": "Одежда",
                "declared_value": "12000.00",
                "warehouse": "Коледино",
                "pickup_point": "ПВЗ Москва",
                "fulfilment": "marketplace",
                "shipped_at": (now - dt.timedelta(days=6)).isoformat(),
            }
        )
        fate = ("lost", "damaged", "non_buyout", "claimed", "bought_out")[n % 5]
        steps = [("shipped", 6, None), ("delivered", 3, None)]
        if fate != "claimed":
            steps.append((fate, 1, {"damaged": "4000.00", "non_buyout": "120.00"}.get(fate)))
        for kind, days_ago, amount in steps:
            event = {
                "external_id": f"{shipment}-{kind}",
                "shipment": shipment,
                "kind": kind,
                "occurred_at": (now - dt.timedelta(days=days_ago)).isoformat(),
            }
            if amount is not None:
                event["amount"] = amount
            events.append(event)
        if fate == "lost":
            # The marketplace reports the loss twice under two ids, far apart: the second
            # answers the first's claim, whichever bulk files it.
            again.append(
                {
                    **events[-1],
                    "external_id": f"{shipment}-lost-again",
                    "occurred_at": now.isoformat(),
                }
            )
        if fate in ("lost", "damaged"):
            compensations.append(
                {
                    "external_id": f"{shipment}-paid",
                    "seller": shipments[-1]["seller"],
                    "shipment": shipment,
                    "reason": "loss" if fate == "lost" else "damage",
                    "amount": "1500.00",
                    "paid_on": today.isoformat(),
                }
            )
        if fate == "claimed":
            claims.append(
                {
                    "external_id": f"{shipment}-claim",
                    "shipment": shipment,
                    "peril": "damage",
                    "claimed_amount": "3000.00",
                    "event_date": (today - dt.timedelta(days=2)).isoformat(),
                }
            )
    return {
        "sellers": sellers,
        "policies": policies,
        "shipments": shipments,
        "compensations": compensations,
        "shipment-events": events + again,
        "claims": claims,
    }


def test_overlapping_bulks_at_once_are_answered_as_their_replays(server):
    key = factories.MarketplaceApiKeyFactory()
    product = factories.ProductVersionFactory().product.code
    for round_ in range(ROUNDS):
        tag = f"r{round_}"
        bulks = round_items(round_, product)
        answers = {
            name: race(server, key.raw_key, f"/api/v1/{name}/bulk/", items)
            for name, items in bulks.items()
        }

        errors = [
            row
            for rows in answers.values()
            for row in rows.values()
            if row.get("claim_error") or row["status"] == "error"
        ]
        assert not errors, errors[:5]
        claims = {
            claim.shipment.external_id: claim
            for claim in Claim.objects.filter(shipment__external_id__startswith=f"{tag}-")
            .select_related("shipment")
            .prefetch_related("compensations")
        }
        for event in bulks["shipment-events"]:
            answer = answers["shipment-events"][event["external_id"]]
            if event["kind"] in ("lost", "damaged", "non_buyout"):
                assert answer["claim"] == claims[event["shipment"]].number, answer
            else:
                assert "claim" not in answer, answer
        for item in bulks["claims"]:
            assert answers["claims"][item["external_id"]]["number"] == (
                claims[item["shipment"]].number
            )

        mine = {"marketplace": key.marketplace, "external_id__startswith": f"{tag}-"}
        assert Seller.objects.filter(**mine).count() == len(bulks["sellers"])
        assert Policy.objects.filter(**mine).count() == len(bulks["policies"])
        assert Shipment.objects.filter(**mine).count() == len(bulks["shipments"])
        assert ShipmentEvent.objects.filter(**mine).count() == len(bulks["shipment-events"])
        assert MarketplaceCompensation.objects.filter(**mine).count() == len(bulks["compensations"])
        assert len(claims) == 4 * len(bulks["shipments"]) // 5
        for claim in claims.values():
            counted = sum(record.amount for record in claim.compensations.all())
            assert claim.compensation_amount == counted, claim.number
        logs = Counter(
            ClaimTransition.objects.filter(claim__in=claims.values()).values_list(
                "claim_id", "transition"
            )
        )
        assert set(logs.values()) == {1}
        assert len(logs) == 2 * len(claims)

    triaged = Counter(
        claim_id
        for kwargs in OutboxMessage.objects.filter(task=claims_triage_task.name).values_list(
            "kwargs", flat=True
        )
        for claim_id in kwargs["claim_ids"]
    )
    assert set(triaged.values()) == {1}
    assert len(triaged) == Claim.objects.count()


def race_other_content(port: int, key: str, path: str, bulks: list[list[dict]]) -> None:
    """Send bulks with the same ids but other content at once, then each again: per id one
    bulk's item is created, the other's is a conflict, and each answers as its replay."""
    answers = at_once(port, key, path, [bulks[0], bulks[1][::-1]])
    problems = [f"HTTP {status}: {body}" for status, body in answers if status != 200]
    assert not problems, f"{path}: " + "; ".join(problems)
    replays = []
    for bulk in bulks:
        status, body = request(port, key, "POST", path, bulk)
        assert status == 200, body
        replays.append({row["external_id"]: row for row in body["results"]})
    for item in bulks[0]:
        external_id = item["external_id"]
        raced = [
            next(row for row in body["results"] if row["external_id"] == external_id)
            for _, body in answers
        ]
        if sorted(row["status"] for row in raced) != ["created", "error"]:
            problems.append(f"{external_id}: {raced}")
            continue
        for row, replay in zip(raced, replays, strict=True):
            replayed = replay[external_id]
            expected = "unchanged" if row["status"] == "created" else "error"
            if replayed["status"] != expected or without_status(row) != without_status(replayed):
                problems.append(f"{external_id}: raced {row}, replayed {replayed}")
        if any(row["status"] == "error" and row["code"] != "conflict" for row in raced):
            problems.append(f"{external_id}: {raced}")
    assert not problems, f"{path}: {len(problems)} items answered otherwise: " + "; ".join(
        problems[:5]
    )


def test_the_same_ids_with_other_content_at_once_are_answered_as_their_replays(server):
    key = factories.MarketplaceApiKeyFactory()
    product = factories.ProductVersionFactory().product.code
    setup = round_items(9, product)
    for name in ("sellers", "policies", "shipments"):
        status, body = request(server, key.raw_key, "POST", f"/api/v1/{name}/bulk/", setup[name])
        assert status == 200 and {row["status"] for row in body["results"]} == {"created"}
    shipments, half = setup["shipments"], len(setup["shipments"]) // 2
    occurred = (timezone.now() - dt.timedelta(days=1)).isoformat()
    today = timezone.localdate()

    def other(items: list[dict], **changes) -> list[dict]:
        return [
            {**item, **{name: change(n) for name, change in changes.items()}}
            for n, item in enumerate(items)
        ]

    events = [
        {
            "external_id": f"x-ev-{n}",
            "shipment": s["external_id"],
            "kind": "delivered",
            "occurred_at": occurred,
        }
        for n, s in enumerate(shipments[:half])
    ]
    compensations = [
        {
            "external_id": f"x-paid-{n}",
            "seller": s["seller"],
            "shipment": s["external_id"],
            "reason": "damage",
            "amount": "700.00",
            "paid_on": today.isoformat(),
        }
        for n, s in enumerate(shipments[:half])
    ]
    claims = [
        {
            "external_id": f"x-claim-{n}",
            "shipment": s["external_id"],
            "peril": "damage",
            "claimed_amount": "3000.00",
            "event_date": (today - dt.timedelta(days=2)).isoformat(),
        }
        for n, s in enumerate(shipments[:half])
    ]

    def elsewhere(n: int) -> str:
        return shipments[half + n]["external_id"]

    fresh = other(shipments, external_id=lambda n: f"x-item-{n}")
    cases = {
        "shipments": [fresh, other(fresh, declared_value=lambda n: "13000.00")],
        "shipment-events": [events, other(events, shipment=elsewhere)],
        "compensations": [compensations, other(compensations, amount=lambda n: "800.00")],
        "claims": [claims, other(claims, shipment=elsewhere)],
    }
    for name, bulks in cases.items():
        race_other_content(server, key.raw_key, f"/api/v1/{name}/bulk/", bulks)
