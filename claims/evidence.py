"""Evidence files: what is accepted, how it is stored, and under what name it leaves.

Every interface goes through these rules. A file is accepted only when its content and
its name agree on one of the accepted types, and a PDF only when it holds nothing a
viewer would run. Files reach the storage inside the claim's transaction and leave it
again when that transaction does not commit.
"""

import contextlib
import hashlib
import unicodedata
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

from claims.errors import ClaimErrorCode
from claims.models import Claim, Evidence
from policies.errors import DomainError, ErrorCode
from policies.models import User

MAX_EVIDENCE_MB = 10
MAX_EVIDENCE_BYTES = MAX_EVIDENCE_MB * 1024 * 1024
MAX_EVIDENCE_PER_CLAIM = 10
# Enough of the seller's own name to recognise the file by; the rest only makes paths long.
MAX_NAME_CHARS = 100


@dataclass(frozen=True)
class FileKind:
    content_type: str
    signature: bytes
    extensions: tuple[str, ...]
    label: Promise


KINDS = (
    FileKind("image/jpeg", b"\xff\xd8\xff", (".jpg", ".jpeg"), gettext_lazy("a JPEG image")),
    FileKind("image/png", b"\x89PNG\r\n\x1a\n", (".png",), gettext_lazy("a PNG image")),
    FileKind("application/pdf", b"%PDF-", (".pdf",), gettext_lazy("a PDF document")),
)
EXTENSIONS = ", ".join(ext for kind in KINDS for ext in kind.extensions)

# What a PDF viewer runs, opens or launches by itself: scripts, actions on opening a
# document, a page or a field, launched programs, attached files, Flash and XFA forms.
# Compared with names as the parser reads them, so `/J#53` is `/JS`.
PDF_ACTIVE_NAMES = frozenset(
    {
        "/JS",
        "/JavaScript",
        "/Launch",
        "/EmbeddedFile",
        "/EmbeddedFiles",
        "/AA",
        "/RichMedia",
        "/XFA",
    }
)


@dataclass(frozen=True)
class InspectedFile:
    """An upload that passed every rule, with what storing it needs."""

    upload: UploadedFile
    name: str
    content_type: str
    sha256: str


def _refused(message: str) -> DomainError:
    return DomainError(ErrorCode.INVALID_FILE, message, fields={"evidence": [message]})


def safe_file_name(name: str, *, content_type: str) -> str:
    """Return the name without control, bidi, zero-width or path characters, ending in an
    extension of its type."""
    extensions = next((kind.extensions for kind in KINDS if kind.content_type == content_type), ())
    cleaned = "".join(
        "_" if char in '/\\"' else " " if unicodedata.category(char)[0] == "Z" else char
        for char in unicodedata.normalize("NFC", name)
        if unicodedata.category(char)[0] != "C"
    ).strip(" .")
    path = PurePosixPath(cleaned or "file")
    if path.suffix.lower() in extensions:
        return f"{path.stem[:MAX_NAME_CHARS]}{path.suffix.lower()}"
    return f"{path.name[:MAX_NAME_CHARS]}{extensions[0] if extensions else ''}"


class PdfPasswordProtected(Exception):
    pass


def pdf_active_names(file) -> set[str]:
    """Return the names of the active content anywhere in the PDF, including object streams.

    Raise whatever the parser raises for a file it cannot read.
    """
    reader = PdfReader(file, strict=False)
    if reader.is_encrypted and not reader.decrypt(""):
        raise PdfPasswordProtected
    found: set[str] = set()
    seen: set[tuple[int, int]] = set()
    # Every object the cross-reference lists, not only those reachable from the catalogue:
    # a viewer that repairs a file may find the others.
    pending: list = [reader.trailer]
    pending += [
        IndirectObject(idnum, generation, reader)
        for generation, idnums in reader.xref.items()
        for idnum in idnums
    ]
    pending += [IndirectObject(idnum, 0, reader) for idnum in reader.xref_objStm]
    while pending:
        obj = pending.pop()
        if isinstance(obj, IndirectObject):
            if (obj.idnum, obj.generation) in seen:
                continue
            seen.add((obj.idnum, obj.generation))
            obj = obj.get_object()
        if isinstance(obj, DictionaryObject):
            found.update(str(key) for key in PDF_ACTIVE_NAMES.intersection(obj.keys()))
            pending.extend(obj.values())
        elif isinstance(obj, ArrayObject):
            pending.extend(obj)
        elif isinstance(obj, NameObject) and obj in PDF_ACTIVE_NAMES:
            found.add(str(obj))
    return found


