"""File parts of multipart bodies, refused everywhere (issue #13).

No page or endpoint of Slipway takes a file, and Django's DATA_UPLOAD_MAX_MEMORY_SIZE does not count
file parts: with Django's own handlers any client, signed in or not, could make the server keep up to
2.5 MB of each file part in memory and write the rest to a temporary file, on any address that reads
the body (the sign-in page, the admin's, every API write). RefuseFileUploads is the only entry of
settings.FILE_UPLOAD_HANDLERS: it refuses a file part as soon as its headers are read, before its
body is read, held or written, and the request is answered 400 - the styled page through Django's
handler400, JSON `{"detail": ..., "errors": {}}` from the API (DRF turns the parser's error into a
ParseError, and services.api.not_found answers Django's own 400 under /api/ as JSON).
"""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http.multipartparser import MultiPartParserError

REFUSAL = "Slipway takes no file uploads: a multipart body may hold form fields only."


class FileUploadRefused(MultiPartParserError):
    """A multipart body holds a file part. A MultiPartParserError, so Django answers it 400 (not 500)
    and DRF's multipart parser turns it into a ParseError."""


class RefuseFileUploads(FileUploadHandler):
    """The one upload handler: refuses every file part when it starts, before reading its body."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        raise FileUploadRefused(REFUSAL)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        raise FileUploadRefused(REFUSAL)  # never reached: new_file refuses first

    def file_complete(self, file_size: int) -> UploadedFile | None:
        return None
