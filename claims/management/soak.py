"""The soak's load: the site's clients, each in a process of its own, driving it over HTTP.

A marketplace integration pushes shipments, their events (which open claims) and
compensations in bulks, replaying half of each bulk in the next one and sending a third of
its bulks as two overlapping halves at once; a seller signs in, reads its pages, files claims
on its shipments and answers the adjuster's questions; an adjuster works the claims desk in
the admin (review, approve and pay, ask, reject) and starts reconciliation runs.

Only the standard library here: the processes are started by `spawn` and run no Django.
Each returns its tally (statuses, latencies, per-item outcomes by kind of request) when its
deadline passes.
"""

import datetime as dt
import http.client
import json
import random
import re
import socket
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode

BULK_SHIPMENTS = 45
ITEMS_PER_ORDER = 3
# What becomes of an order's items: most are bought out; the rest open claims.
FATES = [
    ("bought_out", 0.95),
    ("non_buyout", 0.03),
    ("refused", 0.004),
    ("returned", 0.004),
    ("damaged", 0.007),
    ("lost", 0.005),
]
CARGO = ("damaged", "lost")
# In the product's excluded categories: such claims are flagged for an adjuster.
EXCLUDED_CATEGORY = "Ювелирные изделия"
CLAIM_LINK = re.compile(r'/claims/(CL-[0-9A-Z-]+)/"')
ADMIN_CLAIM_LINK = re.compile(r"/admin/claims/claim/(\d+)/change/")
TIMEOUT = 60


@dataclass
class Tally:
    """What one process saw: answers by kind and status, latencies, per-item outcomes."""

    statuses: dict = field(default_factory=lambda: defaultdict(Counter))
    latencies: dict = field(default_factory=lambda: defaultdict(list))
    items: dict = field(default_factory=lambda: defaultdict(Counter))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, status: int | str, seconds: float) -> None:
        with self.lock:
            self.statuses[kind][status] += 1
            self.latencies[kind].append(seconds)

    def outcome(self, kind: str, outcome: str) -> None:
        with self.lock:
            self.items[kind][outcome] += 1

    def as_dict(self) -> dict:
        return {
            "statuses": {kind: dict(counts) for kind, counts in self.statuses.items()},
            "latencies": dict(self.latencies),
            "items": {kind: dict(counts) for kind, counts in self.items.items()},
        }


@dataclass
class Answer:
    status: int | str
    body: bytes = b""
    location: str = ""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> dict:
        try:
            return json.loads(self.body)
        except ValueError:
            return {}


class Client:
    """One HTTP client on 127.0.0.1 with the cookies of its session, as a browser keeps them.

    A transport failure (reset, refused, timeout) is an answer too, named for its kind: the
    soak counts it beside the statuses.
    """

    def __init__(self, *, port: int, tally: Tally, counter, headers: dict | None = None):
        self.port = port
        self.tally = tally
        self.counter = counter
        self.headers = headers or {}
        self.cookies: dict[str, str] = {}
        self.connection = None

    def request(
        self, kind: str, method: str, path: str, *, body: bytes | None = None, form=None
    ) -> Answer:
        headers = dict(self.headers)
        if form is not None:
            body = urlencode({**form, "csrfmiddlewaretoken": self.cookies.get("csrftoken", "")})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://127.0.0.1:{self.port}{path}"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.connection.close()
            self.connection = None
            answer = Answer(_transport_failure(exc))
        else:
            for header in response.headers.get_all("Set-Cookie") or ():
                for name, morsel in SimpleCookie(header).items():
                    self.cookies[name] = morsel.value
            answer = Answer(response.status, content, response.headers.get("Location", ""))
            if response.will_close:
                self.connection.close()
                self.connection = None
        self.tally.record(kind, answer.status, time.perf_counter() - started)
        with self.counter.get_lock():
            self.counter.value += 1
        return answer

    def sign_in(self, kind: str, path: str, email: str, password: str) -> bool:
        self.request(kind, "GET", path)
        answer = self.request(kind, "POST", path, form={"username": email, "password": password})
        return answer.status == 302


def _transport_failure(exc: Exception) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError | http.client.RemoteDisconnected | BrokenPipeError):
        return "reset"
    return type(exc).__name__


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


