from decimal import Decimal

import pytest
from django.contrib.auth.models import Group

from config.celery import app as celery_app
from tests import factories


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    """Keep uploaded and generated files of a test in its own folder, archive included."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
        "evidence_archive": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "archive")},
        },
    }


@pytest.fixture(autouse=True, scope="session")
def _eager_celery():
    """Tasks run in-process in tests; the broker test starts its own worker."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True


@pytest.fixture
def fast_hasher(settings):
    """For tests that sign in dozens of times: the production hasher spends a second on each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def adjuster(db):
    return factories.StaffFactory(email="adjuster@test.local")


@pytest.fixture
def senior(db):
    return factories.StaffFactory(
        email="senior@test.local", group="Senior adjuster", authority_limit=Decimal("1000000.00")
    )


@pytest.fixture
def roles(db):
    return {group.name: group for group in Group.objects.all()}


@pytest.fixture
def seller_user(db):
    return factories.SellerUserFactory()


@pytest.fixture
def signed_in(client, seller_user):
    """The test client signed in as a seller's user."""
    client.force_login(seller_user)
    return client


@pytest.fixture
def shipment(seller_user):
    """An insured shipment of the signed-in seller."""
    return factories.ShipmentFactory(policy__seller=seller_user.seller)
