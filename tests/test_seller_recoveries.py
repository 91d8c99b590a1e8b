"""What a seller reads of the money it owes back on a claim, in Russian and English: each
recovery's status and payments, and how to pay the rest to the insurer."""

from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse

from claims.choices import ClaimStatus
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal
TEXT = {
    "ru": {
        "heading": "Деньги к возврату",
        "status": "Получено частично",
        "receipt": "Получено ",
        "owed": "3\xa0500,00\xa0₽",
        "how": "Как вернуть",
        "purpose": "Возврат излишне выплаченного страхового возмещения по убытку",
    },
    "en": {
        "heading": "Money owed back",
        "status": "Partly received",
        "receipt": "Received ",
        "owed": "3,500.00\xa0₽",
        "how": "How to pay it back",
        "purpose": "Return of insurance indemnity overpaid on claim",
    },
}


@pytest.fixture
def claim(seller_user):
    """A paid claim on which the seller owes 6,000 back and has paid 2,500 of it."""
    claim = factories.ClaimFactory(
        shipment__policy__seller=seller_user.seller,
        status=ClaimStatus.PAID,
        compensation_amount=D("10000.00"),
        deductible_amount=D("500.00"),
        payable_amount=D("1500.00"),
    )
    factories.PayoutFactory(claim=claim, amount=D("7500.00"))
    recovery = factories.RecoveryFactory(claim=claim, amount=D("6000.00"), status="partly_received")
    factories.RecoveryReceiptFactory(recovery=recovery, amount=D("2500.00"), reference="PP-2026-77")
    return claim


def page(client, claim, language: str) -> str:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client.get(reverse("seller:claim", args=[claim.number])).content.decode()


@pytest.mark.parametrize("language", ["ru", "en"])
def test_the_seller_sees_what_it_owes_back_and_what_it_has_paid(signed_in, claim, language):
    text = TEXT[language]

    html = page(signed_in, claim, language)

    assert text["heading"] in html
    assert text["status"] in html
    assert text["owed"] in html
    assert text["receipt"] in html and "PP-2026-77" in html


@pytest.mark.parametrize("language", ["ru", "en"])
def test_the_seller_is_told_how_to_pay_the_rest_back(signed_in, claim, language):
    text = TEXT[language]

    html = page(signed_in, claim, language)

    assert text["how"] in html
    details = settings.INSURER_PAYMENT_DETAILS
    for value in (details["account"], details["bic"], details["tax_id"]):
        assert value in html
    assert f"{text['purpose']} {claim.number}" in html


def test_a_recovery_paid_back_in_full_asks_for_nothing_more(signed_in, seller_user):
    claim = factories.ClaimFactory(
        shipment__policy__seller=seller_user.seller, status=ClaimStatus.PAID
    )
    factories.PayoutFactory(claim=claim, amount=D("7500.00"))
    factories.RecoveryFactory(claim=claim, amount=D("6000.00"), status="received")

    html = page(signed_in, claim, "en")

    assert "Money owed back" in html
    assert "How to pay it back" not in html
    assert settings.INSURER_PAYMENT_DETAILS["account"] not in html


def test_the_payment_details_come_from_the_settings(signed_in, claim, settings):
    settings.INSURER_PAYMENT_DETAILS = {
        **settings.INSURER_PAYMENT_DETAILS,
        "account": "40702810999999999999",
    }

    assert "40702810999999999999" in page(signed_in, claim, "ru")
