"""Private files leave only through these checked views: documents here, evidence from the
seller pages and the admin, all sent by `private_file`."""

from pathlib import PurePosixPath

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from claims.evidence import safe_file_name
from claims.models import Evidence
from claims.selectors import documents_visible_to

CONTENT_TYPES = {".pdf": "application/pdf", ".csv": "text/csv; charset=utf-8"}


def private_file(file, *, filename: str, content_type: str) -> FileResponse:
    """Return a stored file as a download that no browser sniffs, runs or caches.

    A file a seller sent may be crafted to be more than it claims; as an attachment in a
    sandbox it is never rendered as a page of this site, and an image shown by an <img>
    tag is unaffected.
    """
    response = FileResponse(
        file.open("rb"), as_attachment=True, filename=filename, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


def evidence_file(evidence: Evidence) -> FileResponse:
    """Send an evidence file of a claim the caller has already been allowed to see; 404 once
    it is in the archive, which no page serves."""
    if evidence.archive_id is not None:
        raise Http404(_("The file has been moved to the archive."))
    return private_file(
        evidence.file,
        filename=safe_file_name(evidence.original_name, content_type=evidence.content_type),
        content_type=evidence.content_type,
    )


@require_GET
def document_download(request, pk: int) -> FileResponse:
    """Send a document to its seller's users or to staff allowed to see documents; else 404."""
    document = get_object_or_404(documents_visible_to(user=request.user), pk=pk)
    name = PurePosixPath(document.file.name).name
    return private_file(
        document.file,
        filename=name,
        content_type=CONTENT_TYPES.get(PurePosixPath(name).suffix, "application/octet-stream"),
    )
