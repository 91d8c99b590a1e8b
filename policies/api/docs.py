"""What the schema tells a marketplace engineer: the overview, each write's description and
examples, and the webhook the API sends. The views take their entries from here, so the
prose of the contract is in one place (README "Integration API" says the same in short)."""

from dataclasses import dataclass

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    OpenApiWebhook,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers

OVERVIEW = """\
The marketplace's side of **sellercover**: push the sellers, their enrolments, the items
shipped and what happened to them, the compensation the marketplace paid, and the sellers'
finance reports; read the claims back, and receive a webhook on every change of a claim's
status.

## Authentication
Every request carries `Authorization: Api-Key <key>`. A key belongs to one marketplace and
sees only that marketplace's records: anything else answers `404`. Requests are limited per
key; past the limit the answer is `429` with `Retry-After` (seconds).

## Idempotency: every write is safe to send again
Each object carries your own `external_id`, unique per resource within your marketplace.
Sending the same object again answers `200` with the stored record and changes nothing;
the same `external_id` with other content answers `409` with code `conflict` and the
fields that differ. A timeout, a `503` or a lost connection is therefore handled by
sending the same request again, as it was.

## One object or a thousand
`POST /…/` takes one object; `POST /…/bulk/` takes `{"items": [...]}` with 1 to 1,000 of
them and answers `200` with one result per item, in order:
`{"results": [{"external_id": "…", "status": "created" | "updated" | "unchanged" |
"error", …}]}`. An item in error carries the `code` and `message` the single endpoint
would answer for it, and `errors` by field; the valid items are kept. Two requests that
send the same item at once get the answers a replay would get: one `created`, the others
`unchanged` (or `conflict`).

## Errors
Every error has one body: `{"code": "validation_error", "message": "Check the fields
below.", "fields": {"amount": ["Give the amount as digits 0-9 with at most 2 decimals,
e.g. 1500.00."]}}`. `code` is stable and meant for programs; `message` is for people, in
the language of `Accept-Language` (Russian or English). Every status an operation can
answer is listed on it.

## Money, dates and times
Money is a string of digits with a dot and at most two decimals (`"1500.00"`); a JSON
number is taken too. Dates are `YYYY-MM-DD`; times are ISO 8601 with their UTC offset
(`2026-11-30T14:05:00+03:00`) and are answered in Moscow time.

## Lists
`GET /claims/` pages by cursor: follow `next` until it is `null`; `updated_since` reads
only what changed since your last poll.

## Webhooks
See **Webhooks** below: `claim.status_changed` is signed with your marketplace's secret
and carries a delivery id to drop repeats by.
"""


def describe_api(result, generator, request, public):
    """Put the overview in the schema's `info` and the headers the webhook comes with on it
    (a drf-spectacular postprocessing hook: a webhook's extend_schema takes no parameters)."""
    result["info"]["description"] = OVERVIEW
    result["webhooks"][STATUS_CHANGED.name]["post"]["parameters"] = [
        {"in": "header", "name": name, "required": True, "schema": schema, "description": text}
        for name, schema, text in WEBHOOK_HEADERS
    ]
    return result