def _pdf_refusal(name: str, upload: UploadedFile) -> str | None:
    upload.seek(0)
    try:
        found = pdf_active_names(upload)
    except PdfPasswordProtected:
        return _("%(name)s is protected by a password: attach it without one.") % {"name": name}
    # A malformed file can make the parser fail in any way; whatever it is, the file is
    # not one an adjuster could open either.
    except Exception:
        return _("%(name)s could not be read as a PDF.") % {"name": name}
    finally:
        upload.seek(0)
    if found:
        return _(
            "%(name)s holds scripts, automatic actions or attached files (%(found)s): "
            "such a PDF is not accepted."
        ) % {"name": name, "found": ", ".join(sorted(found))}
    return None


def evidence_inspect(upload: UploadedFile) -> InspectedFile:
    """Return the upload with its type and digest; raise DomainError naming the file and why
    it is refused: empty, too large, not an accepted type, a name that disagrees with the
    content, or a PDF with active content."""
    name = upload.name or "file"
    if not upload.size:
        raise _refused(_("%(name)s is empty.") % {"name": name})
    # Checked before anything is read: an upload cut off at the limit arrives with the
    # size it had reached and no content.
    if upload.size > MAX_EVIDENCE_BYTES:
        raise _refused(
            _("%(name)s is larger than %(limit)d MB, the limit for one file.")
            % {"name": name, "limit": MAX_EVIDENCE_MB}
        )
    upload.seek(0)
    head = upload.read(16)
    kind = next((kind for kind in KINDS if head.startswith(kind.signature)), None)
    if kind is None:
        raise _refused(_("%(name)s is not a JPEG, PNG or PDF file.") % {"name": name})
    extension = PurePosixPath(name).suffix.lower()
    if extension not in kind.extensions:
        raise _refused(
            _("%(name)s is %(kind)s, but its name does not end in %(extensions)s.")
            % {"name": name, "kind": kind.label, "extensions": ", ".join(kind.extensions)}
        )
    if kind.content_type == "application/pdf" and (refusal := _pdf_refusal(name, upload)):
        raise _refused(refusal)
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return InspectedFile(
        upload=upload,
        name=safe_file_name(name, content_type=kind.content_type),
        content_type=kind.content_type,
        sha256=digest.hexdigest(),
    )


def evidence_inspect_all(
    files: Sequence[UploadedFile | InspectedFile], *, held: int = 0
) -> list[InspectedFile]:
    """Return every file inspected; raise one DomainError with a message for each refused
    file, or for the count when the claim, holding `held` files, would hold too many."""
    if held + len(files) > MAX_EVIDENCE_PER_CLAIM:
        message = _("A claim holds at most %(count)s files.") % {"count": MAX_EVIDENCE_PER_CLAIM}
        raise DomainError(ClaimErrorCode.TOO_MANY_FILES, message, fields={"evidence": [message]})
    inspected, refusals = [], []
    for file in files:
        if isinstance(file, InspectedFile):
            inspected.append(file)
            continue
        try:
            inspected.append(evidence_inspect(file))
        except DomainError as exc:
            refusals.append(exc.message)
    if refusals:
        raise DomainError(ErrorCode.INVALID_FILE, " ".join(refusals), fields={"evidence": refusals})
    return inspected


# The files stored by the innermost evidence_atomic block now running, if any.
_stored: ContextVar[list[FieldFile] | None] = ContextVar("evidence_stored", default=None)


@contextlib.contextmanager
def evidence_atomic() -> Iterator[None]:
    """Run the block in a transaction; when it raises or fails to commit, delete from the
    storage every evidence file stored in it, since the rows naming them are gone.

    Nested, it hands what it stored to the enclosing block, which deletes it if it fails.
    """
    outer = _stored.get()
    stored: list[FieldFile] = []
    token = _stored.set(stored)
    try:
        with transaction.atomic():
            yield
    except BaseException:
        for file in stored:
            file.storage.delete(file.name)
        raise
    else:
        if outer is not None:
            outer.extend(stored)
    finally:
        _stored.reset(token)


@evidence_atomic()
def evidence_store(
    *, claim: Claim, files: Sequence[UploadedFile | InspectedFile], user: User | None
) -> list[Evidence]:
    """Store the files on the claim, all or none; raise DomainError as evidence_inspect_all."""
    inspected = evidence_inspect_all(files, held=claim.evidence.count())
    stored = _stored.get()
    rows = []
    for file in inspected:
        evidence = Evidence(
            claim=claim,
            original_name=file.name,
            content_type=file.content_type,
            size=file.upload.size,
            sha256=file.sha256,
            uploaded_by=user,
        )
        # Named by content, not by the seller's name, so nothing the seller typed reaches
        # a path.
        extension = PurePosixPath(file.name).suffix
        evidence.file.save(f"{file.sha256[:16]}{extension}", file.upload, save=False)
        stored.append(evidence.file)
        evidence.save()
        rows.append(evidence)
    return rows
