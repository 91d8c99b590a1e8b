"""Webhooks exactly once for the receiver: one stable, signed delivery id on every attempt,
and each attempt on record before its request goes out."""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from claims.models import WebhookAttemptState, WebhookDelivery, WebhookStatus
from claims.outputs import webhooks
from claims.outputs.webhooks import MAX_ATTEMPTS, webhook_attempt
from claims.tasks import webhooks_retry_due_task
from policies.models import Marketplace
from tests import factories

# The receiver reads the database from its own thread: the rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


class Receiver(BaseHTTPRequestHandler):
    """Records each request, with what the database said about its delivery meanwhile."""

    answers: list
    received: list
    delay = 0.0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            delivery = WebhookDelivery.objects.filter(
                uid=self.headers.get("X-Sellercover-Delivery")
            ).first()
            seen = (
                (delivery.attempts, list(delivery.log.values_list("state", flat=True)))
                if delivery
                else None
            )
        finally:
            connection.close()
        self.received.append((dict(self.headers), body, seen))
        time.sleep(self.delay)
        self.send_response(self.answers.pop(0) if self.answers else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    handler = type("Handler", (Receiver,), {"received": [], "answers": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


def delivery_to(url: str) -> WebhookDelivery:
    delivery = factories.WebhookDeliveryFactory(url=url)
    Marketplace.objects.filter(pk=delivery.marketplace_id).update(
        webhook_url=url, webhook_secret="s3cret"
    )
    return delivery


def due_again(delivery: WebhookDelivery) -> None:
    """Bring the next attempt forward, as the clock passing its backoff or lease would."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


class _WorkerDied(BaseException):
    """The worker's process ending in the middle of the request."""


def test_every_attempt_of_a_delivery_carries_its_one_signed_id(receiver):
    handler, url = receiver
    handler.answers = [500]
    delivery = delivery_to(url)

    webhook_attempt(delivery_id=delivery.pk)
    due_again(delivery)
    webhook_attempt(delivery_id=delivery.pk)

    first, retry = handler.received
    ids = [headers["X-Sellercover-Delivery"] for headers, _body, _seen in (first, retry)]
    assert ids == [str(delivery.uid)] * 2
    for headers, body, _seen in (first, retry):
        assert json.loads(body)["delivery"] == str(delivery.uid)
        signed = headers["X-Sellercover-Timestamp"].encode() + b"." + body
        expected = "sha256=" + hmac.new(b"s3cret", signed, hashlib.sha256).hexdigest()
        assert headers["X-Sellercover-Signature"] == expected
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (WebhookStatus.DELIVERED, 2)


def test_two_deliveries_carry_different_ids(receiver):
    handler, url = receiver
    one, other = delivery_to(url), delivery_to(url)

    webhook_attempt(delivery_id=one.pk)
    webhook_attempt(delivery_id=other.pk)

    ids = {headers["X-Sellercover-Delivery"] for headers, _body, _seen in handler.received}
    assert ids == {str(one.uid), str(other.uid)}


def test_the_attempt_is_counted_and_recorded_before_its_request_goes_out(receiver):
    handler, url = receiver
    handler.answers = [503]
    delivery = delivery_to(url)

    webhook_attempt(delivery_id=delivery.pk)
    due_again(delivery)
    webhook_attempt(delivery_id=delivery.pk)

    seen = [seen for _headers, _body, seen in handler.received]
    assert seen == [
        (1, [WebhookAttemptState.SENDING]),
        (2, [WebhookAttemptState.FAILED, WebhookAttemptState.SENDING]),
    ]
    assert list(delivery.log.values_list("state", "status_code")) == [
        (WebhookAttemptState.FAILED, 503),
        (WebhookAttemptState.SUCCEEDED, 200),
    ]


def test_an_attempt_whose_worker_died_mid_send_is_counted_and_retried_under_the_same_id(
    receiver, monkeypatch
):
    handler, url = receiver
    delivery = delivery_to(url)
    real_post = webhooks._post

    def dies_after_sending(**request):
        real_post(**request)
        raise _WorkerDied

    monkeypatch.setattr(webhooks, "_post", dies_after_sending)
    with pytest.raises(_WorkerDied):
        webhook_attempt(delivery_id=delivery.pk)
    monkeypatch.setattr(webhooks, "_post", real_post)
    delivery.refresh_from_db()
    assert delivery.attempts == 1
    assert list(delivery.log.values_list("state", flat=True)) == [WebhookAttemptState.SENDING]

    due_again(delivery)  # its lease ran out
    webhooks_retry_due_task()

    ids = [headers["X-Sellercover-Delivery"] for headers, _body, _seen in handler.received]
    assert ids == [str(delivery.uid)] * 2
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (WebhookStatus.DELIVERED, 2)
    assert list(delivery.log.values_list("state", flat=True)) == [
        WebhookAttemptState.INTERRUPTED,
        WebhookAttemptState.SUCCEEDED,
    ]


def test_a_delivery_whose_last_allowed_attempt_died_fails_without_another_request(receiver):
    handler, url = receiver
    delivery = delivery_to(url)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=MAX_ATTEMPTS)
    factories.WebhookAttemptFactory(
        delivery=delivery, state=WebhookAttemptState.SENDING, status_code=None, error=""
    )

    webhook_attempt(delivery_id=delivery.pk)

    assert handler.received == []
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (WebhookStatus.FAILED, MAX_ATTEMPTS)
    assert delivery.log.get().state == WebhookAttemptState.INTERRUPTED


@override_settings(LONG_TASK_SLICE_SECONDS=0.5)
def test_the_retry_task_stops_after_its_slice_and_leaves_the_rest_due(receiver):
    handler, url = receiver
    handler.delay = 0.3
    deliveries = [delivery_to(url) for _ in range(6)]

    attempted = webhooks_retry_due_task()

    assert 1 <= attempted < len(deliveries)
    assert len(handler.received) == attempted
    still_due = WebhookDelivery.objects.filter(
        status=WebhookStatus.PENDING, next_attempt_at__lte=timezone.now()
    )
    assert still_due.count() == len(deliveries) - attempted
