"""Ozon operations the real sample does not hold: broken ones, the documented types, items."""

from decimal import Decimal

import pytest

from claims.reports.netting import Outcome, net_within_report
from claims.reports.read import read_report
from claims.reports.rows import RowKind
from tests.claims.reports import json_bytes

D = Decimal


def operation(operation_id, operation_type, amount, *, services=(), items=(), posting="", **more):
    return {
        "operation_id": operation_id,
        "operation_type": operation_type,
        "operation_date": "2026-04-02 00:00:00",
        "operation_type_name": "",
        "type": more.pop("category", "services"),
        "amount": amount,
        "accruals_for_sale": more.pop("accruals", 0),
        "sale_commission": more.pop("commission", 0),
        "delivery_charge": 0,
        "return_delivery_charge": 0,
        "posting": {"posting_number": posting, "delivery_schema": "FBS", "warehouse_id": 0},
        "items": [{"name": "Платье", "sku": sku} for sku in items],
        "services": [{"name": name, "price": price} for name, price in services],
        **more,
    }


def rows_of(*ops):
    return list(read_report(content=json_bytes({"result": {"operations": list(ops)}})).rows())


REVERSE = [
    ("MarketplaceServiceItemReturnPartGoodsCustomer", D("-15.00")),
    ("MarketplaceServiceItemReturnFlowLogistic", D("-60.00")),
]


def test_processing_priced_above_zero_counts_in_the_fee():
    (row,) = rows_of(
        operation(
            1,
            "OperationItemReturn",
            D("-75.00"),
            services=REVERSE,
            items=[55501],
            posting="111-0002-1",
            category="returns",
        )
    )

    assert (row.kind, row.peril, row.amount) == (RowKind.REVERSE_FEE, "non_buyout", D("75.00"))
    assert (row.shipment_id, row.order_id, row.sku) == ("111-0002-1:55501", "111-0002-1", "55501")


def test_a_broken_number_is_an_error_row_naming_the_field_and_the_others_read():
    broken = operation(
        2,
        "OperationItemReturn",
        D("-75.00"),
        category="returns",
        services=[("MarketplaceServiceItemReturnFlowLogistic", "шестьдесят")],
    )
    good = operation(3, "OperationLackWriteOff", D("700.00"), category="compensation")

    rows = rows_of(broken, good)

    assert rows[0].kind is RowKind.ERROR
    assert (rows[0].key, rows[0].reason) == ("2", "bad_number")
    assert "services[0].price" in rows[0].error and "шестьдесят" in rows[0].error
    assert (rows[1].kind, rows[1].reason, rows[1].amount) == (
        RowKind.COMPENSATION,
        "loss",
        D("700.00"),
    )


@pytest.mark.parametrize(
    ("operation_type", "reason"),
    [
        ("OperationLackWriteOff", "loss"),
        ("OperationDefectiveWriteOff", "damage"),
        ("OperationClaim", "other"),
        ("MarketplaceSellerCompensationOperation", "other"),
        ("SomeNewCompensation", "other"),  # unknown, but Ozon files it as compensation
    ],
)
def test_documented_compensations_are_read_with_their_reason(operation_type, reason):
    (row,) = rows_of(operation(4, operation_type, D("700.00"), category="compensation"))

    assert (row.kind, row.reason, row.shipment_id) == (RowKind.COMPENSATION, reason, None)


def test_a_compensation_for_one_item_names_it():
    (row,) = rows_of(
        operation(
            5,
            "OperationLackWriteOff",
            D("700.00"),
            category="compensation",
            posting="111-0009-1",
            items=[55501],
        )
    )

    assert row.shipment_id == "111-0009-1:55501"


def test_an_operation_over_several_items_names_only_the_posting():
    (row,) = rows_of(
        operation(
            6,
            "OperationItemReturn",
            D("-75.00"),
            services=REVERSE,
            items=[55501, 55502],
            posting="111-0010-1",
            category="returns",
        )
    )

    assert (row.kind, row.shipment_id, row.order_id, row.sku) == (
        RowKind.REVERSE_FEE,
        None,
        "111-0010-1",
        None,
    )


