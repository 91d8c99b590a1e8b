"""Every stored file checked against the SHA-256 its row keeps: generated documents,
evidence (in the archive storage once archived) and marketplace report files."""

from collections.abc import Iterator
from dataclasses import dataclass

from django.core.files.storage import Storage, storages

from claims.models import Evidence, ReportImport
from claims.retention import ARCHIVE_STORAGE, file_digest
from policies.models import Document

MISSING, MISMATCH = "missing", "mismatch"


@dataclass(frozen=True)
class StoredFile:
    kind: str
    pk: int
    name: str
    sha256: str
    storage: Storage


@dataclass(frozen=True)
class FileCheck:
    file: StoredFile
    # None when the file is there and matches its digest.
    problem: str | None
    actual: str = ""


def stored_files() -> Iterator[StoredFile]:
    """Yield every stored file that has a digest, a table at a time, in chunks."""
    live, archive = storages["default"], storages[ARCHIVE_STORAGE]
    for pk, name, sha256 in (
        Document.objects.order_by("pk").values_list("pk", "file", "sha256").iterator(2000)
    ):
        yield StoredFile("document", pk, name, sha256, live)
    for pk, name, sha256, archived in (
        Evidence.objects.order_by("pk")
        .values_list("pk", "file", "sha256", "archive_id")
        .iterator(2000)
    ):
        yield StoredFile("evidence", pk, name, sha256, live if archived is None else archive)
    # A report sent through the API in parts keeps no file.
    for pk, name, sha256 in (
        ReportImport.objects.exclude(file="")
        .order_by("pk")
        .values_list("pk", "file", "sha256")
        .iterator(2000)
    ):
        yield StoredFile("report", pk, name, sha256, live)


def stored_files_verify() -> Iterator[FileCheck]:
    """Yield the check of every stored file: missing, a digest that differs, or right."""
    for file in stored_files():
        try:
            actual = file_digest(file.storage, file.name)
        except OSError:
            yield FileCheck(file, MISSING)
            continue
        yield FileCheck(file, None if actual == file.sha256 else MISMATCH, actual)
