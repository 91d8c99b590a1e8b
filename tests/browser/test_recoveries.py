"""Recoveries in a real browser: the seller reads what it owes back and how to pay it, in
both languages, on a desktop and a phone; an adjuster records a part payment from the claim
page and sees the seller's money line there."""

from decimal import Decimal

import pytest
from django.conf import settings
from playwright.sync_api import expect

from claims.choices import ClaimStatus, RecoveryStatus
from claims.models import Recovery
from tests import factories
from tests.browser.conftest import login, screenshot

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

D = Decimal
TEXT = {
    "en": {"heading": "Money owed back", "owed": "3,500.00\xa0₽", "status": "Partly received"},
    "ru": {
        "heading": "Деньги к возврату",
        "owed": "3\xa0500,00\xa0₽",
        "status": "Получено частично",
    },
}


def paid_with_recovery(seller) -> Recovery:
    """A paid claim whose seller owes 6,000 back and has paid 2,500 of it."""
    claim = factories.ClaimFactory(
        shipment__policy__seller=seller,
        status=ClaimStatus.PAID,
        compensation_amount=D("10000.00"),
        deductible_amount=D("500.00"),
        payable_amount=D("1500.00"),
    )
    factories.PayoutFactory(claim=claim, amount=D("7500.00"))
    recovery = factories.RecoveryFactory(
        claim=claim, amount=D("6000.00"), status=RecoveryStatus.PARTLY_RECEIVED
    )
    factories.RecoveryReceiptFactory(recovery=recovery, amount=D("2500.00"), reference="PP-2026-77")
    return recovery


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("width", [1280, 390])
def test_the_seller_reads_what_it_owes_back_and_how_to_pay(page, language, width):
    user = factories.SellerUserFactory(seller__language=language)
    recovery = paid_with_recovery(user.seller)
    page.set_viewport_size({"width": width, "height": 900})

    page.goto("/")
    page.fill("input[name=username]", user.email)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("main form button[type=submit]")
    page.goto(f"/claims/{recovery.claim.number}/")

    block = page.locator("#recoveries")
    expect(block.locator("h2")).to_have_text(TEXT[language]["heading"])
    expect(block).to_contain_text(TEXT[language]["status"])
    expect(block).to_contain_text(TEXT[language]["owed"])
    expect(block).to_contain_text("PP-2026-77")
    expect(block.locator("table.payment-details")).to_contain_text(
        settings.INSURER_PAYMENT_DETAILS["account"]
    )
    block.scroll_into_view_if_needed()
    screenshot(page, f"claim-recoveries-{language}-{width}")
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_an_adjuster_records_a_part_payment_from_the_claim_page(page):
    adjuster = factories.StaffFactory(email="adjuster@test.local")
    recovery = paid_with_recovery(factories.SellerFactory())
    login(page, adjuster.email, factories.PASSWORD)

    page.goto(f"/admin/claims/claim/{recovery.claim_id}/change/")
    expect(page.locator(".seller-line dl.money-line")).to_be_visible()
    screenshot(page, "admin-claim-recovery")
    page.locator(".seller-line a.button").click()
    page.fill("#id_amount", "1 000,00")
    page.fill("#id_reference", "PP-2026-78")
    page.locator("input[type=submit]").click()

    expect(page.locator(".messagelist .success")).to_be_visible()
    expect(page.locator("#content")).to_contain_text("PP-2026-78")
    screenshot(page, "admin-recovery-received")
    recovery.refresh_from_db()
    assert recovery.receipts.count() == 2
    assert recovery.status == RecoveryStatus.PARTLY_RECEIVED
