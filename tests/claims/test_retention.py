"""Archiving the evidence of long-closed claims, and checking stored files against their
digests (claims/retention.py, claims/verification.py and their commands)."""

import datetime as dt
import hashlib
import io
import json

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from claims.choices import ClaimStatus
from claims.models import Evidence, EvidenceArchive
from policies.tasks import event_partitions_create_task
from tests import factories

pytestmark = pytest.mark.django_db

CONTENT = b"%PDF-1.7 photo of the torn box"


def evidence_of(claim, content: bytes = CONTENT, name: str = "box.pdf") -> Evidence:
    return factories.EvidenceFactory(
        claim=claim,
        file=ContentFile(content, name=name),
        original_name=name,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )


def closed_claim(*, days_ago: int, **kwargs):
    return factories.ClaimFactory(
        status=ClaimStatus.CLOSED,
        status_changed_at=timezone.now() - dt.timedelta(days=days_ago),
        **kwargs,
    )


def run(command: str, *args) -> str:
    out = io.StringIO()
    call_command(command, *args, stdout=out, stderr=out)
    return out.getvalue()


@pytest.fixture
def live():
    return storages["default"]


@pytest.fixture
def archive():
    return storages["evidence_archive"]


# archive_evidence


def test_evidence_of_a_claim_closed_beyond_the_retention_moves_to_the_archive_with_a_manifest(
    settings, live, archive
):
    settings.EVIDENCE_RETENTION_DAYS = 365
    claim = closed_claim(days_ago=400)
    first, second = evidence_of(claim), evidence_of(claim, b"%PDF-1.7 invoice", "invoice.pdf")

    output = run("archive_evidence")

    record = EvidenceArchive.objects.get(claim=claim)
    assert (record.files, record.size) == (2, first.size + second.size)
    for evidence in (first, second):
        evidence.refresh_from_db()
        assert evidence.archive == record
        assert not live.exists(evidence.file.name)
        assert hashlib.sha256(archive.open(evidence.file.name).read()).hexdigest() == (
            evidence.sha256
        )
    manifest = json.loads(archive.open(record.manifest).read())
    assert manifest["claim"] == claim.number
    assert [(f["name"], f["sha256"]) for f in manifest["files"]] == [
        (first.file.name, first.sha256),
        (second.file.name, second.sha256),
    ]
    assert f"moved      {claim.number}: 2 files" in output


def test_evidence_of_claims_closed_recently_or_still_open_stays(settings, live):
    settings.EVIDENCE_RETENTION_DAYS = 365
    recent = evidence_of(closed_claim(days_ago=30))
    open_claim = factories.ClaimFactory(
        status=ClaimStatus.UNDER_REVIEW, status_changed_at=timezone.now() - dt.timedelta(days=900)
    )
    still_open = evidence_of(open_claim)

    run("archive_evidence")

    assert not EvidenceArchive.objects.exists()
    assert live.exists(recent.file.name) and live.exists(still_open.file.name)


def test_a_dry_run_lists_what_would_move_and_moves_nothing(live, archive):
    claim = closed_claim(days_ago=10)
    evidence = evidence_of(claim)

    output = run("archive_evidence", "--days", "5", "--dry-run")

    assert f"would move {claim.number}: 1 files, {len(CONTENT)} bytes" in output
    assert not EvidenceArchive.objects.exists()
    assert live.exists(evidence.file.name)
    assert not archive.exists(evidence.file.name)


def test_a_file_that_differs_from_its_digest_is_not_archived_and_the_command_fails(live):
    claim = closed_claim(days_ago=10)
    evidence = evidence_of(claim)
    Evidence.objects.filter(pk=evidence.pk).update(sha256="0" * 64)

    with pytest.raises(CommandError, match=claim.number):
        run("archive_evidence", "--days", "5")

    evidence.refresh_from_db()
    assert evidence.archive is None
    assert live.exists(evidence.file.name)


def test_a_run_that_died_after_deleting_the_originals_is_finished_by_the_next(live, archive):
    claim = closed_claim(days_ago=10)
    evidence = evidence_of(claim)
    # As the dead run left it: the copy in the archive, the original gone, nothing recorded.
    archive.save(evidence.file.name, ContentFile(CONTENT))
    live.delete(evidence.file.name)

    run("archive_evidence", "--days", "5")

    evidence.refresh_from_db()
    assert evidence.archive.claim == claim


def test_archived_evidence_is_shown_as_archived_and_not_served(client, seller_user):
    claim = closed_claim(days_ago=10, shipment__policy__seller=seller_user.seller)
    evidence = evidence_of(claim)
    run("archive_evidence", "--days", "5")
    client.force_login(seller_user)

    page = client.get(reverse("seller:claim", args=[claim.number]))
    download = client.get(reverse("seller:evidence", args=[claim.number, evidence.pk]))

    assert reverse("seller:evidence", args=[claim.number, evidence.pk]) not in page.text
    assert download.status_code == 404


# verify_documents


def test_verify_documents_passes_when_every_file_matches_its_digest():
    evidence_of(factories.ClaimFactory())
    factories.DocumentFactory(sha256=hashlib.sha256(b"%PDF-1.7 test").hexdigest())

    output = run("verify_documents")

    assert "checked 1 document, 1 evidence, 0 report" in output
    assert "every file matches" in output


def test_verify_documents_names_each_missing_or_altered_file_and_fails(live):
    document = factories.DocumentFactory(sha256=hashlib.sha256(b"%PDF-1.7 test").hexdigest())
    missing = evidence_of(factories.ClaimFactory())
    live.delete(missing.file.name)
    altered = evidence_of(factories.ClaimFactory(), b"%PDF-1.7 original")
    with live.open(altered.file.name, "wb") as file:
        file.write(b"%PDF-1.7 altered")
    out = io.StringIO()

    with pytest.raises(CommandError, match="1 missing, 1 not matching"):
        call_command("verify_documents", stdout=out)

    lines = out.getvalue().splitlines()
    assert f"missing   evidence #{missing.pk} {missing.file.name}" in lines
    assert any(line.startswith(f"mismatch  evidence #{altered.pk} ") for line in lines)
    assert not any(f"#{document.pk} " in line for line in lines if "document" in line)


def test_verify_documents_reads_archived_evidence_from_the_archive():
    evidence_of(closed_claim(days_ago=10))
    run("archive_evidence", "--days", "5")

    assert "every file matches" in run("verify_documents")


# event_partitions elsewhere than PostgreSQL


def test_event_partitions_and_their_beat_job_need_postgresql():
    if connection.vendor == "postgresql":
        pytest.skip("tests/policies/test_partitions.py covers PostgreSQL")

    with pytest.raises(CommandError, match="PostgreSQL only"):
        run("event_partitions")
    assert event_partitions_create_task() == 0
