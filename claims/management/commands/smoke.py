"""Smoke: the running stack (`make up`) driven end to end over HTTP; fails on the first step
that does not come out as it should.

In the stack's database (the same DATABASE_URL and CELERY_BROKER_URL as the stack) it makes
what only the insurer's staff make: a marketplace with its API key and a webhook endpoint
that this command serves itself, a tariff, and a login for the seller the API enrols. Then,
as the marketplace and the seller would: enrols the seller (API), records three shipments,
pushes events (a non-buyout, paid straight through, and a lost parcel, which waits for the
marketplace's compensation), imports a finance report (`POST /api/v1/reports/`), records the
compensation and reconciles (a run on the reconciliation worker), waits until every claim is
paid, signs the seller in and downloads the claim's documents, checks that each status
change arrived as a signed webhook, and reads /healthz, /readyz and /metrics (with the
stack's METRICS_TOKEN if it has one).
"""

import datetime as dt
import http.client
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from claims.management.tariff import demo_tariff
from claims.outputs.webhooks import sign
from claims.reconciliation.run import reconciliation_request
from policies.models import (
    Marketplace,
    MarketplaceApiKey,
    Product,
    Seller,
    User,
)
from policies.services import marketplace_webhook_secret_rotate

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
DOCUMENT_LINK = re.compile(r'href="(/documents/\d+/)"')
# What each probe's answer must hold (config/probes.py).
PROBES = {
    "/healthz": '"status": "ok"',
    "/readyz": '"status": "ok"',
    "/metrics": "sellercover_claims",
}


