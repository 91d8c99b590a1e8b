"""Evidence through the seller's pages and the admin: limits kept while a file arrives, every
refusal named on the form in the seller's language, and files sent back only as sandboxed
attachments."""

import datetime as dt
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from claims.choices import ClaimStatus
from claims.evidence import MAX_EVIDENCE_BYTES, MAX_EVIDENCE_PER_CLAIM, evidence_store
from claims.lifecycle import claim_request_info
from claims.models import Claim, Evidence
from claims.pages.uploads import CutOffUpload, EvidenceUploadHandler
from tests import factories
from tests.evidence_files import (
    JPEG_HEADED_HTML,
    OPEN_ACTION_JS_PDF,
    PLAIN_PDF,
    PNG,
    upload,
)

pytestmark = pytest.mark.django_db


def media_files() -> list[Path]:
    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    return [path for path in root.rglob("*") if path.is_file()]


def submit(client, shipment, files, **headers):
    return client.post(
        reverse("seller:claim_new"),
        {
            "shipment": shipment.external_id,
            "peril": "damage",
            "event_date": (timezone.localdate() - dt.timedelta(days=2)).isoformat(),
            "claimed_amount": "12000",
            "submit": "1",
            "evidence": files,
        },
        **headers,
    )


def info_requested_claim(seller_user, adjuster) -> Claim:
    claim = factories.ClaimFactory(
        shipment__policy__seller=seller_user.seller,
        status=ClaimStatus.UNDER_REVIEW,
        assignee=adjuster,
    )
    claim_request_info(claim_id=claim.pk, adjuster=adjuster, message="Фото?")
    return claim


def parsed_with_the_handler(files) -> tuple[list, EvidenceUploadHandler]:
    request = RequestFactory().post("/", {"evidence": files})
    handler = EvidenceUploadHandler(request)
    request.upload_handlers = [handler]
    return request.FILES.getlist("evidence"), handler


# Limits kept while the upload arrives


def test_a_file_past_the_limit_is_cut_off_as_it_arrives(monkeypatch):
    written = []

    def counted(write):
        def counting(data):
            written.append(len(data))
            return write(data)

        return counting

    # A file's write is a property handing out its underlying file's write.
    monkeypatch.setattr(
        TemporaryUploadedFile, "write", property(lambda self: counted(self.file.write))
    )

    (file,), handler = parsed_with_the_handler(
        [upload("big.png", PNG + b"\0" * MAX_EVIDENCE_BYTES)]
    )

    assert isinstance(file, CutOffUpload)
    assert file.size == len(PNG) + MAX_EVIDENCE_BYTES
    assert file.read() == b""
    assert 0 < sum(written) <= MAX_EVIDENCE_BYTES
    assert handler.file.closed


def test_files_past_the_count_are_not_read():
    files, _ = parsed_with_the_handler(
        [upload(f"{n}.png", PNG) for n in range(MAX_EVIDENCE_PER_CLAIM + 2)]
    )

    assert len(files) == MAX_EVIDENCE_PER_CLAIM + 2
    assert all(file.read() == PNG for file in files[:MAX_EVIDENCE_PER_CLAIM])
    assert all(isinstance(file, CutOffUpload) for file in files[MAX_EVIDENCE_PER_CLAIM:])


def test_the_upload_forms_still_refuse_a_post_without_a_csrf_token(seller_user, shipment, adjuster):
    client = Client(enforce_csrf_checks=True)
    client.force_login(seller_user)
    claim = info_requested_claim(seller_user, adjuster)

    assert submit(client, shipment, [upload("a.png", PNG)]).status_code == 403
    answer = client.post(
        reverse("seller:claim_answer", args=[claim.number]),
        {"message": "Вот", "evidence": [upload("a.png", PNG)]},
    )
    assert answer.status_code == 403
    assert not Evidence.objects.exists()


# Every refusal named on the form


def test_a_batch_with_one_refused_file_leaves_no_claim_no_row_and_no_file(signed_in, shipment):
    response = submit(
        signed_in, shipment, [upload("box.png", PNG), upload("act.pdf", OPEN_ACTION_JS_PDF)]
    )

    assert response.status_code == 200
    assert not Claim.objects.exists()
    assert not Evidence.objects.exists()
    assert media_files() == []


