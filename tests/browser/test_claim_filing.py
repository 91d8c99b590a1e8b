"""Filing a claim in a real browser with the amount typed the app's way (`12 500,00`, then
the issue's 75 000 on a 38 143 item): the check names the limit that cuts it and the item's
value it exceeds, on a desktop and a phone, and the claim is filed for exactly that amount."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from claims.models import Claim
from tests import factories
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

D = Decimal
NBSP = "\u00a0"
WORDS = {
    "ru": {
        "cut": f"Лимит на случай 50{NBSP}000,00{NBSP}₽: сверх него 24{NBSP}500,00{NBSP}₽",
        "value": "Заявленная сумма выше ценности товара или тарифа",
        "claim": "Заявление",
    },
    "en": {
        "cut": f"Limit per claim of 50,000.00{NBSP}₽: 24,500.00{NBSP}₽ above it",
        "value": "Claimed amount above the item's value or fee",
        "claim": "Claim",
    },
}
FIRST = {"ru": "12 500,00", "en": "12500,00"}
TYPED = {"ru": "75 000,00", "en": "75,000.00"}


def sign_in(page, email: str) -> None:
    page.goto("/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("main form button[type=submit]")
    expect(page.locator("header.top nav")).to_be_visible()


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("language", ["ru", "en"])
def test_a_seller_types_the_amount_sees_the_limits_and_flags_and_files(page, language, width):
    user = factories.SellerUserFactory(seller__language=language)
    shipment = factories.ShipmentFactory(
        policy__seller=user.seller,
        declared_value=D("38143.00"),
        shipped_at=timezone.now() - dt.timedelta(days=5),
    )
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, user.email)
    page.click(f"form.lang button[value={language}]")

    page.goto("/claims/new/")
    page.fill("input[name=shipment]", shipment.external_id)
    page.select_option("select[name=peril]", "damage")
    page.fill("input[name=event_date]", (timezone.localdate() - dt.timedelta(days=2)).isoformat())
    # Typed key by key, as a person does: the field must take the grouping space.
    amount = page.locator("input[name=claimed_amount]")
    amount.press_sequentially(FIRST[language])
    page.click("button[name=check]")

    preview = page.locator("section.preview")
    expect(preview).to_be_visible()
    expect(preview.locator("table.facts tr").first).to_contain_text("12")
    expect(preview.locator("tr.cut")).to_have_count(0)

    amount.fill("")
    amount.press_sequentially(TYPED[language])
    page.click("button[name=check]")
    expect(preview).to_have_class("preview attention")
    expect(preview.locator("tr.cut")).to_have_count(1)
    expect(preview.locator("ul.findings")).to_contain_text(WORDS[language]["cut"])
    expect(preview.locator("ul.findings")).to_contain_text(WORDS[language]["value"])
    expect(page.locator("input[name=claimed_amount]")).to_have_value(TYPED[language])
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    preview.scroll_into_view_if_needed()
    screenshot(page, f"claim-preview-{language}-{width}")

    page.click("button[name=submit]")
    expect(page.locator("h1")).to_contain_text(WORDS[language]["claim"])
    claim = Claim.objects.get(shipment=shipment)
    assert claim.claimed_amount == D("75000.00")
