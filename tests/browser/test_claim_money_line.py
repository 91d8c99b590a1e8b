"""The one line of a claim's money in a real browser, in both languages: side by side on a
desktop, one figure a row on a phone, and never wider than the screen."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from claims.choices import ClaimStatus
from claims.lifecycle import claim_reject
from tests import factories
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

D = Decimal
LABELS = {
    "en": ["Loss", "Marketplace paid", "Insurer paid", "You bore", "Still owed back"],
    "ru": ["Убыток", "Маркетплейс выплатил", "Страховщик выплатил", "На вас", "Осталось вернуть"],
}


def sign_in(page, email: str) -> None:
    page.goto("/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("main form button[type=submit]")
    expect(page.locator("header.top nav")).to_be_visible()


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("width", [1280, 390])
def test_the_claim_pages_money_line_reads_on_a_desktop_and_a_phone(page, language, width):
    user = factories.SellerUserFactory(seller__language=language)
    # 80 000 lost: the marketplace paid 10 000, the insurer 50 000 (its per-claim limit); a
    # further 25 000 from the marketplace brought the payable to 44 500, 5 500 owed back.
    claim = factories.ClaimFactory(
        shipment__policy__seller=user.seller,
        status=ClaimStatus.PAID,
        claimed_amount=D("80000.00"),
        compensation_amount=D("35000.00"),
        deductible_amount=D("500.00"),
        payable_amount=D("44500.00"),
    )
    factories.PayoutFactory(claim=claim, amount=D("50000.00"))
    factories.RecoveryFactory(claim=claim, amount=D("5500.00"))
    page.set_viewport_size({"width": width, "height": 900})

    sign_in(page, user.email)
    page.goto(f"/claims/{claim.number}/")

    line = page.locator("dl.money-line")
    expect(line.locator("dt")).to_have_text(LABELS[language])
    screenshot(page, f"claim-money-line-{language}-{width}")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    items = line.locator(":scope > div")
    tops = {round(items.nth(i).bounding_box()["y"]) for i in range(items.count())}
    if width == 390:
        # One figure a row: every item starts below the one before it.
        assert len(tops) == items.count()
    else:
        assert len(tops) == 1


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("width", [1280, 390])
def test_the_claims_list_shows_the_line_as_columns_and_as_cards_on_a_phone(page, language, width):
    user = factories.SellerUserFactory(seller__language=language)
    factories.ClaimFactory(
        shipment__policy__seller=user.seller,
        status=ClaimStatus.APPROVED,
        deductible_amount=D("500.00"),
        payable_amount=D("11500.00"),
    )
    page.set_viewport_size({"width": width, "height": 900})

    sign_in(page, user.email)
    page.goto("/claims/")

    row = page.locator("table.claims tbody tr").first
    for label in LABELS[language]:
        expect(row.locator(f"td[data-label='{label}']")).to_be_visible()
    screenshot(page, f"claims-list-{language}-{width}")
    table = page.locator("table.claims").bounding_box()
    assert table["x"] + table["width"] <= width


@pytest.mark.parametrize(
    ("language", "reason"),
    [
        ("en", "Nothing is payable: the claim was rejected."),
        ("ru", "Выплаты нет: заявление отклонено."),
    ],
    ids=["en", "ru"],
)
def test_a_rejected_claim_shows_no_payable_on_a_phone(page, language, reason):
    user = factories.SellerUserFactory(seller__language=language)
    adjuster = factories.StaffFactory()
    claim = factories.ClaimFactory(
        shipment__policy__seller=user.seller,
        status=ClaimStatus.UNDER_REVIEW,
        assignee=adjuster,
        claimed_amount=D("39642.00"),
        deductible_amount=D("500.00"),
        payable_amount=D("39142.00"),
    )
    claim_reject(
        claim_id=claim.pk, adjuster=adjuster, code="insufficient_evidence", reason="Нет акта ПВЗ."
    )
    page.set_viewport_size({"width": 390, "height": 900})

    sign_in(page, user.email)
    page.goto(f"/claims/{claim.number}/")

    expect(page.locator("dl.money-line")).to_contain_text(reason)
    expect(page.locator("dl.money-line .to-pay")).to_have_count(0)
    expect(page.locator("p.appeal")).to_be_visible()
    screenshot(page, f"claim-rejected-{language}-390")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
