"""Outgoing webhooks: `claim.status_changed` to the claim's marketplace, signed and retried.

The body is signed with HMAC-SHA256 over "<timestamp>.<body>" with the
marketplace's secret, so a receiver can check both origin and freshness. Every attempt of
one delivery carries the delivery's id (header `X-Sellercover-Delivery` and the body's
`delivery`, so the signature covers it): a receiver drops the repeats by it. An attempt is
counted and recorded before its request goes out, so a worker that dies during the request
leaves the attempt on record and the next one goes out under the same id.
"""

import datetime as dt
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from claims.calculation import no_payable_reason
from claims.models import (
    Claim,
    WebhookAttempt,
    WebhookAttemptState,
    WebhookDelivery,
    WebhookStatus,
)
from claims.selectors import claim_paid
from claims.tasks import webhook_deliver_task, webhooks_retry_due_task
from policies.calculation import ZERO
from policies.models import Marketplace
from policies.outbox import outbox_enqueue

EVENT_STATUS_CHANGED = "claim.status_changed"
TIMEOUT_SECONDS = 5
MAX_ATTEMPTS = 10
USER_AGENT = "sellercover-webhooks/1"
LEASE = dt.timedelta(seconds=TIMEOUT_SECONDS + 55)


def backoff(attempts: int) -> dt.timedelta:
    """Return the wait before the next attempt: 30 s doubling, at most 6 hours."""
    return dt.timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 6 * 3600))


def sign(*, secret: str, timestamp: str, body: bytes) -> str:
    message = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def announced_payable(*, payable: Decimal, source: str, target: str, paid: Decimal) -> Decimal:
    """Return the payable a status change announces: none for a claim that shows none.

    The same rule as the seller's money line (`no_payable_reason`): a rejected, withdrawn
    or closed-unpaid claim keeps its stored payable for the record, but nothing is payable.
    A claim closed by this change was closed from `source`.
    """
    if no_payable_reason(status=target, closed_from=source, paid=paid):
        return ZERO
    return payable


def webhook_status_changed(*, claim: Claim, source: str, at: dt.datetime) -> WebhookDelivery | None:
    """Queue the notification of a claim's new status, sent after the transaction commits."""
    marketplace = claim.marketplace
    if not marketplace.webhook_url:
        return None
    payable = announced_payable(
        payable=claim.payable_amount,
        source=source,
        target=claim.status,
        paid=claim_paid(claim_id=claim.pk),
    )
    delivery = WebhookDelivery.objects.create(
        marketplace=marketplace,
        claim=claim,
        event=EVENT_STATUS_CHANGED,
        url=marketplace.webhook_url,
        next_attempt_at=at,
        payload={
            "event": EVENT_STATUS_CHANGED,
            "claim": claim.number,
            "from": source,
            "to": claim.status,
            "payable": str(payable),
            "at": at.isoformat(),
        },
    )
    outbox_enqueue(task=webhook_deliver_task, delivery_id=delivery.pk)
    return delivery


@dataclass(frozen=True)
class StatusChange:
    claim_id: int
    number: str
    payable: Decimal
    marketplace_id: int
    source: str
    target: str


def webhooks_status_changed_many(*, changes: list[StatusChange], at: dt.datetime) -> int:
    """Queue notifications for many claims' transitions at once.

    Used where claims move in bulk (filing, reconciliation): one query for the
    endpoints, one insert, and one task after the commit sends what is due.
    """
    endpoints = dict(
        Marketplace.objects.filter(pk__in={c.marketplace_id for c in changes})
        .exclude(webhook_url="")
        .values_list("pk", "webhook_url")
    )
    deliveries = [
        WebhookDelivery(
            marketplace_id=change.marketplace_id,
            claim_id=change.claim_id,
            event=EVENT_STATUS_CHANGED,
            url=endpoints[change.marketplace_id],
            next_attempt_at=at,
            payload={
                "event": EVENT_STATUS_CHANGED,
                "claim": change.number,
                "from": change.source,
                "to": change.target,
                # A claim moved in bulk (filed, or released from waiting) was never paid.
                "payable": str(
                    announced_payable(
                        payable=change.payable,
                        source=change.source,
                        target=change.target,
                        paid=ZERO,
                    )
                ),
                "at": at.isoformat(),
            },
        )
        for change in changes
        if change.marketplace_id in endpoints
    ]
    WebhookDelivery.objects.bulk_create(deliveries, batch_size=5000)
    if deliveries:
        outbox_enqueue(task=webhooks_retry_due_task)
    return len(deliveries)


