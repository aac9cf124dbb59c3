"""Password rules beyond Django's: a complexity rule for accounts that reach personal data."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class ComplexityValidator:
    """At least three of: lower-case letter, upper-case letter, digit, symbol."""

    classes = (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]")

    def validate(self, password: str, user: object = None) -> None:
        if sum(1 for c in self.classes if re.search(c, password)) < 3:
            raise ValidationError(self.get_help_text(), code="password_too_simple")

    def get_help_text(self) -> str:
        return _(
            "Your password must contain at least three of: lower-case letters, upper-case letters, digits and symbols."
        )
