"""Upload checks shared by every app: the type of a file is read from its content, never from its name.

``check_upload(upload, allowed=..., max_bytes=...)`` accepts a file only when its first bytes (and, for
the Office formats, its zip directory) show one of the allowed kinds, and it is neither empty nor larger
than the limit (``settings.ATTACHMENT_MAX_BYTES`` unless told otherwise). It returns the content type
to store; ``EXTENSIONS`` gives the extension to save the file under (the uploaded name is kept only as
a label, never as the stored name).

Kinds: ``pdf``, ``jpeg``, ``png``, ``webp``, ``docx``, ``xlsx``.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
WEBP = "image/webp"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# kind → content type
KINDS: dict[str, str] = {"pdf": PDF, "jpeg": JPEG, "png": PNG, "webp": WEBP, "docx": DOCX, "xlsx": XLSX}
# content type → the extension the file is stored under
EXTENSIONS: dict[str, str] = {
    PDF: ".pdf",
    JPEG: ".jpg",
    PNG: ".png",
    WEBP: ".webp",
    DOCX: ".docx",
    XLSX: ".xlsx",
}
# How each kind is named in the message that lists what is accepted.
_LABELS: dict[str, str] = {
    PDF: "PDF",
    JPEG: "JPG",
    PNG: "PNG",
    WEBP: "WebP",
    DOCX: "Word (docx)",
    XLSX: "Excel (xlsx)",
}

# The zip members that make a file an Office document of each kind (ECMA-376).
_OFFICE_PARTS = {DOCX: "word/document.xml", XLSX: "xl/workbook.xml"}
HEAD_BYTES = 16


def sniff(head: bytes, read_all: Callable[[], bytes] | None = None) -> str | None:
    """The content type of a pdf, jpg, png, webp, docx or xlsx file from its first bytes (and, for the
    Office formats, its zip directory, read through ``read_all``); None for anything else, whatever its
    name says."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"PK\x03\x04") and read_all is not None:
        try:
            with zipfile.ZipFile(io.BytesIO(read_all())) as z:
                names = set(z.namelist())
        except (zipfile.BadZipFile, ValueError):
            return None
        if "[Content_Types].xml" not in names:
            return None
        for content_type, part in _OFFICE_PARTS.items():
            if part in names:
                return content_type
    return None


def content_types(kinds: Iterable[str]) -> tuple[str, ...]:
    """Content types for kind names (``"pdf"``) or content types given as they are."""
    result = []
    for kind in kinds:
        content_type = KINDS.get(kind, kind)
        if content_type not in EXTENSIONS:
            raise ValueError(f"unknown upload kind: {kind!r}")
        result.append(content_type)
    return tuple(result)


def accepted_message(allowed: Iterable[str]) -> str:
    """ "Only PDF, JPG and PNG files are accepted." for the allowed kinds."""
    labels = [_LABELS[t] for t in content_types(allowed)]
    return _("Only these files are accepted: %(kinds)s.") % {"kinds": ", ".join(labels)}


DEFAULT_ALLOWED = ("pdf", "jpeg", "png", "docx")


def check_upload(
    upload: Any,
    *,
    allowed: Iterable[str] = DEFAULT_ALLOWED,
    max_bytes: int | None = None,
    field: str = "file",
    message: str = "",
) -> str:
    """Validate an uploaded file; return its content type or raise ``ValidationError({field: ...})``
    saying what to fix. ``allowed`` names kinds (``"pdf"``, ``"jpeg"`` ...) or content types;
    ``max_bytes`` defaults to ``settings.ATTACHMENT_MAX_BYTES``; ``message`` replaces the default
    "only these files are accepted" text."""
    allowed_types = content_types(allowed)
    limit = (
        max_bytes if max_bytes is not None else getattr(settings, "ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
    )
    size = getattr(upload, "size", None) or 0
    if size > limit:
        raise ValidationError(
            {field: _("The file is larger than %(mb)d MB.") % {"mb": max(limit // (1024 * 1024), 1)}}
        )
    if size == 0:
        raise ValidationError({field: _("The file is empty.")})
    upload.seek(0)
    head = upload.read(HEAD_BYTES)

    def read_all() -> bytes:
        upload.seek(0)
        return upload.read(limit + 1)

    kind = sniff(head, read_all)
    upload.seek(0)
    if kind is None or kind not in allowed_types:
        raise ValidationError({field: message or accepted_message(allowed_types)})
    return kind
