"""The events' fast validation gives the full validation's answer, or leaves the item to it."""

from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from policies.api.serializers import ShipmentEventInput
from policies.choices import ShipmentEventKind

ids = st.one_of(
    st.text(max_size=70),
    st.from_regex(r"[A-Za-z0-9-]{1,70}", fullmatch=True),
    st.integers(),
    st.none(),
)
times = st.one_of(
    st.sampled_from(
        [
            "2026-11-20T14:30:00+03:00",
            "2026-11-20T14:30:00Z",
            "2026-11-20T14:30:00",
            "2026-11-20T14:99:00+03:00",
            "2026-02-30T10:00:00+00:00",
            "20 ноября",
            "",
        ]
    ),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.integers(),
)
amounts = st.one_of(
    st.none(),
    st.from_regex(r"-?[0-9]{1,15}(\.[0-9]{0,4})?", fullmatch=True),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
events = st.fixed_dictionaries(
    {
        "external_id": ids,
        "shipment": ids,
        "kind": st.one_of(st.sampled_from(ShipmentEventKind.values), st.text(max_size=12)),
        "occurred_at": times,
    },
    optional={"amount": amounts},
)

PLAIN = {
    "external_id": "wb-e-1",
    "shipment": "wb-s-1",
    "kind": "non_buyout",
    "occurred_at": "2026-11-20T14:30:00+03:00",
    "amount": "50",
}


@given(events)
@example(PLAIN)
@example({**PLAIN, "external_id": " wb-e-1 "})
@example({**PLAIN, "amount": "1000000000000.00"})
@example({**PLAIN, "amount": 50})
@example({**PLAIN, "kind": {}})
@example({**PLAIN, "occurred_at": "0001-01-01T00:00:00+05:00"})
def test_the_fast_answer_is_the_full_one(item):
    fast = ShipmentEventInput.plainly_valid(item)
    if fast is None:
        return
    assert fast == ShipmentEventInput().run_validation(item)


def test_a_plain_event_takes_the_fast_path_and_an_unusual_one_does_not():
    assert ShipmentEventInput.plainly_valid(PLAIN)["amount"] == Decimal("50.00")
    assert ShipmentEventInput.plainly_valid({**PLAIN, "external_id": "событие-1"}) is None
    assert ShipmentEventInput.plainly_valid({**PLAIN, "occurred_at": "2026-11-20T14:30"}) is None


def test_an_item_the_fast_path_refuses_still_gets_the_full_messages():
    item = {**PLAIN, "occurred_at": "2026-11-20T14:30:00", "amount": "-1"}
    assert ShipmentEventInput.plainly_valid(item) is None
    with pytest.raises(ValidationError) as refused:
        ShipmentEventInput().run_validation(item)
    assert set(refused.value.detail) == {"occurred_at", "amount"}