WEBHOOK_HEADERS = [
    ("X-Sellercover-Event", {"type": "string"}, "The event: `claim.status_changed`."),
    (
        "X-Sellercover-Delivery",
        {"type": "string", "format": "uuid"},
        "The delivery's id, the same on every attempt of it: deduplicate on it.",
    ),
    (
        "X-Sellercover-Timestamp",
        {"type": "string", "pattern": "^[0-9]+$"},
        "Seconds since the epoch when the attempt was signed.",
    ),
    (
        "X-Sellercover-Signature",
        {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
        '`sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`, keyed with the webhook secret.',
    ),
]


_IDEMPOTENT = (
    "\n\nIdempotent by `external_id`: a replay answers `200` with the stored record, the "
    "same id with other content `409 conflict` naming the differing fields."
)
_BULK = (
    '\n\nUp to 1,000 items in `{"items": [...]}`; the answer has one result per item, in '
    "order, and the valid items are kept when others fail. Each item is idempotent by its "
    "`external_id`: a replay is `unchanged`, the same id with other content an `error` "
    "with code `conflict` (the single endpoint's `409`)."
)


@dataclass(frozen=True)
class Resource:
    """One write resource's description and a realistic object of it, sent and answered."""

    description: str
    sent: dict
    answered: dict


SELLER = Resource(
    description=(
        "Create a seller, or update one by its `external_id` (your seller id): the seller's "
        "legal name, ИНН, e-mail and language of its letters. A seller must exist before it "
        "is enrolled."
    ),
    sent={
        "external_id": "wb-seller-104233",
        "legal_name": "ООО «Северный текстиль»",
        "tax_id": "7708123450",
        "email": "finance@sever-textile.ru",
        "language": "ru",
    },
    answered={
        "id": 17,
        "external_id": "wb-seller-104233",
        "legal_name": "ООО «Северный текстиль»",
        "tax_id": "7708123450",
        "email": "finance@sever-textile.ru",
        "language": "ru",
        "created_at": "2026-11-30T10:12:44+03:00",
        "updated_at": "2026-11-30T10:12:44+03:00",
    },
)
POLICY = Resource(
    description=(
        "Enrol a seller in one of the insurer's products from a date: the answer is the "
        "policy with its number, period, aggregate limit and the terms of each cover. Items "
        "the seller ships while the policy is in force are insured."
    ),
    sent={
        "external_id": "wb-enrol-104233-2026",
        "seller": "wb-seller-104233",
        "product": "standard",
        "starts_on": "2026-12-01",
    },
    answered={
        "number": "POL-2026-000412",
        "external_id": "wb-enrol-104233-2026",
        "seller": "wb-seller-104233",
        "product": "standard",
        "product_version": 3,
        "status": "active",
        "period_start": "2026-12-01",
        "period_end": "2027-11-30",
        "aggregate_limit": "1000000.00",
        "covers": [
            {
                "cover": "return_logistics",
                "premium_basis": "rate_on_logistics_cost",
                "premium_rate": "0.03500",
                "premium_fee": "0.00",
                "per_claim_limit": "5000.00",
                "per_event_limit": None,
                "deductible": "0.00",
            }
        ],
    },
)
SHIPMENT = Resource(
    description=(
        "Record an item shipped to a buyer: its order, SKU, declared value and where it went. "
        "An item of a seller with a policy in force is insured (`insured`, `policy` and its "
        "`premium` in the answer)."
    ),
    sent={
        "external_id": "27384950617283746.0.0",
        "seller": "wb-seller-104233",
        "order_id": "8817263541",
        "sku": "164433187",
        "category": "Платья",
        "declared_value": "3490.00",
        "warehouse": "Коледино",
        "pickup_point": "Москва, ул. Профсоюзная, 56",
        "fulfilment": "marketplace",
        "shipped_at": "2026-11-28T09:30:00+03:00",
    },
    answered={
        "id": 90211,
        "external_id": "27384950617283746.0.0",
        "seller": "wb-seller-104233",
        "order_id": "8817263541",
        "sku": "164433187",
        "category": "Платья",
        "declared_value": "3490.00",
        "warehouse": "Коледино",
        "pickup_point": "Москва, ул. Профсоюзная, 56",
        "fulfilment": "marketplace",
        "shipped_at": "2026-11-28T09:30:00+03:00",
        "insured": True,
        "policy": "POL-2026-000412",
        "premium": "3.24",
        "reverse_logistics_fee": None,
    },
)
EVENT = Resource(
    description=(
        "Record what happened to a shipped item. A covered event (`non_buyout`, `refused`, "
        "`returned` with the reverse-logistics fee in `amount`; `lost`, `damaged`) of an "
        "insured item opens a claim through the same rules as a seller's own: the answer "
        "carries its `claim` number, or `claim_error` with the reason none was opened."
    ),
    sent={
        "external_id": "wb-ev-5501928374",
        "shipment": "27384950617283746.0.0",
        "kind": "non_buyout",
        "occurred_at": "2026-11-30T18:42:00+03:00",
        "amount": "92.40",
    },
    answered={
        "id": 771203,
        "external_id": "wb-ev-5501928374",
        "shipment": "27384950617283746.0.0",
        "kind": "non_buyout",
        "occurred_at": "2026-11-30T18:42:00+03:00",
        "amount": "92.40",
        "claim": "CLM-2026-004817",
    },
)
COMPENSATION = Resource(
    description=(
        "Record a compensation the marketplace paid the seller for an item (damage, loss, "
        "substitution…). Reconciliation counts it on the item's claim, so the insurer pays "
        "only what is left; a record for an item with no claim yet waits for one."
    ),
    sent={
        "external_id": "wb-comp-3308812",
        "seller": "wb-seller-104233",
        "shipment": "27384950617283746.0.0",
        "reason": "damage",
        "amount": "1200.00",
        "paid_on": "2026-11-29",
    },
    answered={
        "id": 55012,
        "external_id": "wb-comp-3308812",
        "seller": "wb-seller-104233",
        "shipment": "27384950617283746.0.0",
        "reason": "damage",
        "amount": "1200.00",
        "paid_on": "2026-11-29",
        "claim": None,
        "matched_at": None,
    },
)
CLAIM = Resource(
    description=(
        "File a claim for an insured item on the seller's behalf: the peril, the amount "
        "claimed and the date of the event. It is checked against the policy (in force, "
        "covered, within its limits and the notice period) and triaged as a seller's own; "
        "follow it in `GET /claims/{number}/` or by the webhook."
    ),
    sent={
        "external_id": "wb-claim-99120",
        "shipment": "27384950617283746.0.0",
        "peril": "damage",
        "claimed_amount": "3490.00",
        "event_date": "2026-11-30",
        "description": "Коробка вскрыта, платье порвано по шву.",
    },
    answered={
        "number": "CLM-2026-004818",
        "external_id": "wb-claim-99120",
        "status": "approved",
        "cover": "cargo",
        "peril": "damage",
        "source": "marketplace",
        "shipment": "27384950617283746.0.0",
        "seller": "wb-seller-104233",
        "event_date": "2026-11-30",
        "flags": [],
        "amounts": {
            "claimed": "3490.00",
            "assessed": "3490.00",
            "loss": "3490.00",
            "compensation": "1200.00",
            "marketplace_paid": "1200.00",
            "deductible": "500.00",
            "payable": "1790.00",
            "paid": "0.00",
            "recovered": "0.00",
            "recovery_raised": "0.00",
            "recovery_received": "0.00",
            "insurer_paid": "0.00",
            "to_pay": "1790.00",
            "seller_bore": "500.00",
            "limits": [],
            "unpaid": "0.00",
            "owed_back": "0.00",
            "no_payable_reason": None,
        },
        "recoveries": [],
        "due_on": "2026-12-14",
        "created_at": "2026-11-30T18:42:00+03:00",
        "updated_at": "2026-11-30T18:42:03+03:00",
        "transitions": [
            {
                "from": "draft",
                "to": "submitted",
                "at": "2026-11-30T18:42:00+03:00",
                "actor": "marketplace",
                "note": "",
            },
            {
                "from": "submitted",
                "to": "approved",
                "at": "2026-11-30T18:42:03+03:00",
                "actor": "system",
                "note": "",
            },
        ],
    },
)
RESOURCES = {
    "SellerInput": SELLER,
    "PolicyInput": POLICY,
    "ShipmentInput": SHIPMENT,
    "ShipmentEventInput": EVENT,
    "CompensationInput": COMPENSATION,
    "ClaimInput": CLAIM,
}


def write_description(input_serializer, *, bulk: bool) -> str:
    return RESOURCES[input_serializer.__name__].description + (_BULK if bulk else _IDEMPOTENT)


def write_examples(input_serializer, *, bulk: bool) -> list[OpenApiExample]:
    resource = RESOURCES[input_serializer.__name__]
    if bulk:
        answered = {"external_id": resource.sent["external_id"], "status": "created"}
        if "number" in resource.answered:
            answered["number"] = resource.answered["number"]
        else:
            answered["id"] = resource.answered["id"]
        return [
            OpenApiExample("Items", value={"items": [resource.sent]}, request_only=True),
            OpenApiExample(
                "One result per item",
                value={"results": [{**answered, "errors": {}}]},
                response_only=True,
                status_codes=["200"],
            ),
        ]
    field = next(name for name in resource.sent if name != "external_id")
    return [
        OpenApiExample("An object", value=resource.sent, request_only=True),
        OpenApiExample(
            "Stored", value=resource.answered, response_only=True, status_codes=["201", "200"]
        ),
        OpenApiExample(
            "Same external id, other content",
            value={
                "code": "conflict",
                "message": f"A record with this external id exists with other content: {field}.",
                "fields": {field: [f"Stored: {resource.answered.get(field)}."]},
            },
            response_only=True,
            status_codes=["409"],
        ),
    ]


STATUS_CHANGED = OpenApiWebhook(
    name="claim.status_changed",
    decorator=extend_schema(
        summary="A claim changed status",
        description=(
            "Sent to the marketplace's webhook URL (set in the admin) after every transition "
            "of one of its claims, once the change is committed. `payable` is what the insurer "
            "will pay on the claim as it now stands: `0.00` once it is rejected, withdrawn or "
            "closed unpaid, as the claim's `amounts` say.\n\n"
            "**Check the signature**: `X-Sellercover-Signature` is `sha256=` and the hex "
            "HMAC-SHA256, keyed with the marketplace's webhook secret, of "
            "`<X-Sellercover-Timestamp>.<raw body>`; refuse a timestamp far from now.\n\n"
            "**Drop repeats by `X-Sellercover-Delivery`** (also the body's `delivery`): one "
            "UUID for every attempt of one delivery. A delivery can arrive more than once "
            "(a retry after a timeout, a worker lost mid-send): store the ids you processed "
            "and answer 2xx to one you have seen. Any other answer, or none within 10 s, is "
            "retried with exponential backoff (30 s doubling, up to 6 h, 10 attempts)."
        ),
        request=inline_serializer(
            name="ClaimStatusChanged",
            fields={
                "event": serializers.CharField(),
                "delivery": serializers.UUIDField(),
                "claim": serializers.CharField(help_text="The claim's number."),
                "from": serializers.CharField(help_text="The status before."),
                "to": serializers.CharField(help_text="The status now."),
                "payable": serializers.DecimalField(max_digits=14, decimal_places=2),
                "at": serializers.DateTimeField(),
            },
        ),
        responses={200: OpenApiResponse(description="Received: any 2xx will do.")},
        examples=[
            OpenApiExample(
                "Approved for payment",
                value={
                    "event": "claim.status_changed",
                    "delivery": "6f1c2a9e-3b47-4d0e-9a51-2c8e7d4b1f63",
                    "claim": "CLM-2026-004817",
                    "from": "submitted",
                    "to": "approved",
                    "payable": "92.40",
                    "at": "2026-11-30T18:42:03+03:00",
                },
            )
        ],
    ),
)


CLAIM_LIST = (
    "The marketplace's claims, newest change first, by cursor: follow `next` until it is "
    "`null`. Filter by `status`, `seller` (your seller id) and `updated_since` (an ISO 8601 "
    "time): poll with the time of your last poll to read only what changed. Each claim "
    "carries its `amounts`, the whole picture in one line: the loss, what the marketplace "
    "paid, what the insurer paid net of recoveries, what the seller bore (the deductible "
    "and each limit that cut it, in `limits`) and what is still owed back."
)
CLAIM_DETAIL = (
    "One claim by its number: its `amounts` (see the list), its flags, the date it is due "
    "by, and every transition with who made it and when."
)
REPORT_IMPORT = (
    "Import a seller's own finance report as the marketplace's API returned it, in "
    "`report`: Wildberries' `reportDetailByPeriod` (v5, snake_case) or the finance API's "
    "detailed report (camelCase), or Ozon's `/v3/finance/transaction/list` (the whole "
    "response or its `operations`). The format is detected from the document. Every "
    "reverse-logistics fee of an insured item opens a claim (source `report`), every "
    "compensation is recorded for reconciliation, and each row counts once by the "
    "marketplace's own row id (`rrd_id`, `operation_id`): the same report twice, or two "
    "overlapping weeks, change nothing the second time. Idempotent by `external_id`: a "
    "replay answers `200` with the stored import, another report under the same id `409 "
    "conflict`. The answer counts the rows by outcome and links to them in `rows_url`."
)
REPORT_IMPORT_EXAMPLES = [
    OpenApiExample(
        "A week of Wildberries' v5 report",
        value={
            "external_id": "wb-report-104233-2026-w48",
            "seller": "wb-seller-104233",
            "report": [
                {
                    "rrd_id": 1232610467,
                    "srid": "27384950617283746.0.0",
                    "doc_type_name": "Продажа",
                    "supplier_oper_name": "Логистика",
                    "bonus_type_name": "От клиента при отмене",
                    "delivery_rub": 92.4,
                    "return_amount": 1,
                    "rr_dt": "2026-11-30",
                    "currency_name": "руб",
                }
            ],
        },
        request_only=True,
    ),
    OpenApiExample(
        "Imported",
        value={
            "id": 318,
            "format": "wb_v5",
            "rows": 1,
            "outcomes": {
                "claim_opened": 1,
                "claim_updated": 0,
                "compensation_recorded": 0,
                "netted": 0,
                "duplicate": 0,
                "ignored": 0,
                "error": 0,
            },
            "claims": ["CLM-2026-004817"],
            "rows_url": "https://sellercover.example/api/v1/reports/318/rows/",
        },
        response_only=True,
        status_codes=["201", "200"],
    ),
]
REPORT_ROWS = (
    "What each row of an imported report came to, in the report's order, by cursor: its "
    "key (the marketplace's row id), line, outcome, the claim it opened or updated, and the "
    "reason of a row ignored or in error."
)