def test_a_sale_and_its_storno_net_in_one_report():
    sale = operation(
        7,
        "OperationAgentDeliveredToCustomer",
        D("812.40"),
        category="orders",
        accruals=1000,
        commission=-120,
        items=[55501],
        posting="111-0004-1",
        services=[("MarketplaceServiceItemDirectFlowLogistic", D("-67.60"))],
    )
    storno = operation(
        8,
        "OperationAgentStornoDeliveredToCustomer",
        D("-812.40"),
        category="orders",
        accruals=-1000,
        commission=120,
        items=[55501],
        posting="111-0004-1",
        services=[("MarketplaceServiceItemDirectFlowLogistic", D("67.60"))],
    )

    rows = rows_of(sale, storno)

    assert (rows[1].kind, rows[1].cancels, rows[1].amount) == (
        RowKind.STORNO,
        RowKind.SALE,
        D("812.40"),
    )
    assert [o.outcome for o in net_within_report(rows)] == [Outcome.NETTED, Outcome.NETTED]


def test_a_cancelled_reverse_leg_is_a_storno_of_the_fee_and_nets_with_it():
    fee = operation(
        9,
        "OperationItemReturn",
        D("-75.00"),
        services=REVERSE,
        items=[55501],
        posting="111-0002-1",
        category="returns",
    )
    cancelled = operation(
        10,
        "OperationItemReturnCancelled",
        D("75.00"),
        items=[55501],
        posting="111-0002-1",
        category="returns",
        services=[(name, -price) for name, price in REVERSE],
    )

    rows = rows_of(fee, cancelled)

    assert (rows[1].kind, rows[1].cancels, rows[1].peril, rows[1].amount) == (
        RowKind.STORNO,
        RowKind.REVERSE_FEE,
        "non_buyout",
        D("75.00"),
    )
    assert [o.outcome for o in net_within_report(rows)] == [Outcome.NETTED, Outcome.NETTED]


def test_a_reverse_leg_booked_as_its_own_operation_is_the_fee():
    (row,) = rows_of(
        operation(
            11,
            "MarketplaceServiceItemReturnFlowLogistic",
            D("-60.00"),
            items=[55501],
            posting="111-0002-1",
            category="returns",
        )
    )

    assert (row.kind, row.amount) == (RowKind.REVERSE_FEE, D("60.00"))


def test_an_operation_that_is_not_an_object_or_has_no_id_is_an_error_row():
    rows = rows_of("46697145325", operation(None, "StarsMembership", D("-23.80")))

    assert [(row.kind, row.reason) for row in rows] == [
        (RowKind.ERROR, "not_an_object"),
        (RowKind.ERROR, "missing_value"),
    ]
    assert "operation_id" in rows[1].error


def test_services_of_the_wrong_shape_are_an_error_row():
    (row,) = rows_of(
        {**operation(12, "OperationItemReturn", D("-75.00")), "services": "ReturnFlow"}
    )

    assert (row.kind, row.reason) == (RowKind.ERROR, "bad_shape")


def test_a_broken_date_is_an_error_row():
    (row,) = rows_of({**operation(13, "StarsMembership", D("-23.80")), "operation_date": "вчера"})

    assert (row.kind, row.reason) == (RowKind.ERROR, "bad_date")
    assert "operation_date" in row.error


def test_an_unknown_operation_is_ignored_and_named():
    (row,) = rows_of(operation(14, "MarketplaceSomethingNew", D("-1.00")))

    assert (row.kind, row.reason, row.raw_kind) == (
        RowKind.IGNORED,
        "unknown_operation",
        "MarketplaceSomethingNew",
    )


def test_an_empty_operations_list_is_an_empty_report():
    report = read_report(content=b'{"result": {"operations": [], "page_count": 0}}')

    assert (report.count, list(report.rows())) == (0, [])
