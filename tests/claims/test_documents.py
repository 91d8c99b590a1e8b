"""The PDF documents: made by the transition that calls for each, once per event,
with the figures the records hold, in the seller's language, and only for those allowed."""

import datetime as dt
import hashlib
import http.server
import io
import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from claims.assessment import APPEAL_WINDOW_DAYS, DECISION_WORKING_DAYS
from claims.choices import ClaimStatus
from claims.compensation import compensation_match
from claims.filing import claim_file
from claims.lifecycle import claim_pay, claim_reject, claim_reopen
from claims.outputs.bordereaux import bordereau_make
from claims.outputs.documents import bordereau_pdf_make, settlement_act_make
from claims.reconciliation.run import reconciliation_run, reconciliation_start
from claims.tasks import bordereaux_monthly_task
from policies.actors import Actor
from policies.calendar import add_working_days
from policies.choices import DocumentKind, Language
from policies.documents import BASE_URL, ProjectStaticFetcher, document_store, render_pdf
from policies.models import Document
from policies.services import policy_enrol
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal
A4 = (595, 842)


def pdf_text(document: Document) -> str:
    """Return the document's text with the spacing of numbers made plain."""
    with document.file.open("rb") as pdf:
        reader = PdfReader(io.BytesIO(pdf.read()))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return text.replace("\xa0", " ").replace("\u202f", " ")


def pages(document: Document) -> list:
    with document.file.open("rb") as pdf:
        return PdfReader(io.BytesIO(pdf.read())).pages


def day(value: dt.date) -> str:
    return value.strftime("%d.%m.%Y")


def the_document(kind: str, **owner) -> Document:
    return Document.objects.get(kind=kind, **owner)


@pytest.fixture
def seller_user():
    return factories.SellerUserFactory(seller__language=Language.RU)


@pytest.fixture
def english_user():
    return factories.SellerUserFactory(seller__language=Language.EN)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what the block queues on commit (the document tasks) as the block ends."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def paid(adjuster, committed):
    """Loss 12 000, compensation 4 000, deductible 500 → 7 500 paid."""
    claim = factories.ClaimFactory(status=ClaimStatus.APPROVED)
    factories.CompensationFactory(shipment=claim.shipment, claim=claim, amount=D("4000.00"))
    with committed():
        return claim_pay(
            claim_id=claim.pk, actor=Actor.for_user(adjuster), reference="PP-2026-0001"
        )


# Policy certificate


def test_enrolment_issues_a_certificate_with_the_policy_terms(seller_user, committed):
    version = factories.ProductVersionFactory(product__name="Стандарт", version=3)

    with committed():
        policy = policy_enrol(
            seller=seller_user.seller,
            product_code=version.product.code,
            starts_on=dt.date(2026, 11, 22),
            actor=Actor.for_user(seller_user),
        )

    document = the_document(DocumentKind.POLICY_CERTIFICATE, policy=policy)
    assert document.seller == seller_user.seller
    assert document.language == Language.RU
    text = pdf_text(document)
    assert "Страховой сертификат" in text
    for fact in (
        policy.number,
        seller_user.seller.legal_name,
        seller_user.seller.tax_id,
        "Стандарт",
        "версия 3",
        "с 22.11.2026 по 21.11.2027",
        "1 000 000,00 ₽",  # aggregate limit
        "50 000,00 ₽",  # cargo limit per claim
        "100 000,00 ₽",  # cargo limit per event
        "500,00 ₽",  # cargo deductible
        "1,4 %",  # premium rate
    ):
        assert fact in text, fact


def test_certificate_follows_the_sellers_language(english_user, committed):
    version = factories.ProductVersionFactory()

    with committed():
        policy = policy_enrol(
            seller=english_user.seller,
            product_code=version.product.code,
            starts_on=dt.date(2026, 11, 22),
            actor=Actor.for_user(english_user),
        )

    document = the_document(DocumentKind.POLICY_CERTIFICATE, policy=policy)
    text = pdf_text(document)
    assert document.language == Language.EN
    assert "Insurance certificate" in text
    assert "50,000.00 ₽" in text
    assert "Страховой сертификат" not in text


# Claim acknowledgement


