"""What the API tests share: a marketplace's key, a client using it, an insured shipment."""

import pytest
from rest_framework.test import APIClient

from tests import factories


@pytest.fixture
def key():
    return factories.MarketplaceApiKeyFactory()


@pytest.fixture
def api(key):
    # Messages follow Accept-Language (Russian by default); these tests read the English ones.
    return APIClient(HTTP_AUTHORIZATION=f"Api-Key {key.raw_key}", HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def insured(key):
    """An insured shipment of a seller of the key's marketplace."""
    return factories.ShipmentFactory(policy__seller__marketplace=key.marketplace)
