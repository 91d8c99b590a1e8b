"""The senior's sign-off in a real browser, in Russian and in English: an adjuster approves a
claim above their authority limit and is told it awaits the sign-off; the senior sends it
back with a note, the adjuster reads the note and asks again, and the senior signs it off.
The claim page shows the shipment's events and the service-level clock, at 1280 and 390 px."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from claims.choices import ClaimStatus
from claims.models import Claim
from policies.choices import ShipmentEventKind
from tests import factories
from tests.browser.conftest import login, screenshot

# The staff roles come from a data migration: keep them across the flushes.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

D = Decimal
TEXT = {
    "ru": {
        "awaits": "Ждёт утверждения старшим урегулировщиком.",
        "sign_off": "Утвердить",
        "send_back": "Вернуть на доработку",
        "events": "События отправления",
        "damaged": "Повреждено",
        "clock": "из 14 рабочих дней",
        "approved": "Одобрено",
    },
    "en": {
        "awaits": "Awaits the sign-off of a senior adjuster.",
        "sign_off": "Sign off",
        "send_back": "Send back",
        "events": "The shipment's events",
        "damaged": "Damaged",
        "clock": "of 14 working days used",
        "approved": "Approved",
    },
}


@pytest.fixture
def en_page(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, locale="en-US", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def waiting_claim(adjuster) -> Claim:
    """A cargo damage of 40 000 ₽ under review with its adjuster, the shipment's events known."""
    claim = factories.ClaimFactory(
        status=ClaimStatus.UNDER_REVIEW,
        assignee=adjuster,
        claimed_amount=D("40000.00"),
        sla_started_on=timezone.localdate() - dt.timedelta(days=5),
    )
    shipped = timezone.now() - dt.timedelta(days=9)
    for kind, days, amount in (
        (ShipmentEventKind.SHIPPED, 0, None),
        (ShipmentEventKind.DELIVERED, 2, None),
        (ShipmentEventKind.DAMAGED, 3, D("40000.00")),
    ):
        factories.ShipmentEventFactory(
            shipment=claim.shipment,
            kind=kind,
            occurred_at=shipped + dt.timedelta(days=days),
            amount=amount,
        )
    return claim


def open_action(page, claim: Claim, name: str):
    page.goto(f"/admin/claims/claim/{claim.pk}/change/")
    form = page.locator(f"#act-{name}")
    if not form.is_visible():
        page.locator(f"details:has(#act-{name}) > summary").click()
    return form


def run_action(page, claim: Claim, name: str, **fields) -> None:
    form = open_action(page, claim, name)
    for field, value in fields.items():
        form.locator(f"[name={name}-{field}]").fill(value)
    form.locator("input[type=submit]").click()
    expect(page.locator("ul.messagelist")).to_be_visible()


def work_the_sign_off(page, language: str) -> Claim:
    text = TEXT[language]
    adjuster = factories.StaffFactory(email=f"adjuster-{language}@test.local")
    adjuster.authority_limit = D("10000.00")
    adjuster.save()
    senior = factories.StaffFactory(
        email=f"senior-{language}@test.local",
        group="Senior adjuster",
        authority_limit=D("1000000.00"),
    )
    claim = waiting_claim(adjuster)

    login(page, adjuster.email, factories.PASSWORD)
    run_action(page, claim, "approve", note="Акт ПВЗ подтверждает ущерб")
    claim.refresh_from_db()
    assert claim.signoff_requested_by == adjuster
    expect(page.locator("#approve-waiting")).to_contain_text(text["awaits"])
    expect(page.locator("#act-approve")).to_have_count(0)
    expect(page.locator("#act-sign_off")).to_have_count(0)

    login(page, senior.email, factories.PASSWORD)
    open_action(page, claim, "send_back")
    expect(page.locator("#act-sign_off input[type=submit]")).to_have_value(text["sign_off"])
    expect(page.locator("#act-send_back input[type=submit]")).to_have_value(text["send_back"])
    expect(page.locator("#timeline")).to_contain_text(text["events"])
    expect(page.locator("#timeline li.insured")).to_contain_text(text["damaged"])
    expect(page.locator("#sla")).to_contain_text(text["clock"])
    screenshot(page, f"admin-signoff-{language}-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    screenshot(page, f"admin-signoff-{language}-390")
    page.set_viewport_size({"width": 1280, "height": 900})
    run_action(page, claim, "send_back", note="Сверьте акт ПВЗ с фотографиями")
    claim.refresh_from_db()
    assert (claim.signoff_requested_by, claim.assignee) == (None, adjuster)

    login(page, adjuster.email, factories.PASSWORD)
    page.goto(f"/admin/claims/claim/{claim.pk}/change/")
    expect(page.locator("body")).to_contain_text("Сверьте акт ПВЗ с фотографиями")
    run_action(page, claim, "approve", note="Акт сверен с фотографиями")

    login(page, senior.email, factories.PASSWORD)
    page.goto("/admin/claims/claim/?signoff=mine")
    expect(page.locator("#result_list")).to_contain_text(claim.number)
    run_action(page, claim, "sign_off")
    expect(page.locator(".workbench .status")).to_have_text(text["approved"])
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED
    return claim


def test_a_senior_sends_back_and_then_signs_off_in_russian(page):
    claim = work_the_sign_off(page, "ru")

    # The seller reads the note the adjuster wrote when asking the second time.
    assert claim.transitions.get(transition="approve").note == "Акт сверен с фотографиями"


def test_a_senior_sends_back_and_then_signs_off_in_english(en_page):
    work_the_sign_off(en_page, "en")
