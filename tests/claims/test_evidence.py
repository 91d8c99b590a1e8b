"""The evidence rules: content and name agree on an accepted type, a PDF runs nothing, and a
file stored in a transaction that does not commit leaves the storage with it."""

import hashlib
import io
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation
from pypdf import PdfReader, PdfWriter

from claims.choices import ClaimStatus
from claims.errors import ClaimErrorCode
from claims.evidence import (
    MAX_EVIDENCE_PER_CLAIM,
    evidence_atomic,
    evidence_inspect,
    evidence_store,
    safe_file_name,
)
from claims.lifecycle import claim_provide_info, claim_request_info
from claims.models import Evidence
from policies.errors import DomainError, ErrorCode
from tests import factories
from tests.evidence_files import (
    HOSTILE_PDFS,
    JPEG,
    JPEG_HEADED_HTML,
    OBFUSCATED_JS_PDF,
    OPEN_ACTION_JS_PDF,
    OPENS_ON_PAGE_ONE_PDF,
    PACKED_JS_PDF,
    PLAIN_PDF,
    PNG,
    upload,
)

pytestmark = pytest.mark.django_db


def media_files() -> list[Path]:
    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    return [path for path in root.rglob("*") if path.is_file()]


def refusal(name: str, content: bytes) -> DomainError:
    with translation.override("en"), pytest.raises(DomainError) as excinfo:
        evidence_inspect(upload(name, content))
    assert excinfo.value.code == ErrorCode.INVALID_FILE
    assert name in excinfo.value.message
    return excinfo.value


# What is accepted


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("box.png", PNG, "image/png"),
        ("Box.JPEG", JPEG, "image/jpeg"),
        ("act.pdf", PLAIN_PDF, "application/pdf"),
        ("act.pdf", OPENS_ON_PAGE_ONE_PDF, "application/pdf"),
    ],
)
def test_a_file_whose_content_and_name_agree_is_accepted(name, content, content_type):
    assert evidence_inspect(upload(name, content)).content_type == content_type


def test_a_jpeg_headed_html_file_is_refused_by_its_name():
    exc = refusal("page.html", JPEG_HEADED_HTML)

    assert ".jpg" in exc.message
    assert exc.fields == {"evidence": [exc.message]}


@pytest.mark.parametrize(("name", "content"), [("photo.jpg", PNG), ("photo.png", JPEG)])
def test_an_image_whose_name_gives_another_type_is_refused(name, content):
    refusal(name, content)


def test_an_empty_file_is_refused_by_name():
    assert "empty" in refusal("box.png", b"").message


# PDFs that would run something


def test_a_pdf_that_runs_javascript_when_opened_is_refused():
    assert "/JS" in refusal("act.pdf", OPEN_ACTION_JS_PDF).message


def test_javascript_spelt_in_escapes_is_refused():
    assert "/JS" in refusal("act.pdf", OBFUSCATED_JS_PDF).message


def test_javascript_compressed_in_an_object_stream_is_refused():
    assert b"/JS" not in PACKED_JS_PDF

    assert "/JS" in refusal("act.pdf", PACKED_JS_PDF).message


@pytest.mark.parametrize("kind", sorted(HOSTILE_PDFS))
def test_a_pdf_with_launch_attachments_actions_flash_or_xfa_is_refused(kind):
    refusal("act.pdf", HOSTILE_PDFS[kind])


def test_a_pdf_locked_with_a_password_is_refused():
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(PLAIN_PDF)))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    locked = io.BytesIO()
    writer.write(locked)

    assert "password" in refusal("act.pdf", locked.getvalue()).message


def test_a_pdf_that_cannot_be_read_is_refused():
    assert "could not be read" in refusal("act.pdf", b"%PDF-1.7 not really").message


# Storing


def under_review_claim():
    return factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW)


def test_a_stored_file_is_named_by_its_digest_and_type_not_by_the_seller():
    claim = under_review_claim()

    (evidence,) = evidence_store(
        claim=claim, files=[upload("фото\u202egnp.js.png", PNG)], user=None
    )

    assert Path(evidence.file.name).name == f"{hashlib.sha256(PNG).hexdigest()[:16]}.png"
    assert evidence.original_name == "фотоgnp.js.png"


def test_a_name_sent_back_holds_no_control_bidi_or_path_characters():
    name = safe_file_name('a/b\\c"\u202ed\u200be\x00f\x1b.PDF', content_type="application/pdf")

    assert name == "a_b_c_def.pdf"


def test_an_old_name_without_the_types_extension_gets_it():
    assert safe_file_name("page.html", content_type="image/jpeg") == "page.html.jpg"


def test_files_stored_in_a_block_that_rolls_back_are_deleted():
    claim = under_review_claim()

    with pytest.raises(RuntimeError), evidence_atomic():
        evidence_store(
            claim=claim, files=[upload("a.png", PNG), upload("b.pdf", PLAIN_PDF)], user=None
        )
        assert len(media_files()) == 2
        raise RuntimeError("the claim's transaction fails after its files were stored")

    assert media_files() == []
    assert not Evidence.objects.exists()


def test_a_batch_with_one_refused_file_stores_none_and_names_each_refused_file(adjuster):
    claim = under_review_claim()
    claim_request_info(claim_id=claim.pk, adjuster=adjuster, message="Фото?")
    user = factories.SellerUserFactory(seller=claim.seller)

    with pytest.raises(DomainError) as excinfo:
        claim_provide_info(
            claim_id=claim.pk,
            user=user,
            message="Вот",
            files=[
                upload("a.png", PNG),
                upload("page.html", JPEG_HEADED_HTML),
                upload("act.pdf", OPEN_ACTION_JS_PDF),
            ],
        )

    assert excinfo.value.code == ErrorCode.INVALID_FILE
    assert [m.split(" ")[0] for m in excinfo.value.fields["evidence"]] == ["page.html", "act.pdf"]
    assert media_files() == []
    assert not Evidence.objects.exists()
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.INFO_REQUESTED


def test_files_past_the_claims_limit_are_refused_before_any_is_stored():
    claim = under_review_claim()
    factories.EvidenceFactory.create_batch(MAX_EVIDENCE_PER_CLAIM - 1, claim=claim)
    before = len(media_files())

    with pytest.raises(DomainError) as excinfo:
        evidence_store(claim=claim, files=[upload("a.png", PNG), upload("b.png", PNG)], user=None)

    assert excinfo.value.code == ClaimErrorCode.TOO_MANY_FILES
    assert len(media_files()) == before
