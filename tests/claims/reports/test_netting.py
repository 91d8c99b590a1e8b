"""The within-report netting rule, on rows made directly."""

import datetime as dt
from collections import Counter
from dataclasses import replace
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from claims.reports.netting import Outcome, net_within_report
from claims.reports.rows import ReportRow, RowKind

D = Decimal
DAY = dt.date(2026, 3, 2)


def fee(key, line, *, amount="50.00", shipment="s1", kind=RowKind.REVERSE_FEE, **more):
    return ReportRow(
        key=key,
        line=line,
        kind=kind,
        amount=D(amount),
        peril=more.pop("peril", "non_buyout"),
        shipment_id=shipment,
        occurred_on=more.pop("day", DAY),
        **more,
    )


def storno(key, line, *, amount="50.00", shipment="s1", cancels=RowKind.REVERSE_FEE, **more):
    return fee(
        key, line, amount=amount, shipment=shipment, kind=RowKind.STORNO, cancels=cancels, **more
    )


def compensation(key, line, amount, *, shipment=None, raw_kind="AccrualInternalClaim"):
    return ReportRow(
        key=key,
        line=line,
        kind=RowKind.COMPENSATION,
        amount=D(amount),
        reason="loss",
        shipment_id=shipment,
        occurred_on=DAY,
        raw_kind=raw_kind,
    )


def outcomes(rows):
    return [(o.outcome, o.partner) for o in net_within_report(rows)]


def test_a_fee_cancelled_in_the_same_report_opens_no_claim():
    assert outcomes([fee("1", 1), storno("2", 2)]) == [
        (Outcome.NETTED, 2),
        (Outcome.NETTED, 1),
    ]


def test_a_storno_nets_only_the_same_item_leg_and_amount():
    rows = [
        fee("1", 1, shipment="s1"),
        fee("2", 2, shipment="s2"),
        fee("3", 3, shipment="s3", peril="return"),
        fee("4", 4, shipment="s4", amount="60.00"),
        storno("5", 5, shipment="s2"),
        storno("6", 6, shipment="s3"),  # the non-buyout leg, not the return's
        storno("7", 7, shipment="s4"),  # 50 of a fee of 60: the importer reduces the claim
    ]

    assert outcomes(rows) == [
        (Outcome.KEPT, None),
        (Outcome.NETTED, 5),
        (Outcome.KEPT, None),
        (Outcome.KEPT, None),
        (Outcome.NETTED, 2),
        (Outcome.KEPT, None),
        (Outcome.KEPT, None),
    ]


def test_a_storno_of_a_fee_from_an_earlier_report_is_kept_for_the_importer():
    assert outcomes([storno("2", 1)]) == [(Outcome.KEPT, None)]


def test_a_storno_may_come_before_its_fee():
    assert outcomes([storno("2", 1), fee("1", 2)]) == [(Outcome.NETTED, 2), (Outcome.NETTED, 1)]


def test_one_storno_cancels_one_of_two_equal_fees_the_earliest():
    rows = [fee("2", 1, day=DAY + dt.timedelta(days=1)), fee("1", 2), storno("3", 3)]

    assert outcomes(rows) == [(Outcome.KEPT, None), (Outcome.NETTED, 3), (Outcome.NETTED, 2)]


def test_a_compensations_pair_nets_and_a_later_accrual_stays():
    rows = [
        compensation("1", 1, "9879.26"),
        compensation("2", 2, "-9879.26"),
        compensation("3", 3, "9879.26"),
        compensation("4", 4, "-2867.00", raw_kind="AccrualConsigDefectiveWriteOff"),
    ]

    assert outcomes(rows) == [
        (Outcome.NETTED, 2),
        (Outcome.NETTED, 1),
        (Outcome.KEPT, None),
        (Outcome.KEPT, None),  # taken back from an earlier report's accrual
    ]


def test_the_same_key_twice_is_a_duplicate_and_with_other_content_an_error():
    rows = [fee("1", 1), fee("1", 2), fee("1", 3, amount="51.00")]

    result = net_within_report(rows)

    assert [(o.outcome, o.reason, o.partner) for o in result] == [
        (Outcome.KEPT, None, None),
        (Outcome.DUPLICATE, None, 1),
        (Outcome.ERROR, "key_conflict", 1),
    ]


