"""A seller uploads a marketplace report in a real browser: dropped on the dashboard's drop
zone, or chosen with the plain file input on a phone; the result page follows a running
import and then shows what the report came to, in English and in Russian."""

import pytest
from playwright.sync_api import expect

from claims.choices import ReportSource
from claims.models import Claim, ReportImport, ReportImportStatus
from claims.reports.importing import report_import_create, report_import_run
from tests import factories
from tests.browser.conftest import screenshot
from tests.browser.test_seller_flow import sign_in
from tests.claims.reports import json_bytes
from tests.test_report_pages import INSURED_SRID, wb_week, wb_xlsx

# The staff roles come from a data migration: keep them across the flushes.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

WORDS = {
    "en": {"fees": "Insured fees found", "csv": "Download the per-row outcomes as CSV"},
    "ru": {"fees": "Найдено застрахованных сборов", "csv": "Скачать итоги по строкам (CSV)"},
}
PHONE = {"width": 390, "height": 844}


def seller_with_insured_item(language: str):
    user = factories.SellerUserFactory(seller__language=language)
    factories.ShipmentFactory(external_id=INSURED_SRID, policy__seller=user.seller)
    return user


def open_dashboard(page, user, language: str) -> None:
    sign_in(page, user.email)
    page.click(f"form.lang button[value={language}]")
    expect(page.locator("html")).to_have_attribute("lang", language)


def drop_file(page, name: str, content: bytes) -> None:
    """Drop a file on the zone as the browser does when one is dragged from the desktop."""
    page.evaluate(
        """([name, text]) => {
            const zone = document.querySelector("[data-dropzone]");
            const data = new DataTransfer();
            data.items.add(new File([text], name, {type: "application/json"}));
            for (const type of ["dragenter", "dragover", "drop"]) {
                zone.dispatchEvent(
                    new DragEvent(type, {dataTransfer: data, bubbles: true, cancelable: true})
                );
            }
        }""",
        [name, content.decode()],
    )


def assert_fits_the_phone(page, path: str) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_report_dropped_on_the_dashboard_opens_a_claim_shown_on_its_result_page(page, language):
    words = WORDS[language]
    user = seller_with_insured_item(language)
    open_dashboard(page, user, language)

    expect(page.locator("[data-drop-hint]")).to_be_visible()
    drop_file(page, "week.json", json_bytes(wb_week()))
    expect(page.locator("[data-file-name]")).to_have_text("week.json")
    screenshot(page, f"report-upload-{language}")
    assert page.evaluate("document.querySelector('input[name=file]').files.length") == 1
    page.click("form.report-upload button[type=submit]")

    expect(page.locator("#fees-h")).to_have_text(words["fees"])
    claim = Claim.objects.get(seller=user.seller)
    expect(page.locator(".claims-opened a")).to_have_text(claim.number)
    expect(page.locator("table.lines tbody tr")).to_have_count(3)
    imported = ReportImport.objects.get(seller=user.seller)
    assert imported.status == ReportImportStatus.DONE
    screenshot(page, f"report-result-{language}")

    with page.expect_download() as download:
        page.click(f"text={words['csv']}")
    with open(download.value.path(), encoding="utf-8-sig") as rows:
        assert claim.number in rows.read()
    result = page.url
    page.click("header.top nav a[href='/reports/']")
    expect(page.locator("table.stack tbody tr")).to_have_count(1)
    screenshot(page, f"report-history-{language}")

    # The same page on a phone: rows stack into cards, nothing wider than the screen.
    page.set_viewport_size(PHONE)
    page.goto(result)
    expect(page.locator("table.lines thead")).to_have_css("position", "absolute")
    assert_fits_the_phone(page, page.url)
    screenshot(page, f"report-result-phone-{language}")
    page.click(".claims-opened a")
    expect(page.locator("h1")).to_contain_text(claim.number)


def test_on_a_phone_the_portals_workbook_uploads_by_the_plain_file_input(page, tmp_path):
    user = seller_with_insured_item("ru")
    page.set_viewport_size(PHONE)
    open_dashboard(page, user, "ru")
    assert_fits_the_phone(page, "/")
    screenshot(page, "report-upload-phone-ru")

    # The seller portal's weekly XLSX, as a seller downloads it: read as its sheet streams.
    report = tmp_path / "неделя.xlsx"
    report.write_bytes(wb_xlsx())
    page.set_input_files("input[name=file]", str(report))
    page.click("form.report-upload button[type=submit]")

    expect(page.locator("#fees-h")).to_have_text(WORDS["ru"]["fees"])
    claim = Claim.objects.get(seller=user.seller)
    expect(page.locator(".claims-opened a")).to_have_text(claim.number)
    assert ReportImport.objects.get(seller=user.seller).format == "wb_xlsx"
    assert_fits_the_phone(page, page.url)
    screenshot(page, "report-result-xlsx-phone-ru")
    page.click("header.top nav a[href='/reports/']")
    expect(page.locator("table.stack tbody tr")).to_have_count(1)
    expect(page.locator("table.stack")).to_contain_text("неделя.xlsx")
    assert_fits_the_phone(page, "/reports/")
    screenshot(page, "report-history-phone-ru")


def test_a_file_that_is_no_report_is_refused_on_the_form(page, tmp_path):
    user = seller_with_insured_item("en")
    open_dashboard(page, user, "en")
    wrong = tmp_path / "photo.png"
    wrong.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

    page.set_input_files("input[name=file]", str(wrong))
    page.click("form.report-upload button[type=submit]")

    expect(page.locator(".dropzone .errorlist")).to_contain_text("Expected one of")
    assert not ReportImport.objects.exists()
    screenshot(page, "report-refused-en")


def test_the_result_page_follows_a_running_import_until_it_is_done(page):
    user = seller_with_insured_item("en")
    imported = report_import_create(
        marketplace=user.seller.marketplace,
        seller=user.seller,
        content=json_bytes(wb_week()),
        filename="week.json",
        source=ReportSource.UPLOAD,
    )
    open_dashboard(page, user, "en")

    page.goto(f"/reports/{imported.pk}/")
    expect(page.locator("progress")).to_have_attribute("value", "0")
    expect(page.locator("[data-progress-text]")).to_have_text("0 of 3 rows read")
    screenshot(page, "report-running-en")
    # A worker imports it meanwhile; the page notices by itself, without the refresh link.
    report_import_run(import_id=imported.pk)

    expect(page.locator("#fees-h")).to_be_visible()
    expect(page.locator("progress")).to_have_count(0)