def test_submitting_a_claim_issues_an_acknowledgement_with_what_happens_next(
    seller_user, committed
):
    shipment = factories.ShipmentFactory(policy__seller=seller_user.seller)
    event_date = timezone.localdate() - dt.timedelta(days=3)

    with committed():
        claim = claim_file(
            actor=Actor.for_user(seller_user),
            seller=seller_user.seller,
            shipment=shipment,
            peril="damage",
            claimed_amount=D("12345.60"),
            event_date=event_date,
            source="seller",
            submit=True,
        )

    text = pdf_text(the_document(DocumentKind.CLAIM_ACKNOWLEDGEMENT, claim=claim))
    decide_by = add_working_days(timezone.localdate(), DECISION_WORKING_DAYS)
    for fact in (
        claim.number,
        shipment.external_id,
        shipment.order_id,
        "Повреждение",
        day(event_date),
        "12 345,60 ₽",
        day(decide_by),
    ):
        assert fact in text, fact


def test_a_draft_has_no_acknowledgement(seller_user, committed):
    shipment = factories.ShipmentFactory(policy__seller=seller_user.seller)

    with committed():
        claim_file(
            actor=Actor.for_user(seller_user),
            seller=seller_user.seller,
            shipment=shipment,
            peril="damage",
            claimed_amount=D("100.00"),
            event_date=timezone.localdate(),
            source="seller",
            submit=False,
        )

    assert not Document.objects.filter(kind=DocumentKind.CLAIM_ACKNOWLEDGEMENT).exists()


# Settlement act


def test_payment_issues_a_settlement_act_with_the_calculation_line_by_line(paid):
    claim = paid

    document = the_document(DocumentKind.SETTLEMENT_ACT, claim=claim)
    text = pdf_text(document)
    assert "Страховой акт" in text
    for line, amount in (
        ("Размер ущерба", "12 000,00 ₽"),
        ("Минус компенсация маркетплейса", "4 000,00 ₽"),
        ("Чистый ущерб", "8 000,00 ₽"),
        ("Минус франшиза", "500,00 ₽"),
        ("Лимит на случай", "50 000,00 ₽"),
        ("К выплате", "7 500,00 ₽"),
    ):
        assert f"{line} {amount}" in text, line
    assert "PP-2026-0001" in text
    assert day(claim.payout.paid_on) in text
    assert len(pages(document)) == 1


def test_settlement_act_names_the_limit_that_bound(adjuster, committed):
    claim = factories.ClaimFactory(status=ClaimStatus.APPROVED, claimed_amount=D("80000.00"))
    claim.shipment.declared_value = D("80000.00")
    claim.shipment.save()

    with committed():
        claim_pay(claim_id=claim.pk, actor=Actor.for_user(adjuster))

    text = pdf_text(the_document(DocumentKind.SETTLEMENT_ACT, claim=claim))
    assert "Лимит на случай 50 000,00 ₽ применён" in text
    assert "К выплате 50 000,00 ₽" in text


def test_settlement_act_shows_the_calculation_as_paid_not_as_it_is_later(paid):
    claim = paid
    act = the_document(DocumentKind.SETTLEMENT_ACT, claim=claim)
    late = factories.CompensationFactory(shipment=claim.shipment, amount=D("6000.00"))
    compensation_match(compensation_id=late.pk)
    act.delete()

    again = settlement_act_make(claim_id=claim.pk)

    assert "К выплате 7 500,00 ₽" in pdf_text(again)


def test_settlement_act_shows_the_loss_in_one_line_on_its_one_page(paid):
    document = the_document(DocumentKind.SETTLEMENT_ACT, claim=paid)

    text = " ".join(pdf_text(document).split())
    for label, amount in (
        ("Убыток", "12 000,00 ₽"),
        ("Маркетплейс выплатил", "4 000,00 ₽"),
        ("Страховщик выплатил", "7 500,00 ₽"),
        ("На вас", "500,00 ₽"),
    ):
        assert f"{label} {amount}" in text, label
    assert "Франшиза: 500,00 ₽" in text
    assert len(pages(document)) == 1


def test_settlement_act_names_what_each_limit_took_off(adjuster, english_user, committed):
    claim = factories.ClaimFactory(
        status=ClaimStatus.APPROVED,
        claimed_amount=D("80000.00"),
        shipment__declared_value=D("80000.00"),
        shipment__policy__seller=english_user.seller,
    )

    with committed():
        claim_pay(claim_id=claim.pk, actor=Actor.for_user(adjuster))

    document = the_document(DocumentKind.SETTLEMENT_ACT, claim=claim)
    text = " ".join(pdf_text(document).split())
    assert "You bore 30,000.00 ₽ Deductible: 500.00 ₽" in text
    assert "Limit per claim took off 29,500.00 ₽" in text
    assert len(pages(document)) == 1


