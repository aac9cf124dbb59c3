"""Upload checks for the scanned documents of a case: the type is read from the content, not the name.

The checks live in ``core/files.py`` (every app uses them); this module keeps the recruitment choice of
kinds (pdf, jpg, png, docx) and its message, and re-exports ``sniff``/``check_upload`` for its callers.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from dangjian.core import files
from dangjian.core.files import DOCX, sniff

__all__ = ["ALLOWED", "DOCX", "check_upload", "sniff"]

ALLOWED = {t: files.EXTENSIONS[t] for t in files.content_types(("pdf", "jpeg", "png", "docx"))}


def check_upload(upload: Any) -> str:
    """Validate an uploaded file; return its content type or raise ValidationError saying what to fix."""
    return files.check_upload(
        upload,
        allowed=tuple(ALLOWED),
        message=_("Only PDF, JPG, PNG and Word (docx) files are accepted."),
    )
