"""The seller's report pages: upload a marketplace report, follow its import, read what each
row came to (on the page and as CSV), find it again in the history; another seller's import
is a 404 everywhere, and a file that is no report is refused on the form with nothing stored."""

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone, translation

from claims.choices import ReportFormat, ReportOutcome, ReportSource
from claims.models import Claim, MarketplaceCompensation, ReportImport, ReportImportStatus
from claims.pages.reports import reason_label
from claims.reports.importing import report_import_create
from tests import factories
from tests.claims.reports import json_bytes, xlsx_bytes

pytestmark = pytest.mark.django_db

D = Decimal
INSURED_SRID = "7722.0.0"
UNKNOWN_SRID = "8833.0.0"


def yesterday() -> str:
    return (timezone.localdate() - dt.timedelta(days=1)).isoformat()


def wb_row(rrd_id: int, srid: str, operation: str, **values) -> dict:
    return {
        "rrd_id": rrd_id,
        "srid": srid,
        "doc_type_name": "Продажа",
        "supplier_oper_name": operation,
        "bonus_type_name": "",
        "quantity": 0,
        "delivery_amount": 0,
        "return_amount": 0,
        "delivery_rub": D("0"),
        "ppvz_for_pay": D("0"),
        "rr_dt": yesterday(),
        "currency_name": "руб",
        **values,
    }


def wb_week(*, sales: int = 1) -> list[dict]:
    """A reverse-leg fee of an insured item, `sales` sales, and a compensation paid."""
    return [
        wb_row(
            9004,
            INSURED_SRID,
            "Логистика",
            bonus_type_name="От клиента при отмене",
            return_amount=1,
            delivery_rub=D("50.00"),
        ),
        *(
            wb_row(9100 + n, f"9{n:03d}.0.0", "Продажа", quantity=1, ppvz_for_pay=D("1120.50"))
            for n in range(sales)
        ),
        wb_row(9007, UNKNOWN_SRID, "Компенсация ущерба", quantity=1, ppvz_for_pay=D("1640.00")),
    ]


XLSX_HEADER = [
    "Номер строки",
    "Тип документа",
    "Обоснование для оплаты",
    "Виды логистики, штрафов и доплат",
    "Srid",
    "Дата операции",
    "Количество доставок",
    "Количество возврата",
    "Услуги по доставке товара покупателю",
    "К перечислению Продавцу за реализованный Товар",
    "Валюта",
]


def wb_xlsx() -> bytes:
    day = timezone.localdate() - dt.timedelta(days=1)
    return xlsx_bytes(
        [
            XLSX_HEADER,
            # Money as Excel keeps it: a float cell.
            [
                9004,
                "Продажа",
                "Логистика",
                "От клиента при отмене",
                INSURED_SRID,
                day,
                0,
                1,
                50.0,
                0,
                "руб",
            ],
            [9001, "Продажа", "Продажа", "", "9000.0.0", day, 1, 0, 0, 1120.5, "руб"],
        ],
        title_rows=1,
    )


@pytest.fixture
def english(client):
    client.cookies["django_language"] = "en"
    return client


@pytest.fixture
def insured(seller_user):
    return factories.ShipmentFactory(external_id=INSURED_SRID, policy__seller=seller_user.seller)


def upload(client, capture, content: bytes, name: str = "week.json"):
    """Post the file as the dashboard's form does; the import runs after the commit."""
    with capture(execute=True):
        return client.post(
            reverse("seller:report_upload"), {"file": SimpleUploadedFile(name, content)}
        )


def stored(seller, content: bytes, name: str = "week.json") -> ReportImport:
    """An import stored but not run yet, as a worker would find it."""
    return report_import_create(
        marketplace=seller.marketplace,
        seller=seller,
        content=content,
        filename=name,
        source=ReportSource.UPLOAD,
    )


def csv_rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))


# Upload and result


def test_a_wb_v5_report_opens_a_claim_and_its_result_page_shows_the_figures(
    signed_in, english, seller_user, insured, django_capture_on_commit_callbacks
):
    response = upload(signed_in, django_capture_on_commit_callbacks, json_bytes(wb_week()))

    imported = ReportImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("seller:report", args=[imported.pk])
    assert (imported.seller, imported.marketplace) == (seller_user.seller, insured.marketplace)
    assert (imported.source, imported.created_by, imported.format) == (
        ReportSource.UPLOAD,
        seller_user,
        ReportFormat.WB_V5,
    )
    assert imported.status == ReportImportStatus.DONE
    claim = Claim.objects.get(shipment=insured)
    assert MarketplaceCompensation.objects.get().shipment_external_id == UNKNOWN_SRID

    page = signed_in.get(response["Location"])

    html = page.content.decode()
    assert page.status_code == 200
    assert "Insured fees found" in html and "for 50.00\xa0₽" in html
    assert f'href="{reverse("seller:claim", args=[claim.number])}"' in html
    assert "Compensation counted" in html and "for 1,640.00\xa0₽" in html
    for label in ("Claim opened", "Compensation recorded", "Ignored"):
        assert label in html
    assert "Not a row the insurance covers" in html  # the sale's reason, as a label
    assert "not_covered" not in html.replace("?outcome=", "")
    assert reverse("seller:report_csv", args=[imported.pk]) in html
    assert "<progress" not in html


