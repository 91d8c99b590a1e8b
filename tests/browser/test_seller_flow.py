"""A seller, in a real browser: sign in → enrol → file a claim with a photo → find it in the
list → answer the adjuster's question → download a document; in English and in Russian."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from claims.choices import ClaimStatus
from claims.lifecycle import claim_release, claim_request_info
from claims.models import Claim
from policies.models import Policy
from tests import factories
from tests.browser.conftest import screenshot

# The staff roles come from a data migration: keep them across the flushes.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
WORDS = {
    "en": {"claim": "Claim", "answered": "Thank you", "enrolled": "is active"},
    "ru": {"claim": "Заявление", "answered": "Спасибо", "enrolled": "действует"},
}


def sign_in(page, email: str) -> None:
    page.goto("/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("main form button[type=submit]")
    expect(page.locator("header.top nav")).to_be_visible()


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_seller_enrols_files_a_claim_answers_and_downloads(page, language, tmp_path):
    words = WORDS[language]
    user = factories.SellerUserFactory(seller__language=language)
    version = factories.ProductVersionFactory(product__name="Стандарт")
    adjuster = factories.StaffFactory()

    sign_in(page, user.email)
    page.click(f"form.lang button[value={language}]")
    expect(page.locator("html")).to_have_attribute("lang", language)
    screenshot(page, f"seller-dashboard-empty-{language}")

    # Enrol: terms, estimate, accept.
    page.goto("/enrol/")
    page.fill("input[name=shipments]", "1000")
    page.fill("input[name=average_value]", "2500")
    page.click("form.filters button[type=submit]")
    expect(page.locator("tfoot")).to_contain_text("35")
    page.select_option("select[name=product]", version.product.code)
    page.check("input[name=accept]")
    page.click("form.form button[type=submit]")
    expect(page.locator("ul.messages")).to_contain_text(words["enrolled"])
    expect(page.locator("a[href^='/documents/']")).to_have_count(1)
    policy = Policy.objects.get(seller=user.seller)

    # File a claim on an insured shipment: check first, then submit with a photo.
    shipment = factories.ShipmentFactory(
        policy=policy, shipped_at=timezone.now() - dt.timedelta(hours=2)
    )
    page.goto("/claims/new/")
    page.fill("input[name=shipment]", shipment.external_id)
    page.select_option("select[name=peril]", "damage")
    page.fill("input[name=event_date]", timezone.localdate().isoformat())
    page.fill("input[name=claimed_amount]", "9000")
    page.fill("textarea[name=description]", "Коробка смята, товар разбит")
    page.click("button[name=check]")
    expect(page.locator(".preview")).to_be_visible()
    screenshot(page, f"seller-new-claim-{language}")
    photo = tmp_path / "box.png"
    photo.write_bytes(PNG)
    page.set_input_files("input[name=evidence]", str(photo))
    page.click("button[name=submit]")
    expect(page.locator("h1")).to_contain_text(words["claim"])
    claim = Claim.objects.get(shipment=shipment)
    expect(page.locator("h1")).to_contain_text(claim.number)
    expect(page.locator("a[href*='/evidence/']")).to_contain_text("box.png")

    # The list shows it.
    page.goto("/claims/")
    expect(page.locator("table.claims")).to_contain_text(claim.number)

    # Cargo waits for the marketplace's compensation first; then the adjuster asks and the
    # seller answers with another file.
    assert claim.status == ClaimStatus.AWAITING_COMPENSATION
    claim_release(claim_id=claim.pk)
    claim_request_info(claim_id=claim.pk, adjuster=adjuster, message="Пришлите фото упаковки")
    page.goto(f"/claims/{claim.number}/")
    expect(page.locator("blockquote")).to_contain_text("Пришлите фото упаковки")
    page.fill("textarea[name=message]", "Фото упаковки во вложении")
    page.set_input_files("section.attention input[name=evidence]", str(photo))
    page.click("section.attention button[type=submit]")
    expect(page.locator("ul.messages")).to_contain_text(words["answered"])
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_REVIEW
    assert claim.evidence.count() == 2
    screenshot(page, f"seller-claim-detail-{language}")

    # Download the acknowledgement.
    with page.expect_download() as download:
        page.click("a[href^='/documents/']")
    path = download.value.path()
    assert download.value.suggested_filename.endswith(".pdf")
    with open(path, "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    page.goto("/")
    screenshot(page, f"seller-dashboard-{language}")

    # The same pages on a phone: nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/", "/claims/", f"/claims/{claim.number}/"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    screenshot(page, f"seller-claim-phone-{language}")