# Rejection letter


def test_rejection_issues_a_letter_with_the_reason_and_how_to_appeal(adjuster, committed):
    claim = factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW, assignee=adjuster)

    with committed():
        claim_reject(
            claim_id=claim.pk,
            adjuster=adjuster,
            code="insufficient_evidence",
            reason="На фотографиях нет повреждений упаковки.",
        )

    text = pdf_text(the_document(DocumentKind.REJECTION_LETTER, claim=claim))
    appeal_by = timezone.localdate() + dt.timedelta(days=APPEAL_WINDOW_DAYS)
    for fact in (
        claim.number,
        "Доказательства не подтверждают заявление",
        "На фотографиях нет повреждений упаковки.",
        "обжаловать",
        day(appeal_by),
    ):
        assert fact in text, fact
    # The ground is told in words; its code is for the API.
    assert "insufficient_evidence" not in text


def test_each_rejection_of_a_reopened_claim_has_its_own_letter(adjuster, committed):
    claim = factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW, assignee=adjuster)
    with committed():
        claim_reject(claim_id=claim.pk, adjuster=adjuster, code="no_loss", reason="Первый.")
    claim_reopen(claim_id=claim.pk, adjuster=adjuster, reason="Новые фото.")
    with committed():
        claim_reject(claim_id=claim.pk, adjuster=adjuster, code="other", reason="Второй.")

    letters = Document.objects.filter(kind=DocumentKind.REJECTION_LETTER, claim=claim)

    assert sorted("Первый." in pdf_text(d) for d in letters) == [False, True]
    assert letters.count() == 2


# Reports for the insurer


def test_a_finished_reconciliation_run_issues_its_report(committed):
    claim = factories.ClaimFactory(status=ClaimStatus.AWAITING_COMPENSATION)
    factories.CompensationFactory(shipment=claim.shipment, amount=D("4000.00"), reason="damage")
    factories.CompensationFactory(
        shipment=None,
        seller=claim.seller,
        marketplace=claim.marketplace,
        shipment_external_id="srid-nowhere",
        amount=D("321.00"),
    )

    with committed():
        run = reconciliation_run(run_id=reconciliation_start(trigger="manual").pk)

    document = the_document(DocumentKind.RECONCILIATION_REPORT, run=run)
    text = pdf_text(document)
    assert "Отчёт о сверке" in text
    assert "srid-nowhere" in text
    assert "321,00 ₽" in text
    assert "Компенсация по неизвестному отправлению 1" in text


def test_monthly_bordereaux_come_as_pdf_beside_the_csv(paid):
    month = timezone.localdate()

    made = bordereaux_monthly_task.apply(kwargs={}).get()
    bordereau_pdf_make(kind=DocumentKind.CLAIMS_BORDEREAU, month=month)

    pdf = Document.objects.get(key=f"{DocumentKind.CLAIMS_BORDEREAU}:{month:%Y-%m}:pdf")
    csv = bordereau_make(kind=DocumentKind.CLAIMS_BORDEREAU, month=month)
    text = pdf_text(pdf)
    assert len(made) == 2
    assert "Бордеро убытков" in text
    assert csv.sha256 in text
    assert "7 500,00" in text
    assert pages(pdf)[0].mediabox.width > pages(pdf)[0].mediabox.height  # landscape


# Every document


def test_documents_are_a4_with_page_numbers(paid):
    claim = paid

    page = pages(the_document(DocumentKind.SETTLEMENT_ACT, claim=claim))[0]

    assert (round(page.mediabox.width), round(page.mediabox.height)) == A4
    assert "Страница 1 из 1" in pdf_text(the_document(DocumentKind.SETTLEMENT_ACT, claim=claim))


def test_making_a_document_again_returns_the_stored_one(paid):
    claim = paid
    stored = the_document(DocumentKind.SETTLEMENT_ACT, claim=claim)

    again = settlement_act_make(claim_id=claim.pk)

    assert again.pk == stored.pk
    assert Document.objects.filter(kind=DocumentKind.SETTLEMENT_ACT).count() == 1