REFUSED = {
    "empty.png": b"",
    "page.html": JPEG_HEADED_HTML,
    "photo.jpg": PNG,
    "act.pdf": OPEN_ACTION_JS_PDF,
    "broken.pdf": b"%PDF-1.7 not really",
}


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ["is empty", "its name does not end in", "automatic actions", "could not be read"]),
        ("ru", ["пуст", "не оканчивается на", "автоматические действия", "не удалось прочитать"]),
    ],
)
def test_the_claim_form_names_each_refused_file_and_why(signed_in, shipment, language, words):
    files = [upload(name, content) for name, content in REFUSED.items()]

    response = submit(signed_in, shipment, files, HTTP_ACCEPT_LANGUAGE=language)

    errors = response.context["form"].errors["evidence"]
    page = response.content.decode()
    assert len(errors) == len(REFUSED)
    for name in REFUSED:
        assert name in page
    for word in words:
        assert word in page
    assert not Claim.objects.exists()


def test_an_empty_post_shows_the_claim_form_again(signed_in):
    response = signed_in.post(reverse("seller:claim_new"))

    assert response.status_code == 200
    assert response.context["preview"] is None


def test_too_many_files_are_refused_on_the_claim_form(signed_in, shipment):
    files = [upload(f"{n}.png", PNG) for n in range(MAX_EVIDENCE_PER_CLAIM + 1)]

    response = submit(signed_in, shipment, files, HTTP_ACCEPT_LANGUAGE="ru")

    assert "не более 10 файлов" in response.content.decode()
    assert not Claim.objects.exists()


def test_a_file_past_the_limit_is_refused_on_the_claim_form_naming_the_limit(signed_in, shipment):
    response = submit(
        signed_in,
        shipment,
        [upload("big.png", PNG + b"\0" * MAX_EVIDENCE_BYTES)],
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert "big.png is larger than 10 MB" in response.content.decode()
    assert not Claim.objects.exists()


def test_a_refused_file_in_an_answer_is_shown_and_changes_nothing(signed_in, seller_user, adjuster):
    claim = info_requested_claim(seller_user, adjuster)

    response = signed_in.post(
        reverse("seller:claim_answer", args=[claim.number]),
        {"message": "Вот", "evidence": [upload("a.png", PNG), upload("empty.png", b"")]},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )

    assert "empty.png is empty." in [m.message for m in response.context["messages"]]
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.INFO_REQUESTED
    assert media_files() == []


# Sent back as sandboxed attachments


def assert_sandboxed_attachment(response, filename: str):
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    assert response["Content-Security-Policy"] == "sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_seller_downloads_evidence_as_a_sandboxed_attachment(signed_in, seller_user):
    claim = factories.ClaimFactory(shipment__policy__seller=seller_user.seller)
    (evidence,) = evidence_store(claim=claim, files=[upload("акт\u202e.pdf", PLAIN_PDF)], user=None)

    response = signed_in.get(reverse("seller:evidence", args=[claim.number, evidence.pk]))

    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''%D0%B0%D0%BA%D1%82.pdf"
    assert response["Content-Security-Policy"] == "sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_evidence_stored_before_these_rules_goes_out_under_its_types_extension(
    signed_in, seller_user
):
    claim = factories.ClaimFactory(shipment__policy__seller=seller_user.seller)
    evidence = factories.EvidenceFactory(
        claim=claim, original_name="page.html", content_type="image/jpeg"
    )

    response = signed_in.get(reverse("seller:evidence", args=[claim.number, evidence.pk]))

    assert_sandboxed_attachment(response, "page.html.jpg")


def test_the_admin_sends_evidence_as_a_sandboxed_attachment(client, adjuster):
    claim = factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW)
    (evidence,) = evidence_store(claim=claim, files=[upload("box.png", PNG)], user=None)
    client.force_login(adjuster)

    response = client.get(reverse("admin:claims_claim_evidence", args=[claim.pk, evidence.pk]))

    assert response["Content-Type"] == "image/png"
    assert_sandboxed_attachment(response, "box.png")