def test_the_result_page_reads_in_russian(signed_in, insured, django_capture_on_commit_callbacks):
    upload(signed_in, django_capture_on_commit_callbacks, json_bytes(wb_week()))

    page = signed_in.get(reverse("seller:report", args=[ReportImport.objects.get().pk]))

    html = page.content.decode()
    assert "50,00\xa0₽" in html and "1\xa0640,00\xa0₽" in html
    for english in ("Insured fees found", "Claim opened", "Download the per-row outcomes"):
        assert english not in html
    assert "Скачать" in html


def test_the_rows_filter_by_outcome_and_page(
    signed_in, english, insured, django_capture_on_commit_callbacks
):
    upload(signed_in, django_capture_on_commit_callbacks, json_bytes(wb_week(sales=30)))
    url = reverse("seller:report", args=[ReportImport.objects.get().pk])

    opened = signed_in.get(url, {"outcome": ReportOutcome.CLAIM_OPENED})
    ignored = signed_in.get(url, {"outcome": ReportOutcome.IGNORED, "page": 2})
    fees = signed_in.get(url, {"outcome": "fees"})
    nonsense = signed_in.get(url, {"outcome": "<script>"})

    assert [line.key for line in opened.context["page"]] == ["9004"]
    assert [line.key for line in fees.context["page"]] == ["9004"]
    assert ignored.context["page"].paginator.count == 30
    assert len(ignored.context["page"]) == 5
    assert "outcome=ignored&amp;page=1" in ignored.content.decode()
    assert nonsense.context["show"] == ""
    assert nonsense.context["page"].paginator.count == 32


def test_the_per_row_outcomes_download_as_csv(
    signed_in, english, insured, django_capture_on_commit_callbacks
):
    upload(signed_in, django_capture_on_commit_callbacks, json_bytes(wb_week()))
    imported = ReportImport.objects.get()
    claim = Claim.objects.get()

    response = signed_in.get(reverse("seller:report_csv", args=[imported.pk]))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    assert csv_rows(response) == [
        ["Line", "Row id", "Operation", "Outcome", "Reason", "Amount, ₽", "Item", "Claim"],
        [
            "1",
            "9004",
            "Return logistics from the buyer",
            "Claim opened",
            "",
            "50.00",
            INSURED_SRID,
            claim.number,
        ],
        [
            "2",
            "9100",
            "Sale",
            "Ignored",
            "Not a row the insurance covers",
            "1120.50",
            "9000.0.0",
            "",
        ],
        [
            "3",
            "9007",
            "Marketplace compensation",
            "Compensation recorded",
            "",
            "1640.00",
            UNKNOWN_SRID,
            "",
        ],
    ]


def test_the_csv_is_in_russian_with_decimal_commas(
    signed_in, insured, django_capture_on_commit_callbacks
):
    upload(signed_in, django_capture_on_commit_callbacks, json_bytes(wb_week()))

    rows = csv_rows(
        signed_in.get(reverse("seller:report_csv", args=[ReportImport.objects.get().pk]))
    )

    assert rows[0][0] != "Line"
    assert rows[1][5] == "50,00"
    assert rows[2][4] not in ("", "not_covered", "Not a row the insurance covers")


def test_an_xlsx_report_made_in_the_portal_imports_too(
    signed_in, english, insured, django_capture_on_commit_callbacks
):
    response = upload(signed_in, django_capture_on_commit_callbacks, wb_xlsx(), "detail.xlsx")

    imported = ReportImport.objects.get()
    assert response["Location"] == reverse("seller:report", args=[imported.pk])
    assert imported.format == ReportFormat.WB_XLSX
    assert imported.outcomes == {ReportOutcome.CLAIM_OPENED: 1, ReportOutcome.IGNORED: 1}
    claim = Claim.objects.get(shipment=insured)
    page = signed_in.get(response["Location"])
    assert claim.number in page.content.decode()
    assert "Wildberries: weekly report (XLSX)" in page.content.decode()