class Load:
    """What every client process shares: its plan, its clock, its tally."""

    def __init__(self, plan: dict, counter):
        self.plan = plan
        self.counter = counter
        self.tally = Tally()
        self.rng = random.Random(f"{plan['seed']}-{plan['role']}-{plan['index']}")
        self.deadline = plan["deadline"]

    def running(self) -> bool:
        return time.time() < self.deadline

    def client(self, *, api: bool = False) -> Client:
        headers = {"Authorization": f"Api-Key {self.plan['key']}"} if api else {}
        return Client(
            port=self.plan["port"], tally=self.tally, counter=self.counter, headers=headers
        )

    def post_json(self, client: Client, kind: str, path: str, document: dict) -> Answer:
        client.headers["Content-Type"] = "application/json"
        body = json.dumps(document, ensure_ascii=False).encode()
        answer = client.request(kind, "POST", path, body=body)
        for result in answer.json().get("results", ()):
            self.tally.outcome(kind, result.get("status", "?"))
            if error := result.get("claim_error"):
                self.tally.outcome(kind, f"claim_error: {error}")
        return answer

    def pause(self, seconds: float) -> None:
        time.sleep(max(0.0, min(seconds, self.deadline - time.time())))


class MarketplaceLoad(Load):
    def run(self) -> None:
        api = self.client(api=True)
        previous: list[dict] = []
        late: list[list[dict]] = []
        cycle = 0
        while self.running():
            shipments, events, compensations, later = self.batch(cycle)
            self.post_json(api, "api shipments", "/api/v1/shipments/bulk/", {"items": shipments})
            if cycle % 3 == 2:
                self.overlapping(events)
            else:
                # Half of the bulk before is sent again: its replay must change nothing.
                replayed = events + previous[len(previous) // 2 :]
                self.post_json(
                    api, "api events", "/api/v1/shipment-events/bulk/", {"items": replayed}
                )
            # Late compensation, for claims some of which have been paid since.
            late.append(later)
            due = late.pop(0) if len(late) > 4 else []
            if compensations or due:
                self.post_json(
                    api,
                    "api compensations",
                    "/api/v1/compensations/bulk/",
                    {"items": compensations + due},
                )
            if cycle % 4 == 0:
                api.request("api claims", "GET", "/api/v1/claims/?page_size=50")
            previous = events
            cycle += 1
            self.pause(self.plan["pause"])

    def overlapping(self, events: list[dict]) -> None:
        """Send the events as two bulks at once that share their middle third."""
        third = len(events) // 3
        halves = [events[: 2 * third], events[third:]]
        threads = [
            threading.Thread(
                target=self.post_json,
                args=(self.client(api=True), "api events", "/api/v1/shipment-events/bulk/"),
                kwargs={"document": {"items": half}},
            )
            for half in halves
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def batch(self, cycle: int) -> tuple[list, list, list, list]:
        """Return a cycle's new shipments, their events, the compensations paid at once and
        those the marketplace pays later."""
        plan, rng = self.plan, self.rng
        now = dt.datetime.now(dt.UTC)
        prefix = f"{plan['code']}-m{plan['index']}-{cycle}"
        shipments, events, compensations, later = [], [], [], []
        for order in range(BULK_SHIPMENTS // ITEMS_PER_ORDER):
            seller = rng.choice(plan["sellers"])["external_id"]
            fate = rng.choices([f for f, _ in FATES], [w for _, w in FATES])[0]
            category = EXCLUDED_CATEGORY if rng.random() < 0.05 else "Одежда"
            for item in range(ITEMS_PER_ORDER):
                external_id = f"{prefix}-o{order}-{item}"
                value = rng.randrange(1000, 60000)
                shipments.append(
                    {
                        "external_id": external_id,
                        "seller": seller,
                        "order_id": f"{prefix}-o{order}",
                        "sku": f"SKU-{rng.randrange(1000)}",
                        "category": category,
                        "declared_value": f"{value}.00",
                        "warehouse": "Коледино",
                        "pickup_point": "ПВЗ Москва",
                        "fulfilment": "marketplace",
                        "shipped_at": _iso(now - dt.timedelta(days=6)),
                    }
                )
                steps = [("shipped", 6, None), ("delivered", 3, None)]
                amount = None
                if fate in ("non_buyout", "refused", "returned"):
                    amount = f"{rng.randrange(50, 5200)}.00"
                elif fate == "damaged":
                    amount = f"{value * rng.randrange(30, 90) // 100}.00"
                steps.append((fate, 1, amount))
                for kind, days_ago, money in steps:
                    event = {
                        "external_id": f"{external_id}-{kind}",
                        "shipment": external_id,
                        "kind": kind,
                        "occurred_at": _iso(now - dt.timedelta(days=days_ago, minutes=item)),
                    }
                    if money is not None:
                        event["amount"] = money
                    events.append(event)
                if fate in CARGO:
                    paid = value * rng.randrange(10, 60) // 100
                    record = {
                        "seller": seller,
                        "shipment": external_id,
                        "reason": "loss" if fate == "lost" else "damage",
                        "paid_on": now.date().isoformat(),
                    }
                    if rng.random() < 0.6:
                        compensations.append(
                            {**record, "external_id": f"{external_id}-k1", "amount": f"{paid}.00"}
                        )
                    if rng.random() < 0.4:
                        later.append(
                            {**record, "external_id": f"{external_id}-k2", "amount": f"{paid}.00"}
                        )
        return shipments, events, compensations, later


class SellerLoad(Load):
    def run(self) -> None:
        plan, rng = self.plan, self.rng
        seller = plan["seller"]
        api = self.client(api=True)
        own = self.own_shipments(api)
        browser = self.client()
        if not browser.sign_in(
            "seller sign-in", "/accounts/login/", seller["email"], plan["password"]
        ):
            return
        step = 0
        while self.running():
            browser.request("seller page", "GET", "/")
            listing = browser.request("seller page", "GET", "/claims/")
            numbers = CLAIM_LINK.findall(listing.text)
            if numbers:
                browser.request("seller page", "GET", f"/claims/{rng.choice(numbers)}/")
            if step % 3 == 0:
                browser.request("seller page", "GET", "/shipments/")
            if step % 2 == 0 and own:
                self.file(browser, api, own.pop())
            if step % 4 == 1:
                self.answer(browser, api)
            step += 1
            self.pause(plan["pause"])

    def own_shipments(self, api: Client) -> list[str]:
        """Push the seller's delivered shipments, the ones it will claim for, as its
        marketplace does; return their ids."""
        plan, rng = self.plan, self.rng
        now = dt.datetime.now(dt.UTC)
        ids = [f"{plan['code']}-s{plan['index']}-{n}" for n in range(plan["claims"])]
        shipments = [
            {
                "external_id": external_id,
                "seller": plan["seller"]["external_id"],
                "order_id": f"{external_id}-o",
                "sku": "SKU-S",
                "category": "Обувь",
                "declared_value": f"{rng.randrange(4000, 40000)}.00",
                "warehouse": "Казань",
                "pickup_point": "ПВЗ Казань",
                "fulfilment": "marketplace",
                "shipped_at": _iso(now - dt.timedelta(days=5)),
            }
            for external_id in ids
        ]
        events = [
            {
                "external_id": f"{external_id}-{kind}",
                "shipment": external_id,
                "kind": kind,
                "occurred_at": _iso(now - dt.timedelta(days=days)),
            }
            for external_id in ids
            for kind, days in (("shipped", 5), ("delivered", 2))
        ]
        self.post_json(api, "api shipments", "/api/v1/shipments/bulk/", {"items": shipments})
        self.post_json(api, "api events", "/api/v1/shipment-events/bulk/", {"items": events})
        return ids

    def file(self, browser: Client, api: Client, shipment: str) -> None:
        """File a damage claim on the claim page; for half of them the marketplace then
        reports a compensation, which reconciliation counts."""
        rng = self.rng
        today = dt.date.today()
        browser.request("seller page", "GET", "/claims/new/")
        amount = rng.randrange(2000, 4000)
        answer = browser.request(
            "seller filing",
            "POST",
            "/claims/new/",
            form={
                "shipment": shipment,
                "peril": "damage",
                "event_date": (today - dt.timedelta(days=1)).isoformat(),
                "claimed_amount": str(amount),
                "description": "Коробка пришла смятой, товар повреждён.",
                "submit": "1",
            },
        )
        self.tally.outcome("seller filing", "filed" if answer.status == 302 else "refused")
        if answer.status == 302 and rng.random() < 0.5:
            record = {
                "external_id": f"{shipment}-k",
                "seller": self.plan["seller"]["external_id"],
                "shipment": shipment,
                "reason": "damage",
                "amount": f"{amount // 3}.00",
                "paid_on": today.isoformat(),
            }
            self.post_json(
                api, "api compensations", "/api/v1/compensations/bulk/", {"items": [record]}
            )

    def answer(self, browser: Client, api: Client) -> None:
        """Answer the adjuster's questions on the claim pages; withdraw one claim in five."""
        seller = self.plan["seller"]["external_id"]
        asked = api.request(
            "api claims", "GET", f"/api/v1/claims/?status=info_requested&seller={seller}"
        ).json()
        for claim in asked.get("results", ())[:3]:
            number = claim["number"]
            if self.rng.random() < 0.2:
                browser.request("seller answer", "POST", f"/claims/{number}/withdraw/", form={})
            else:
                browser.request(
                    "seller answer",
                    "POST",
                    f"/claims/{number}/answer/",
                    form={"message": "Фотографии упаковки и акт приёмки прилагаю."},
                )


class AdjusterLoad(Load):
    """One person at the claims desk; two of them work the same queues and race."""

    def run(self) -> None:
        plan = self.plan
        desk = self.client()
        if not desk.sign_in("admin sign-in", "/admin/login/", plan["email"], plan["password"]):
            return
        runs = list(plan.get("reconcile_at", ()))
        while self.running():
            if runs and time.time() >= runs[0]:
                runs.pop(0)
                desk.request("admin page", "GET", "/admin/claims/reconciliationrun/")
                desk.request(
                    "admin reconcile", "POST", "/admin/claims/reconciliationrun/start/", form={}
                )
            self.work(desk)
            self.pause(plan["pause"])

    def queue(self, desk: Client, status: str) -> list[str]:
        listing = desk.request(
            "admin page",
            "GET",
            f"/admin/claims/claim/?marketplace__id__exact={self.plan['marketplace_id']}"
            f"&status__exact={status}",
        )
        return list(dict.fromkeys(ADMIN_CLAIM_LINK.findall(listing.text)))

    def act(self, desk: Client, pk: str, name: str, **fields) -> Answer:
        form = {f"{name}-{key}": value for key, value in fields.items()}
        return desk.request(
            "admin action", "POST", f"/admin/claims/claim/{pk}/act/{name}/", form=form
        )

    def work(self, desk: Client) -> None:
        rng = self.rng
        status = rng.choices(["submitted", "under_review", "approved"], [1, 4, 1])[0]
        pks = self.queue(desk, status)
        if not pks:
            return
        pk = rng.choice(pks[:10])
        desk.request("admin page", "GET", f"/admin/claims/claim/{pk}/change/")
        if status == "submitted":
            self.act(desk, pk, "start_review")
        elif status == "approved":
            self.act(desk, pk, "pay", reference="", paid_on="")
        else:
            self.decide(desk, pk)

    def decide(self, desk: Client, pk: str) -> None:
        roll = self.rng.random()
        if roll < 0.15:
            self.act(desk, pk, "request_info", message="Пришлите, пожалуйста, фото упаковки.")
        elif roll < 0.27:
            self.act(desk, pk, "reject", code="insufficient_evidence", reason="Нет фотографий.")
        else:
            if roll > 0.85:
                self.act(desk, pk, "assess", assessed_amount="1000")
            self.act(desk, pk, "approve", note="")
            self.act(desk, pk, "pay", reference="", paid_on="")


ROLES = {"marketplace": MarketplaceLoad, "seller": SellerLoad, "adjuster": AdjusterLoad}


def drive(plan: dict, counter, results) -> None:
    """Run one client process's part of the soak until its deadline; put its tally."""
    load = ROLES[plan["role"]](plan, counter)
    try:
        load.run()
    finally:
        results.put((f"{plan['role']} {plan['index']}", load.tally.as_dict()))
