"""34 real Ozon operations of one seller (March 2026) and that month's counts.

The sample holds each pattern once: a buyer's return after delivery (FBO and FBS), two
non-buyouts whose forward and reverse legs arrive as two operations of one type, a
partial non-buyout, all six compensation operations of the month, both corrections, fines
and a fine's storno, and the seller's own removal of stock.
"""

import csv
from collections import Counter
from decimal import Decimal

import pytest

from claims.choices import ReportFormat
from claims.reports import ozon
from claims.reports.netting import Outcome, net_within_report
from claims.reports.read import read_report
from claims.reports.rows import RowKind
from tests.claims.reports import FIXTURES, fixture_json, json_bytes

SAMPLE = "ozon_v3_transaction_list_2026-03_marker_sample.json"
COUNTS = "ozon_v3_transaction_list_2026-03_marker_counts.csv"


def operations() -> list[dict]:
    return [op for group in fixture_json(SAMPLE)["groups"] for op in group["operations"]]


def response(ops: list[dict]) -> bytes:
    return json_bytes({"result": {"operations": ops, "page_count": 1, "row_count": len(ops)}})


@pytest.fixture(scope="module")
def report():
    return read_report(content=response(operations()), filename="transactions.json")


@pytest.fixture(scope="module")
def rows(report):
    return {row.key: row for row in report.rows()}


