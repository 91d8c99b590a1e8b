"""Data that grows: old months of shipment events, and the evidence of long-closed claims.

A month of events leaves the events table whole (`policies.partitions`), unless one of its
events belongs to a shipment with an open claim, whose assessment still reads them.
Evidence moves to the archive storage with a manifest; the claim keeps, per move, an
`EvidenceArchive` naming it, and its evidence rows keep their names and digests.
"""

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage, storages
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet, Sum

from claims.choices import OPEN_STATUSES, ClaimStatus
from claims.models import Claim, Evidence, EvidenceArchive
from policies.partitions import Partition, event_partition_remove, event_partitions_older_than

# A draft may still be submitted and assessed: its events are as needed as an open claim's.
UNSETTLED_STATUSES = (ClaimStatus.DRAFT, *OPEN_STATUSES)
ARCHIVE_STORAGE = "evidence_archive"
CHUNK_BYTES = 1024 * 1024


# Event partitions


def partition_has_unsettled_claims(partition: Partition) -> bool:
    """Whether an event in the partition is of a shipment with a draft or open claim."""
    # From the claims (a few hundred thousand open) into the month's index by shipment,
    # never a scan of the month's millions of events.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {Claim._meta.db_table} c"
            " WHERE c.status = ANY(%s) AND EXISTS"
            f" (SELECT 1 FROM {partition.name} e WHERE e.shipment_id = c.shipment_id))",
            [list(UNSETTLED_STATUSES)],
        )
        return cursor.fetchone()[0]


@dataclass(frozen=True)
class PartitionOutcome:
    partition: Partition
    removed: bool


def event_partitions_prune(
    *, today: dt.date, keep_months: int, detach: bool, dry_run: bool = False
) -> list[PartitionOutcome]:
    """Detach or drop the event partitions older than the `keep_months` months up to
    `today`'s, except those holding events of unsettled claims; return what became of each.
    With `dry_run`, change nothing and answer what would become of each."""
    outcomes = []
    for partition in event_partitions_older_than(today=today, keep_months=keep_months):
        removable = not partition_has_unsettled_claims(partition)
        if removable and not dry_run:
            event_partition_remove(partition, detach=detach)
        outcomes.append(PartitionOutcome(partition=partition, removed=removable))
    return outcomes


# Evidence


class ArchiveError(Exception):
    """A claim's evidence could not be archived; nothing of it was."""


def claims_with_evidence_to_archive(*, closed_before: dt.datetime) -> QuerySet[Claim]:
    """Return the claims closed before `closed_before` that hold evidence not archived yet."""
    return Claim.objects.filter(
        Exists(Evidence.objects.filter(claim=OuterRef("pk"), archive=None)),
        status=ClaimStatus.CLOSED,
        status_changed_at__lt=closed_before,
    ).order_by("status_changed_at", "pk")


def evidence_to_archive(claim: Claim) -> QuerySet[Evidence]:
    return claim.evidence.filter(archive=None).order_by("pk")


def evidence_size(claim: Claim) -> int:
    return evidence_to_archive(claim).aggregate(size=Sum("size"))["size"] or 0


def file_digest(storage: Storage, name: str) -> str:
    """Return the SHA-256 of a stored file, read in chunks; raise OSError when it is missing."""
    digest = hashlib.sha256()
    with storage.open(name, "rb") as file:
        for chunk in iter(lambda: file.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _digest_or_none(storage: Storage, name: str) -> str | None:
    try:
        return file_digest(storage, name)
    except OSError:
        return None


def _archive_copy(evidence: Evidence, *, live: Storage, archive: Storage) -> None:
    """Put the evidence file in the archive under its own name, checked against its digest.

    A copy a previous run left there is kept if it is right. When the file is no longer in
    the live storage, the copy must already be in the archive: a run that died after
    deleting the originals and before its commit left it there.
    """
    name = evidence.file.name
    if _digest_or_none(archive, name) == evidence.sha256:
        return
    if not live.exists(name):
        raise ArchiveError(f"{name}: missing from the storage and from the archive")
    if archive.exists(name):
        archive.delete(name)
    with live.open(name, "rb") as source:
        stored = archive.save(name, File(source, name=name))
    if stored != name or _digest_or_none(archive, name) != evidence.sha256:
        archive.delete(stored)
        raise ArchiveError(f"{name}: the copy does not match the stored SHA-256")


def _manifest(claim: Claim, files: list[Evidence], *, at: dt.datetime) -> bytes:
    return json.dumps(
        {
            "claim": claim.number,
            "claim_id": claim.pk,
            "seller_id": claim.seller_id,
            "closed_at": claim.status_changed_at.isoformat(),
            "archived_at": at.isoformat(),
            "files": [
                {
                    "evidence_id": evidence.pk,
                    "name": evidence.file.name,
                    "original_name": evidence.original_name,
                    "content_type": evidence.content_type,
                    "size": evidence.size,
                    "sha256": evidence.sha256,
                    "uploaded_at": evidence.created_at.isoformat(),
                }
                for evidence in files
            ],
        },
        ensure_ascii=False,
        indent=2,
    ).encode()


def claim_evidence_archive(*, claim: Claim, at: dt.datetime) -> EvidenceArchive | None:
    """Move the claim's evidence not archived yet to the archive storage, with a manifest;
    return the record of the move, or None when there was nothing to move. Raise
    ArchiveError, having moved nothing, when a file is missing or its copy is not right.

    Safe to run again after a crash anywhere: the copies are checked, and the originals go
    only once every copy and the manifest are stored, inside the transaction that records
    the move.
    """
    live, archive = storages["default"], storages[ARCHIVE_STORAGE]
    files = list(evidence_to_archive(claim))
    if not files:
        return None
    for evidence in files:
        _archive_copy(evidence, live=live, archive=archive)
    manifest = archive.save(
        f"manifests/{claim.seller_id}/{claim.number}-{at:%Y%m%dT%H%M%S}.json",
        ContentFile(_manifest(claim, files, at=at)),
    )
    with transaction.atomic():
        # Another run that moved them meanwhile leaves nothing to record.
        Claim.objects.select_for_update().filter(pk=claim.pk).get()
        if {evidence.pk for evidence in evidence_to_archive(claim)} != {e.pk for e in files}:
            archive.delete(manifest)
            return None
        record = EvidenceArchive.objects.create(
            claim=claim,
            archived_at=at,
            manifest=manifest,
            files=len(files),
            size=sum(evidence.size for evidence in files),
        )
        Evidence.objects.filter(pk__in=[evidence.pk for evidence in files]).update(archive=record)
        for evidence in files:
            live.delete(evidence.file.name)
    return record
