"""Pages outside the admin and the API: private files leave only through these checks."""

from pathlib import PurePosixPath

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from claims.selectors import documents_visible_to

CONTENT_TYPES = {".pdf": "application/pdf", ".csv": "text/csv; charset=utf-8"}


@require_GET
def document_download(request, pk: int) -> FileResponse:
    """Send a document to its seller's users or to staff allowed to see documents; else 404."""
    document = get_object_or_404(documents_visible_to(user=request.user), pk=pk)
    name = PurePosixPath(document.file.name).name
    response = FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        filename=name,
        content_type=CONTENT_TYPES.get(PurePosixPath(name).suffix, "application/octet-stream"),
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