def month_counts() -> list[dict]:
    with open(FIXTURES / COUNTS, encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_the_response_is_told_as_ozon_and_read_whole(report):
    assert report.format is ReportFormat.OZON_TRANSACTIONS
    assert report.count == 34
    assert report.period is None


def test_each_kind_counts_as_the_operations_give(rows):
    assert Counter(row.kind for row in rows.values()) == {
        RowKind.SALE: 2,
        RowKind.SALE_RETURN: 2,
        RowKind.REVERSE_FEE: 5,
        RowKind.FORWARD_FEE: 3,
        RowKind.COMPENSATION: 6,
        RowKind.CORRECTION: 2,
        RowKind.STORNO: 1,
        RowKind.IGNORED: 13,
    }


def test_every_real_operation_passes_the_amount_check(rows):
    assert [row for row in rows.values() if row.kind is RowKind.ERROR] == []


def test_the_reverse_legs_are_the_insured_fees_with_the_peril_their_processing_names(rows):
    fees = {
        key: (row.peril, row.amount, row.shipment_id, row.occurred_on.isoformat())
        for key, row in rows.items()
        if row.kind is RowKind.REVERSE_FEE
    }

    assert fees == {
        # ReturnAfterDelivToCustomer: a buyer's return; 82.11 = 15 (ReturnsPVZ) + 67.11
        "47304575387": ("return", Decimal("82.11"), "35208555-0444-1:1745038350", "2026-03-16"),
        "46796874653": ("return", Decimal("97.36"), "79649189-0142-1:1549743138", "2026-03-07"),
        # ReturnNotDelivToCustomer: refused at delivery
        "46550354022": ("refusal", Decimal("82.11"), "0135889912-0502-1:1745038423", "2026-03-03"),
        "46555301578": ("refusal", Decimal("112.61"), "0102545472-0252-2:1743862123", "2026-03-03"),
        # ReturnPartGoodsCustomer: part of the posting not bought out
        "47415415625": (
            "non_buyout",
            Decimal("67.11"),
            "0149098682-0136-2:1745038361",
            "2026-03-17",
        ),
    }


def test_the_forward_leg_of_the_same_return_type_is_not_the_insured_fee(rows):
    forward = {
        key: (row.amount, row.shipment_id)
        for key, row in rows.items()
        if row.kind is RowKind.FORWARD_FEE
    }

    # Each sits beside a reverse leg of the same posting and operation type.
    assert forward == {
        "46550344178": (Decimal("80.30"), "0135889912-0502-1:1745038423"),
        "46555288273": (Decimal("209.30"), "0102545472-0252-2:1743862123"),
        "47415412744": (Decimal("130.00"), "0149098682-0136-2:1745038361"),
    }
    assert rows["46550344178"].raw_kind == rows["46550354022"].raw_kind == "OperationItemReturn"


def test_compensations_name_no_item_and_their_pairs_net(rows, report):
    compensations = {
        key: (row.reason, row.amount, row.shipment_id)
        for key, row in rows.items()
        if row.kind is RowKind.COMPENSATION
    }
    outcomes = {o.key: o for o in net_within_report(report.rows())}

    assert compensations == {
        "46672480374": ("loss", Decimal("9879.26"), None),
        "46785140056": ("loss", Decimal("-9879.26"), None),
        "46672480375": ("damage", Decimal("2867.00"), None),
        "46785140057": ("damage", Decimal("-2867.00"), None),
        "48335109561": ("loss", Decimal("2166.72"), None),
        "48335109562": ("loss", Decimal("25086.25"), None),
    }
    netted = {key for key, o in outcomes.items() if o.outcome is Outcome.NETTED}
    assert netted == {"46672480374", "46785140056", "46672480375", "46785140057"}
    assert outcomes["46672480374"].partner == rows["46785140056"].line
    # Accrued again later in the month: kept against the seller, for an adjuster to link.
    assert outcomes["48335109562"].outcome is Outcome.KEPT
    assert outcomes["48335109561"].outcome is Outcome.KEPT


def test_fines_removals_and_services_are_ignored_with_their_reason(rows):
    ignored = {key: row.reason for key, row in rows.items() if row.kind is RowKind.IGNORED}

    assert Counter(ignored.values()) == {"charge": 11, "not_insured": 2}
    assert ignored["46715882158"] == ignored["46715882159"] == "not_insured"  # removal
    assert ignored["47583929933"] == "charge"  # DefectFineCancellation is a fine, no storno


def test_a_fines_storno_is_told_by_its_type_and_ignored_with_the_fine(rows, report):
    storno = rows["47477866039"]
    outcome = next(o for o in net_within_report(report.rows()) if o.key == "47477866039")

    assert (storno.kind, storno.cancels, storno.reason) == (RowKind.STORNO, "ignored", "charge")
    assert storno.amount == Decimal("50.00")
    assert (outcome.outcome, outcome.reason) == (Outcome.IGNORED, "charge")


def test_the_reports_outcomes(report):
    outcomes = Counter(o.outcome for o in net_within_report(report.rows()))

    assert outcomes == {Outcome.KEPT: 16, Outcome.IGNORED: 14, Outcome.NETTED: 4}


def test_sales_corrections_and_returns_keep_the_reports_money(rows):
    assert rows["46697145325"].kind is RowKind.SALE
    assert rows["46697145325"].amount == Decimal("2392.20")
    assert rows["46697145325"].item_value == Decimal("4760.00")
    assert rows["47203596372"].kind is RowKind.SALE_RETURN
    assert rows["47203596372"].amount == Decimal("-2713.20")
    assert {rows["48159828380"].amount, rows["48178744906"].amount} == {
        Decimal("168.00"),
        Decimal("97.60"),
    }
    assert rows["48159828380"].shipment_id is None


def test_a_tampered_amount_is_an_error_row_and_the_others_still_read():
    ops = operations()
    ops[7] = {**ops[7], "amount": Decimal("-90.00")}  # the reverse leg of 82.11

    read = list(read_report(content=response(ops)).rows())

    assert read[7].kind is RowKind.ERROR
    assert read[7].reason == "amount_mismatch"
    assert "-90.00" in read[7].error and "-82.11" in read[7].error
    assert sum(row.kind is RowKind.ERROR for row in read) == 1
    assert len(read) == 34


def test_the_bare_operations_list_reads_as_the_whole_response(report):
    bare = read_report(content=json_bytes(operations()))

    assert bare.format is ReportFormat.OZON_TRANSACTIONS
    assert list(bare.rows()) == list(report.rows())


# The month's counts (all 2,106 operations) --------------------------------------------


def test_the_sample_is_part_of_the_month():
    month = Counter(
        {
            r["operation_type_or_service_name"]: int(r["count"])
            for r in month_counts()
            if r["kind"] == "operation"
        }
    )
    sample = Counter(op["operation_type"] for op in operations())

    assert sample - month == Counter()
    assert sum(month.values()) == 2106


def test_the_months_compensations_and_corrections_are_all_in_the_sample(rows):
    month = {
        r["operation_type_or_service_name"]: Decimal(r["sum_amount_or_price"])
        for r in month_counts()
        if r["kind"] == "operation"
        and (r["type"] == "compensation" or r["operation_type_or_service_name"] in ozon.CORRECTIONS)
    }
    sample: dict[str, Decimal] = {}
    for row in rows.values():
        if row.kind in (RowKind.COMPENSATION, RowKind.CORRECTION):
            sample[row.raw_kind] = sample.get(row.raw_kind, Decimal("0")) + row.amount

    assert sample == month
    assert sample["AccrualInternalClaim"] == Decimal("25086.25")


def _service_counts(operation_type: str) -> dict[str, tuple[int, Decimal]]:
    return {
        r["operation_type_or_service_name"]: (int(r["count"]), Decimal(r["sum_amount_or_price"]))
        for r in month_counts()
        if r["kind"] == "service_in_operation" and r["type"] == operation_type
    }


@pytest.mark.parametrize("operation_type", ["OperationItemReturn", "OperationReturnGoodsFBSofRMS"])
def test_every_return_operation_of_the_month_is_one_leg_and_names_its_peril(operation_type):
    services = _service_counts(operation_type)
    operation = next(
        r
        for r in month_counts()
        if r["kind"] == "operation" and r["operation_type_or_service_name"] == operation_type
    )
    reverse = services["MarketplaceServiceItemReturnFlowLogistic"][0]
    forward = services["MarketplaceServiceItemDirectFlowLogistic"][0]
    processing = sum(
        count for name, (count, _sum) in services.items() if name in ozon.PROCESSING_SERVICES
    )
    legs = sum(
        total
        for name, (_count, total) in services.items()
        if name in ozon.REVERSE_LEG_SERVICES
        or name in ozon.PROCESSING_SERVICES
        or name in ozon.FORWARD_LEG_SERVICES
    )

    # Every service the month used is one the reader knows.
    assert set(services) <= (
        ozon.REVERSE_LEG_SERVICES | set(ozon.PROCESSING_SERVICES) | ozon.FORWARD_LEG_SERVICES
    )
    assert reverse + forward == int(operation["count"])  # one leg per operation
    assert processing == reverse  # every reverse leg names its peril
    assert legs == Decimal(operation["sum_amount_or_price"])  # and the money is all legs


def test_the_months_insured_reverse_legs_and_perils():
    insured, perils = Decimal("0"), Counter()
    for operation_type in ("OperationItemReturn", "OperationReturnGoodsFBSofRMS"):
        for name, (count, total) in _service_counts(operation_type).items():
            if name in ozon.REVERSE_LEG_SERVICES or name in ozon.PROCESSING_SERVICES:
                insured += total
            if name in ozon.PROCESSING_SERVICES:
                perils[ozon.PROCESSING_SERVICES[name]] += count

    assert insured == Decimal("-34252.44")  # ReturnFlowLogistic + ReturnsPVZ; processing is 0
    assert perils == {"refusal": 364, "return": 25, "non_buyout": 7}


def test_every_operation_type_of_the_month_is_understood():
    month = [r for r in month_counts() if r["kind"] == "operation"]
    ops = [
        {
            "operation_id": index,
            "operation_type": r["operation_type_or_service_name"],
            "type": r["type"],
            "amount": Decimal("-1.00"),
            "operation_date": "2026-03-31 00:00:00",
            "services": (
                [{"name": "MarketplaceServiceItemReturnFlowLogistic", "price": Decimal("-1.00")}]
                if r["operation_type_or_service_name"] in ozon.RETURN_OPERATIONS
                else []
            ),
        }
        for index, r in enumerate(month, start=1)
    ]

    read = list(read_report(content=response(ops)).rows())

    assert [row.raw_kind for row in read if row.reason == "unknown_operation"] == []
    assert [row.error for row in read if row.kind is RowKind.ERROR] == []
