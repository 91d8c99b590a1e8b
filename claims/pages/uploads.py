"""Evidence uploads are limited while they arrive, not after: a file past the size limit
or past the count stops being kept the moment it crosses it."""

import io
from functools import wraps

from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from claims.evidence import MAX_EVIDENCE_BYTES, MAX_EVIDENCE_PER_CLAIM


class CutOffUpload(UploadedFile):
    """What stands in for a file that was not kept: its name and the size it reached, with
    no content, so the form refuses it by the same rules and says why."""

    def __init__(self, *, name: str, size: int, content_type: str | None):
        super().__init__(io.BytesIO(), name=name, content_type=content_type, size=size)


class EvidenceUploadHandler(TemporaryFileUploadHandler):
    """Keep each file in a temporary file up to the per-file limit, and none past the count."""

    def __init__(self, request=None):
        super().__init__(request)
        self.files_seen = 0
        self.cut_off = False

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.files_seen += 1
        self.cut_off = self.files_seen > MAX_EVIDENCE_PER_CLAIM
        if self.cut_off:
            self.file.close()

    def receive_data_chunk(self, raw_data, start):
        if not self.cut_off and start + len(raw_data) > MAX_EVIDENCE_BYTES:
            self.cut_off = True
            # Closing the temporary file deletes it: what was kept of it goes at once.
            self.file.close()
        if self.cut_off:
            return None
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size):
        if self.cut_off:
            return CutOffUpload(name=self.file_name, size=file_size, content_type=self.content_type)
        return super().file_complete(file_size)


def evidence_uploads(view):
    """Read the view's uploads through EvidenceUploadHandler.

    The handler must be in place before anything reads the request's body, and the CSRF
    check reads it: so the middleware's check is skipped and the same check runs here,
    once the handler is set.
    """
    protected = csrf_protect(view)

    @csrf_exempt
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        # Assigned, not inserted: Django refuses the assignment once the body was read.
        request.upload_handlers = [EvidenceUploadHandler(request)]
        return protected(request, *args, **kwargs)

    return wrapped
