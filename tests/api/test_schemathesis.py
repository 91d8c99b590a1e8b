"""Property-based contract run: generated requests for every operation, never a server error."""

import datetime as dt
from decimal import Decimal

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

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


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_makes_the_api_fail(case, headers):
    response = case.call(headers=headers)

    case.validate_response(response, checks=[not_a_server_error])
