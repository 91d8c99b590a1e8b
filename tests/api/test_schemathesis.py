"""Property-based contract run: generated requests for every operation, answered as the
schema says (status, content type, headers, body) and never with a server error."""

import datetime as dt
from decimal import Decimal

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from config.wsgi import application
from tests import factories

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Calling the WSGI app directly would close the test's database connection after each
    request; Django's own test client suspends that the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def headers(db):
    """A key of a marketplace with a seller, an insured shipment and a claim to find."""
    key = factories.MarketplaceApiKeyFactory()
    shipment = factories.ShipmentFactory(
        policy__seller__marketplace=key.marketplace, declared_value=Decimal("1000")
    )
    factories.ClaimFactory(shipment=shipment, event_date=timezone.localdate() - dt.timedelta(3))
    return {"Authorization": f"Api-Key {key.raw_key}"}


def excluded_checks(case) -> list:
    """The two checks whose premise the API's contract does not share, and where.

    A well-formed request may still be refused by a rule no schema states (an
    unknown seller, an overlapping policy, an ineligible claim): 400 with the
    error body, so `positive_data_acceptance` does not apply. A bulk answers
    each item on its own: an invalid item is an error row of a 200 and the
    others are written, so on bulks `negative_data_rejection` does not apply to
    the items (their shape is documented for the clients that write them).
    """
    excluded = [positive_data_acceptance]
    if case.operation.path.endswith("/bulk/"):
        excluded.append(negative_data_rejection)
    return excluded


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_the_documented_one(case, headers):
    case.call_and_validate(headers=headers, excluded_checks=excluded_checks(case))