def _post(*, url: str, body: bytes, headers: dict) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _lease(*, delivery_id: int, now: dt.datetime) -> tuple[WebhookDelivery, WebhookAttempt] | None:
    """Take a due pending delivery for one attempt and record the attempt, `sending`.

    Committed before the request goes out: the attempt is counted even if its worker
    dies during the request. The lease is a next-attempt time beyond the request's
    timeout, so no other worker sends it meanwhile and no row lock is held while the
    HTTP request runs.
    """
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .select_related("marketplace")
            .filter(pk=delivery_id, status=WebhookStatus.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None:
            return None
        # Still sending after its lease ran out: its worker died during the request.
        delivery.log.filter(state=WebhookAttemptState.SENDING).update(
            state=WebhookAttemptState.INTERRUPTED
        )
        if delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = WebhookStatus.FAILED
            delivery.next_attempt_at = None
            delivery.save(update_fields=["status", "next_attempt_at"])
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = now + LEASE
        delivery.save(update_fields=["attempts", "next_attempt_at"])
        attempt = WebhookAttempt.objects.create(delivery=delivery, at=now)
    return delivery, attempt


def _body(delivery: WebhookDelivery) -> bytes:
    """Return the body of every attempt at `delivery`: its payload and its id."""
    document = {**delivery.payload, "delivery": str(delivery.uid)}
    return json.dumps(document, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def webhook_attempt(*, delivery_id: int) -> WebhookDelivery:
    """Make one attempt at a due delivery and log it; schedule the next one on failure.

    A delivery not due (delivered, exhausted, waiting or being sent by another
    worker) is left alone, so repeating the task is harmless.
    """
    leased = _lease(delivery_id=delivery_id, now=timezone.now())
    if leased is None:
        return WebhookDelivery.objects.get(pk=delivery_id)
    delivery, attempt = leased
    body = _body(delivery)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Sellercover-Event": delivery.event,
        "X-Sellercover-Delivery": str(delivery.uid),
        "X-Sellercover-Timestamp": timestamp,
        "X-Sellercover-Signature": sign(
            secret=delivery.marketplace.webhook_secret, timestamp=timestamp, body=body
        ),
    }
    started = time.monotonic()
    status_code, error = None, ""
    try:
        status_code = _post(url=delivery.url, body=body, headers=headers)
    except (OSError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    if status_code is not None and not 200 <= status_code < 300:
        error = f"HTTP {status_code}"
    now = timezone.now()
    with transaction.atomic():
        attempt.state = WebhookAttemptState.FAILED if error else WebhookAttemptState.SUCCEEDED
        attempt.status_code = status_code
        attempt.error = error
        attempt.duration_ms = int((time.monotonic() - started) * 1000)
        attempt.save(update_fields=["state", "status_code", "error", "duration_ms"])
        if not error:
            delivery.status = WebhookStatus.DELIVERED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = WebhookStatus.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = now + backoff(delivery.attempts)
        delivery.save(update_fields=["status", "delivered_at", "next_attempt_at"])
    return delivery


def webhooks_due(*, now: dt.datetime) -> list[int]:
    """Return the ids of pending deliveries whose next attempt is due."""
    return list(
        WebhookDelivery.objects.filter(
            status=WebhookStatus.PENDING, next_attempt_at__lte=now
        ).values_list("pk", flat=True)[:1000]
    )