def test_a_duplicate_storno_does_not_net_twice():
    rows = [fee("1", 1), fee("2", 2), storno("3", 3), storno("3", 4)]

    assert outcomes(rows) == [
        (Outcome.NETTED, 3),
        (Outcome.KEPT, None),
        (Outcome.NETTED, 1),
        (Outcome.DUPLICATE, 3),
    ]


def test_ignored_errors_and_foreign_currency_keep_their_reasons():
    rows = [
        ReportRow(key="1", line=1, kind=RowKind.IGNORED, reason="rebill_logistics"),
        ReportRow(key="", line=2, kind=RowKind.ERROR, reason="bad_number", error="…"),
        ReportRow(key="", line=3, kind=RowKind.ERROR, reason="bad_number", error="…"),
        fee("4", 4, currency="KZT"),
        storno("5", 5, cancels=RowKind.IGNORED, reason="charge", peril=None),
    ]

    assert [(o.outcome, o.reason) for o in net_within_report(rows)] == [
        (Outcome.IGNORED, "rebill_logistics"),
        (Outcome.ERROR, "bad_number"),
        (Outcome.ERROR, "bad_number"),
        (Outcome.IGNORED, "currency"),
        (Outcome.IGNORED, "charge"),
    ]


# Invariants --------------------------------------------------------------------------

AMOUNTS = ("50.00", "103.10")
SHIPMENTS = ("s1", "s2")


def _make(what: str, *, key: str, shipment: str, amount: str, day: int) -> ReportRow:
    when = DAY + dt.timedelta(days=day)
    if what == "fee":
        return fee(key, 0, amount=amount, shipment=shipment, day=when)
    if what == "forward":
        return fee(key, 0, amount=amount, shipment=shipment, day=when, kind=RowKind.FORWARD_FEE)
    if what == "storno":
        return storno(key, 0, amount=amount, shipment=shipment, day=when)
    if what == "paid":
        return compensation(key, 0, amount, shipment=shipment)
    return compensation(key, 0, f"-{amount}", shipment=shipment)


@st.composite
def report_rows(draw):
    specs = draw(
        st.lists(
            st.tuples(
                st.sampled_from(("fee", "forward", "storno", "paid", "taken_back")),
                st.sampled_from(SHIPMENTS),
                st.sampled_from(AMOUNTS),
                st.integers(min_value=0, max_value=3),  # day
            ),
            max_size=14,
        )
    )
    rows = [
        _make(what, key=f"k{number}", shipment=shipment, amount=amount, day=day)
        for number, (what, shipment, amount, day) in enumerate(specs, start=1)
    ]
    repeated = draw(st.lists(st.sampled_from(rows), max_size=3)) if rows else []
    return rows + repeated


def by_key(rows):
    """Return each key's outcomes, the partner named by key: what order cannot change."""
    placed = [replace(row, line=line) for line, row in enumerate(rows, start=1)]
    key_of = {row.line: row.key for row in placed}
    result = Counter()
    for outcome in net_within_report(placed):
        partner = None if outcome.partner is None else key_of[outcome.partner]
        if outcome.outcome is Outcome.DUPLICATE:
            partner = None  # the first of identical rows is whichever comes first
        result[(outcome.key, outcome.outcome, outcome.reason, partner)] += 1
    return result, placed


@given(rows=report_rows(), data=st.data())
def test_netting_does_not_depend_on_the_order_of_the_rows(rows, data):
    shuffled = data.draw(st.permutations(rows))

    assert by_key(shuffled)[0] == by_key(rows)[0]


@given(rows=report_rows())
def test_netted_rows_come_in_pairs_of_equal_amounts_on_one_item(rows):
    _, placed = by_key(rows)
    lines = {row.line: row for row in placed}

    result = net_within_report(placed)

    for outcome in result:
        if outcome.outcome is Outcome.NETTED:
            row, other = lines[outcome.line], lines[outcome.partner]
            back = next(o for o in result if o.line == outcome.partner)
            assert (back.outcome, back.partner) == (Outcome.NETTED, outcome.line)
            assert abs(row.amount) == abs(other.amount)
            assert row.shipment_id == other.shipment_id
    assert len(result) == len(placed)