def test_the_history_lists_the_sellers_imports_and_the_navigation_links_it(
    signed_in, english, seller_user, insured, django_capture_on_commit_callbacks
):
    upload(signed_in, django_capture_on_commit_callbacks, json_bytes(wb_week()), "march.json")
    upload(signed_in, django_capture_on_commit_callbacks, wb_xlsx(), "april.xlsx")
    stored(factories.SellerFactory(), json_bytes(wb_week()), "someone-elses.json")

    page = signed_in.get(reverse("seller:reports"))

    html = page.content.decode()
    assert [i.filename for i in page.context["page"]] == ["april.xlsx", "march.json"]
    assert "someone-elses.json" not in html
    assert "Wildberries: weekly report (XLSX)" in html
    assert "Wildberries: realization report (statistics API v5)" in html
    assert "Done" in html
    assert f'href="{reverse("seller:reports")}" aria-current="page"' in html


def test_the_dashboard_offers_the_upload_with_a_plain_file_input_and_no_inline_script(
    signed_in, english
):
    html = signed_in.get(reverse("seller:dashboard")).content.decode()

    assert f'action="{reverse("seller:report_upload")}"' in html
    assert 'enctype="multipart/form-data"' in html
    assert 'type="file" name="file"' in html
    assert "data-dropzone" in html
    assert '<script src="/static/seller/reports.js" defer></script>' in html
    assert html.count("<script") == 1


# While it runs, and when it fails


def test_a_running_import_shows_its_progress_and_answers_its_status(
    signed_in, english, seller_user
):
    imported = stored(seller_user.seller, json_bytes(wb_week()))
    ReportImport.objects.filter(pk=imported.pk).update(
        status=ReportImportStatus.RUNNING, processed=1
    )

    page = signed_in.get(reverse("seller:report", args=[imported.pk]))
    status = signed_in.get(reverse("seller:report_status", args=[imported.pk]))

    html = page.content.decode()
    assert '<progress max="3" value="1"' in html
    assert f'data-status-url="{reverse("seller:report_status", args=[imported.pk])}"' in html
    assert f'href="{reverse("seller:report", args=[imported.pk])}">Refresh</a>' in html
    assert status["Cache-Control"] == "private, no-store"
    assert status.json() == {
        "status": "running",
        "status_label": "Reading",
        "finished": False,
        "rows": 3,
        "processed": 1,
        "percent": 33,
        "progress_text": "1 of 3 rows read",
    }


def test_a_failed_import_says_so_and_offers_the_form_again(signed_in, english, seller_user):
    imported = stored(seller_user.seller, json_bytes(wb_week()))
    ReportImport.objects.filter(pk=imported.pk).update(
        status=ReportImportStatus.FAILED, processed=0, error="OperationalError: database locked"
    )

    html = signed_in.get(reverse("seller:report", args=[imported.pk])).content.decode()

    assert "could not be imported to the end" in html
    assert f'action="{reverse("seller:report_upload")}"' in html
    assert "OperationalError" not in html  # the technical error is for the admin
    assert signed_in.get(reverse("seller:report_status", args=[imported.pk])).json()["finished"]


def test_a_file_that_is_no_report_is_refused_on_the_form_and_nothing_is_stored(
    signed_in, english, settings, django_capture_on_commit_callbacks
):
    response = upload(signed_in, django_capture_on_commit_callbacks, b"hello\x00world", "x.pdf")

    assert response.status_code == 200
    errors = response.context["upload_form"].errors["file"]
    assert "Expected one of" in errors[0]
    assert "Wildberries weekly detail report (XLSX)" in errors[0]
    assert 'aria-invalid="true"' in response.content.decode()
    assert ReportImport.objects.count() == 0
    media = settings.STORAGES["default"]["OPTIONS"]["location"]
    assert not [path for path in Path(media).rglob("*") if path.is_file()]


def test_an_empty_post_asks_for_the_file(signed_in, english):
    response = signed_in.post(reverse("seller:report_upload"))

    assert response.status_code == 200
    assert response.context["upload_form"].errors["file"]
    assert ReportImport.objects.count() == 0


# Scope


def test_another_sellers_import_is_a_404_everywhere(signed_in):
    theirs = stored(factories.SellerFactory(), json_bytes(wb_week()))

    for name in ("seller:report", "seller:report_status", "seller:report_csv"):
        assert signed_in.get(reverse(name, args=[theirs.pk])).status_code == 404, name


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.post(reverse("seller:report_upload"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_result_page_reads_in_a_bounded_number_of_queries(
    signed_in, insured, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    upload(signed_in, django_capture_on_commit_callbacks, json_bytes(wb_week(sales=40)))
    url = reverse("seller:report", args=[ReportImport.objects.get().pk])

    with django_assert_max_num_queries(12):
        assert signed_in.get(url).status_code == 200


def test_a_reason_code_no_list_knows_reads_as_other_reason():
    with translation.override("en"):
        assert reason_label("") == ""
        assert reason_label("uninsured") == "The item is not insured"
        assert reason_label("bad_number") == "A number could not be read"
        assert reason_label("some_new_code_of_a_reader") == "Other reason"
    with translation.override("ru"):
        assert reason_label("some_new_code_of_a_reader") == "Другая причина"
