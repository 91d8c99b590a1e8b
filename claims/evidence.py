"""Evidence files: checked by content, not by name, and stored away from any public URL."""

import hashlib

from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from claims.errors import ClaimErrorCode
from claims.models import Claim, Evidence
from policies.errors import DomainError, ErrorCode
from policies.models import User

MAX_EVIDENCE_BYTES = 10 * 1024 * 1024
MAX_EVIDENCE_PER_CLAIM = 10

# The first bytes of each accepted format, and the type it is served as.
SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)


def sniff_content_type(head: bytes) -> str | None:
    """Return the MIME type the file's first bytes show, or None for anything not accepted."""
    for signature, content_type in SIGNATURES:
        if head.startswith(signature):
            return content_type
    return None


def evidence_add(*, claim: Claim, upload: UploadedFile, user: User | None) -> Evidence:
    """Store one evidence file on the claim; refuse what is not a JPEG, PNG or PDF up to 10 MB."""
    name = upload.name or "file"
    if claim.evidence.count() >= MAX_EVIDENCE_PER_CLAIM:
        raise DomainError(
            ClaimErrorCode.TOO_MANY_FILES,
            _("A claim holds at most %(count)s files.") % {"count": MAX_EVIDENCE_PER_CLAIM},
            fields={"files": [_("Too many files.")]},
        )
    if upload.size > MAX_EVIDENCE_BYTES:
        raise DomainError(
            ErrorCode.INVALID_FILE,
            _("%(name)s is larger than 10 MB.") % {"name": name},
            fields={"files": [_("%(name)s is larger than 10 MB.") % {"name": name}]},
        )
    upload.seek(0)
    content_type = sniff_content_type(upload.read(16))
    if content_type is None:
        raise DomainError(
            ErrorCode.INVALID_FILE,
            _("%(name)s is not a JPEG, PNG or PDF file.") % {"name": name},
            fields={"files": [_("%(name)s is not a JPEG, PNG or PDF file.") % {"name": name}]},
        )
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    evidence = Evidence(
        claim=claim,
        original_name=name[:255],
        content_type=content_type,
        size=upload.size,
        sha256=digest.hexdigest(),
        uploaded_by=user,
    )
    evidence.file.save(f"{digest.hexdigest()[:16]}-{name[-80:]}", upload, save=False)
    evidence.save()
    return evidence