class Site:
    """HTTP to the stack, keeping its cookies by hand: with DEBUG off they are marked
    Secure, which the standard library's cookie jar withholds from plain HTTP."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, *, body=None, headers=None, form=None):
        headers = dict(headers or {})
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None and not isinstance(body, bytes | str):
            body = json.dumps(body)
            headers["Content-Type"] = "application/json"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            content = response.read()
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response.status, response.headers, content


class WebhookReceiver:
    """The marketplace's endpoint: answers 200 and keeps each delivery's headers and body."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, bytes]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append((dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Command(BaseCommand):
    help = "Drive the running stack (make up) end to end over HTTP: enrol, events, report, pay."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="the stack's web")
        parser.add_argument(
            "--timeout", type=float, default=180, help="seconds to wait for the workers"
        )

    def handle(self, *args, url, timeout, **options):
        self.site, self.timeout = Site(url), timeout
        receiver = WebhookReceiver()
        started = time.monotonic()
        try:
            self._smoke(receiver)
        finally:
            receiver.stop()
        self.stdout.write(self.style.SUCCESS(f"smoke passed in {time.monotonic() - started:.0f} s"))

    def _smoke(self, receiver: WebhookReceiver) -> None:
        seeded = self._seed(receiver.url)
        code, api = seeded["code"], {"Authorization": f"Api-Key {seeded['key']}"}
        today = timezone.localdate()
        self._step("web answers", lambda: self._api("GET", "/api/v1/claims/", api, expect=200))

        seller = f"{code}-seller"
        self._api(
            "POST",
            "/api/v1/sellers/",
            api,
            {
                "external_id": seller,
                "legal_name": "ООО «Проверка»",
                "tax_id": "7708123450",
                "email": seeded["email"],
            },
            expect=201,
        )
        policy = self._api(
            "POST",
            "/api/v1/policies/",
            api,
            {
                "external_id": f"{code}-policy",
                "seller": seller,
                "product": code,
                "starts_on": (today - dt.timedelta(days=7)).isoformat(),
            },
            expect=201,
        )
        self._done(f"enrolled seller {seller}: policy {policy['number']}, {policy['status']}")
        self._login(code=code, seller=seller, email=seeded["email"], password=seeded["password"])

        shipped = (timezone.now() - dt.timedelta(days=3)).isoformat()
        shipments = [f"{code}-{name}" for name in ("returned", "lost", "reported")]
        answer = self._api(
            "POST",
            "/api/v1/shipments/bulk/",
            api,
            {
                "items": [
                    {
                        "external_id": shipment,
                        "seller": seller,
                        "order_id": f"{shipment}-order",
                        "sku": "SKU-1",
                        "declared_value": "3000.00",
                        "shipped_at": shipped,
                    }
                    for shipment in shipments
                ]
            },
            expect=200,
        )
        if not all(item["status"] == "created" for item in answer["results"]):
            raise CommandError(f"shipments not recorded: {answer['results']}")
        occurred = (timezone.now() - dt.timedelta(days=1)).isoformat()
        events = self._api(
            "POST",
            "/api/v1/shipment-events/bulk/",
            api,
            {
                "items": [
                    {
                        "external_id": f"{code}-ev-1",
                        "shipment": shipments[0],
                        "kind": "non_buyout",
                        "occurred_at": occurred,
                        "amount": "50.00",
                    },
                    {
                        "external_id": f"{code}-ev-2",
                        "shipment": shipments[1],
                        "kind": "lost",
                        "occurred_at": occurred,
                    },
                ]
            },
            expect=200,
        )["results"]
        claims = [item.get("claim") for item in events]
        if not all(claims):
            raise CommandError(f"the events opened no claims: {events}")
        self._done(f"pushed 3 shipments and 2 events: claims {', '.join(claims)}")

        report = self._api(
            "POST",
            "/api/v1/reports/",
            api,
            {
                "external_id": f"{code}-report",
                "seller": seller,
                "report": [
                    {
                        "rrd_id": 1,
                        "srid": shipments[2],
                        "doc_type_name": "Продажа",
                        "supplier_oper_name": "Логистика",
                        "bonus_type_name": "От клиента при отмене",
                        "quantity": 0,
                        "delivery_amount": 0,
                        "return_amount": 1,
                        "delivery_rub": 60.00,
                        "rr_dt": (today - dt.timedelta(days=1)).isoformat(),
                    }
                ],
            },
            expect=201,
        )
        if report["outcomes"]["claim_opened"] != 1:
            raise CommandError(f"the report opened no claim: {report['outcomes']}")
        claims += report["claims"]
        self._done(f"imported report #{report['id']}: claim {report['claims'][0]}")

        self._wait(
            f"claim {claims[1]} waits for compensation",
            lambda: self._claim(api, claims[1])["status"] == "awaiting_compensation",
        )
        self._api(
            "POST",
            "/api/v1/compensations/",
            api,
            {
                "external_id": f"{code}-comp",
                "seller": seller,
                "shipment": shipments[1],
                "reason": "loss",
                "amount": "1000.00",
                "paid_on": today.isoformat(),
            },
            expect=201,
        )
        run = reconciliation_request(trigger="smoke")
        self._wait(f"reconciliation run #{run.pk} done", lambda: self._run_done(run))
        for number in claims:
            self._wait(f"claim {number} paid", lambda n=number: self._paid(api, n))

        # The acknowledgement and the settlement act, made on the documents worker.
        links: list[str] = []

        def listed() -> bool:
            links[:] = self._document_links(claims[1])
            return len(links) >= 2

        self._wait(f"the seller's page of {claims[1]} lists its two documents", listed)
        self._download(links)
        self._wait(
            "every status change arrived as a signed webhook",
            lambda: self._webhooks(receiver, seeded["secret"], claims),
        )
        for path, expected in PROBES.items():
            self._probe(path, expected)

    # Seeding: what only the insurer's staff make.

    def _seed(self, webhook_url: str) -> dict:
        code = f"smoke{secrets.token_hex(3)}"
        password = secrets.token_urlsafe(12)
        with transaction.atomic():
            marketplace = Marketplace.objects.create(
                code=code, name=f"Smoke {code}", webhook_url=webhook_url
            )
            secret = marketplace_webhook_secret_rotate(marketplace=marketplace)
            _, key = MarketplaceApiKey.objects.create_key(marketplace=marketplace, name="smoke")
            product = Product.objects.create(code=code, name=f"Проверка {code}")
            demo_tariff(product, aggregate_limit=Decimal("100000.00"), effective_days_ago=30)
        self._done(f"seeded marketplace {code}, its API key, webhook endpoint and tariff")
        return {
            "code": code,
            "key": key,
            "secret": secret,
            "email": f"{code}@smoke.local",
            "password": password,
        }

    def _login(self, *, code: str, seller: str, email: str, password: str) -> None:
        """Give the seller the API enrolled a login, and sign it in on the seller pages."""
        User.objects.create(
            email=email,
            password=make_password(password),
            seller=Seller.objects.get(external_id=seller, marketplace__code=code),
        )
        status, _, page = self.site.request("GET", "/accounts/login/")
        token = CSRF_FIELD.search(page.decode())
        if status != 200 or token is None:
            raise CommandError(f"the sign-in page answered {status} without its form")
        status, _, _ = self.site.request(
            "POST",
            "/accounts/login/",
            form={"username": email, "password": password, "csrfmiddlewaretoken": token[1]},
        )
        if status != 302 or "sessionid" not in self.site.cookies:
            raise CommandError(f"the seller's sign-in answered {status}, not a redirect")
        self._done(f"signed in as {email}")

    # Steps

    def _api(self, method: str, path: str, headers: dict, body=None, *, expect: int):
        status, _, content = self.site.request(method, path, body=body, headers=headers)
        if status != expect:
            raise CommandError(f"{method} {path} answered {status}, not {expect}: {content[:500]}")
        return json.loads(content)

    def _claim(self, api: dict, number: str) -> dict:
        return self._api("GET", f"/api/v1/claims/{number}/", api, expect=200)

    def _paid(self, api: dict, number: str) -> bool:
        status = self._claim(api, number)["status"]
        if status not in ("submitted", "awaiting_compensation", "approved", "paid"):
            raise CommandError(f"claim {number} went to {status}, not towards paid")
        return status == "paid"

    def _run_done(self, run) -> bool:
        run.refresh_from_db()
        if run.state == "failed":
            raise CommandError(f"reconciliation run #{run.pk} failed: {run.error}")
        return run.state == "done"

    def _document_links(self, number: str) -> list[str]:
        status, _, page = self.site.request("GET", f"/claims/{number}/")
        if status != 200:
            raise CommandError(f"the seller's page of claim {number} answered {status}")
        return DOCUMENT_LINK.findall(page.decode())

    def _download(self, links: list[str]) -> None:
        for link in links:
            status, headers, content = self.site.request("GET", link)
            if status != 200 or not content.startswith(b"%PDF"):
                raise CommandError(f"{link} answered {status} {headers.get('Content-Type')}")
        self._done(f"downloaded {len(links)} PDFs: {', '.join(links)}")

    def _webhooks(self, receiver: WebhookReceiver, secret: str, claims: list[str]) -> bool:
        announced = set()
        for headers, body in receiver.received:
            signature = sign(secret=secret, timestamp=headers["X-Sellercover-Timestamp"], body=body)
            if headers["X-Sellercover-Signature"] != signature:
                raise CommandError(f"a webhook arrived with a wrong signature: {body[:200]}")
            data = json.loads(body)
            announced.add((data["claim"], data["to"]))
        return all((number, "paid") in announced for number in claims)

    def _probe(self, path: str, expected: str) -> None:
        # The stack's own METRICS_TOKEN, when it has one (`make up` allows 127.0.0.1).
        token = (
            {"Authorization": f"Bearer {settings.METRICS_TOKEN}"} if settings.METRICS_TOKEN else {}
        )
        status, _, content = self.site.request("GET", path, headers=token)
        if status != 200 or expected not in content.decode():
            raise CommandError(f"{path} answered {status}: {content[:300]}")
        self._done(f"{path} answered 200")

    def _step(self, name: str, check: Callable) -> None:
        check()
        self._done(name)

    def _wait(self, name: str, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.timeout
        started = time.monotonic()
        while not condition():
            if time.monotonic() > deadline:
                raise CommandError(f"not within {self.timeout:.0f} s: {name}")
            time.sleep(0.5)
        self._done(f"{name} ({time.monotonic() - started:.1f} s)")

    def _done(self, what: str) -> None:
        self.stdout.write(f"  ok  {what}")
