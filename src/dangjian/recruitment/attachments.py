"""Upload checks for the scanned documents of a case: the type is read from the content, not the name."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

ALLOWED = {
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
}
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def sniff(head: bytes, read_all: Any = None) -> str | None:
    """The content type of a pdf, jpg, png or docx file from its first bytes (and, for docx, its zip
    directory); None for anything else, whatever its name says."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"PK\x03\x04") and read_all is not None:
        try:
            with zipfile.ZipFile(io.BytesIO(read_all())) as z:
                names = set(z.namelist())
        except zipfile.BadZipFile:
            return None
        if "word/document.xml" in names and "[Content_Types].xml" in names:
            return DOCX
    return None


def check_upload(upload: Any) -> str:
    """Validate an uploaded file; return its content type or raise ValidationError saying what to fix."""
    limit = getattr(settings, "ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
    size = getattr(upload, "size", None) or 0
    if size > limit:
        raise ValidationError(
            {"file": _("The file is larger than %(mb)d MB.") % {"mb": max(limit // (1024 * 1024), 1)}}
        )
    if size == 0:
        raise ValidationError({"file": _("The file is empty.")})
    upload.seek(0)
    head = upload.read(16)

    def read_all() -> bytes:
        upload.seek(0)
        return upload.read()

    kind = sniff(head, read_all)
    upload.seek(0)
    if kind is None:
        raise ValidationError({"file": _("Only PDF, JPG, PNG and Word (docx) files are accepted.")})
    return kind
