"""Every seller table on a phone, and the figures page on a desktop and a phone, in a real
browser in both languages: rows stack into labelled cards, so that the status and the amounts
are on the screen, and no page is wider than the phone."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext, pgettext
from playwright.sync_api import expect

from claims.choices import ClaimStatus, ReportSource
from claims.reports.importing import report_import_create, report_import_run
from tests import factories
from tests.browser.conftest import screenshot
from tests.browser.test_seller_flow import sign_in
from tests.claims.reports import json_bytes
from tests.test_report_pages import INSURED_SRID, wb_week

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

D = Decimal
PHONE = {"width": 390, "height": 844}


def _seller_with_a_year_of_claims(language: str):
    """A seller with an insured item, claims over three months in several states, and a
    marketplace report read."""
    user = factories.SellerUserFactory(seller__language=language)
    seller = user.seller
    shipment = factories.ShipmentFactory(external_id=INSURED_SRID, policy__seller=seller)
    today = timezone.localdate()
    paid = factories.ClaimFactory(
        shipment__policy=shipment.policy,
        status=ClaimStatus.PAID,
        claimed_amount=D("80000.00"),
        compensation_amount=D("35000.00"),
        deductible_amount=D("500.00"),
        payable_amount=D("44500.00"),
        event_date=today - dt.timedelta(days=70),
    )
    factories.PayoutFactory(claim=paid, amount=D("50000.00"))
    factories.RecoveryFactory(claim=paid, amount=D("5500.00"))
    factories.ClaimFactory(
        shipment__policy=shipment.policy,
        status=ClaimStatus.APPROVED,
        claimed_amount=D("12000.00"),
        deductible_amount=D("500.00"),
        payable_amount=D("11500.00"),
        event_date=today - dt.timedelta(days=35),
    )
    factories.ClaimFactory(
        shipment__policy=shipment.policy,
        status=ClaimStatus.REJECTED,
        claimed_amount=D("39642.00"),
        payable_amount=D("39142.00"),
        event_date=today,
    )
    imported = report_import_create(
        marketplace=seller.marketplace,
        seller=seller,
        content=json_bytes(wb_week()),
        filename="week.json",
        source=ReportSource.UPLOAD,
    )
    report_import_run(import_id=imported.pk)
    return user, shipment, imported


def _labels(language: str, *names: str) -> list[str]:
    """Return the cards' labels as the page writes them in `language`."""
    with translation.override(language):
        return [
            pgettext("money line", name[1:]) if name.startswith("~") else gettext(name)
            for name in names
        ]


def _assert_on_the_screen(locator, width: int) -> None:
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= width, locator


def _assert_no_sideways_scroll(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url


@pytest.mark.parametrize("language", ["en", "ru"])
def test_on_a_phone_every_table_shows_its_status_and_amounts_without_scrolling(page, language):
    user, shipment, imported = _seller_with_a_year_of_claims(language)
    claim = user.seller.claims.order_by("pk").first()
    page.set_viewport_size(PHONE)
    sign_in(page, user.email)
    page.click(f"form.lang button[value={language}]")
    expect(page.locator("html")).to_have_attribute("lang", language)
    # Each page, its table and the cells of its first card that must be on the screen.
    tables = [
        ("/", "table.claims", ("Status", "~Loss", "~Insurer paid", "~You bore")),
        ("/claims/", "table.claims", ("Status", "~Loss", "~Insurer paid", "~Still owed back")),
        ("/shipments/", "table.shipments", ("Latest event", "Declared value", "Insured")),
        ("/policies/", "table.covers", ("Limit per claim", "Limit per event", "Deductible")),
        ("/enrol/", "table.covers", ("Premium", "Limit per claim", "Deductible")),
        ("/reports/", "table.stack", ("Status", "Rows", "Insured fees", "Compensation")),
        (f"/reports/{imported.pk}/", "table.lines", ("Operation", "Amount", "Outcome")),
        ("/figures/", "table.figures-money", ("Claims", "~Loss", "~Insurer paid", "~You bore")),
        ("/figures/", "table.figures-status", ("All",)),
    ]
    for path, table, names in tables:
        page.goto(path)
        _assert_no_sideways_scroll(page, PHONE["width"])
        card = page.locator(f"{table} tbody tr").first
        for label in _labels(language, *names):
            _assert_on_the_screen(card.locator(f"td[data-label='{label}']"), PHONE["width"])
        expect(page.locator(f"{table} thead")).to_have_css("position", "absolute")
        screenshot(page, f"phone{path.replace('/', '-').rstrip('-') or '-dashboard'}-{language}")
    for path in (f"/claims/{claim.number}/", f"/shipments/{shipment.pk}/"):
        page.goto(path)
        _assert_no_sideways_scroll(page, PHONE["width"])


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("width", [1280, 390])
def test_the_figures_page_draws_its_charts_and_tables_on_a_desktop_and_a_phone(
    page, language, width
):
    user, _shipment, _imported = _seller_with_a_year_of_claims(language)
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, user.email)
    page.click(f"form.lang button[value={language}]")

    page.click("header.top nav a[href='/figures/']")

    charts = page.locator("svg.bars")
    expect(charts).to_have_count(2)
    for i in range(2):
        chart = charts.nth(i)
        _assert_on_the_screen(chart, width)
        expect(chart.locator("title").first).not_to_be_empty()
        # One bar a month, for the last twelve.
        expect(chart.locator("text.label")).to_have_count(12)
    this_month = page.locator("table.figures-money tbody tr").last
    expect(this_month.locator("th")).to_have_text(
        f"{_month_name(language)} {timezone.localdate().year}"
    )
    expect(page.locator("svg.limit-bar")).to_have_count(1)
    expect(page.locator("ul.legend li").first).to_be_visible()
    _assert_no_sideways_scroll(page, width)
    screenshot(page, f"figures-{language}-{width}")


def _month_name(language: str) -> str:
    names = {
        "en": "January February March April May June July August September October November "
        "December",
        "ru": "январь февраль март апрель май июнь июль август сентябрь октябрь ноябрь декабрь",
    }[language].split()
    return names[timezone.localdate().month - 1]