def test_a_document_stored_meanwhile_by_another_worker_wins_and_its_twin_file_goes(tmp_path):
    claim = factories.ClaimFactory()
    first = document_store(
        kind=DocumentKind.CLAIM_ACKNOWLEDGEMENT, key="k", filename="a.pdf", content=b"one"
    )

    second = document_store(
        kind=DocumentKind.CLAIM_ACKNOWLEDGEMENT,
        key="k",
        filename="a.pdf",
        content=b"two",
        owner=claim,
    )

    assert second.pk == first.pk
    assert len(list((tmp_path / "media" / "documents").rglob("*.pdf"))) == 1


def test_the_sha256_is_that_of_the_stored_file(paid):
    claim = paid
    document = the_document(DocumentKind.SETTLEMENT_ACT, claim=claim)

    with document.file.open("rb") as pdf:
        assert hashlib.sha256(pdf.read()).hexdigest() == document.sha256


# The renderer fetches nothing from outside


class CountingHandler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):
        CountingHandler.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def outside_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CountingHandler)
    CountingHandler.hits = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_template_pointing_outside_makes_no_request(outside_server, settings, tmp_path):
    (tmp_path / "documents").mkdir()
    (tmp_path / "documents" / "outside.html").write_text(
        f'<link rel="stylesheet" href="{outside_server}/style.css">'
        f'<img src="{outside_server}/logo.png"><p style="background: url({outside_server}/bg)">'
        "Привет</p>",
        encoding="utf-8",
    )
    engine = settings.TEMPLATES[0]
    settings.TEMPLATES = [{**engine, "DIRS": [tmp_path, *engine["DIRS"]]}]

    pdf = render_pdf(template="documents/outside.html", context={}, language="ru")

    assert pdf.startswith(b"%PDF")
    assert CountingHandler.hits == []


def test_the_fetcher_serves_the_projects_static_files():
    response = ProjectStaticFetcher().fetch(BASE_URL + "static/documents/document.css")

    assert b"@page" in response.read()
    assert response.content_type == "text/css"


def test_the_fetcher_refuses_files_outside_static():
    with pytest.raises(ValueError, match="outside the project"):
        ProjectStaticFetcher().fetch("file:///etc/passwd")


# Downloads: the owning seller's users and staff allowed to see documents; a 404 for the rest


@pytest.fixture
def act(paid):
    return the_document(DocumentKind.SETTLEMENT_ACT, claim=paid)


def download(client, document):
    return client.get(reverse("document-download", args=[document.pk]))


def test_the_owning_sellers_user_downloads_the_pdf(client, act):
    client.force_login(factories.SellerUserFactory(seller=act.seller))

    response = download(client, act)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    assert b"".join(response.streaming_content).startswith(b"%PDF-")


def test_another_sellers_user_gets_a_404(client, act):
    client.force_login(factories.SellerUserFactory())

    assert download(client, act).status_code == 404


def test_an_anonymous_visitor_gets_a_404(client, act):
    assert download(client, act).status_code == 404


def test_staff_with_the_permission_download_any_document(client, act, adjuster):
    client.force_login(adjuster)

    assert download(client, act).status_code == 200


def test_staff_without_the_permission_get_a_404(client, act):
    client.force_login(factories.UserFactory(is_staff=True))

    assert download(client, act).status_code == 404


def test_a_report_with_no_seller_is_for_staff_only(client, adjuster):
    report = document_store(
        kind=DocumentKind.RECONCILIATION_REPORT, key="r", filename="r.pdf", content=b"%PDF-1.7"
    )
    client.force_login(factories.SellerUserFactory())
    assert download(client, report).status_code == 404

    client.force_login(adjuster)
    assert download(client, report).status_code == 200


def test_documents_have_no_public_media_url(settings):
    assert not getattr(settings, "MEDIA_URL", "").strip("/")


def test_make_bordereaux_makes_csv_and_pdf_once():
    factories.ClaimFactory(status=ClaimStatus.SUBMITTED)
    month = timezone.localdate().strftime("%Y-%m")

    call_command("make_bordereaux", month=month, stdout=io.StringIO())
    call_command("make_bordereaux", month=month, stdout=io.StringIO())

    names = sorted(d.file.name.rsplit(".", 1)[-1] for d in Document.objects.all())
    assert names == ["csv", "csv", "pdf", "pdf"]
