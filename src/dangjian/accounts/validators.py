"""Password rules beyond Django's: a complexity rule for accounts that reach personal data."""

from __future__ import annotations

import re

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


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


class MinimumLengthValidator(password_validation.MinimumLengthValidator):
    """Django's length rule, with its refusal worded so that it reaches Chinese users in Chinese.

    Django 5.2 words the message with ``%d`` while its zh_Hans catalogue still translates the older
    ``%(min_length)d`` wording, so the stock validator answers a Chinese user in English.
    """

    def get_error_message(self) -> str:
        return ngettext(
            "This password is too short. It must contain at least %(min_length)d character.",
            "This password is too short. It must contain at least %(min_length)d characters.",
            self.min_length,
        ) % {"min_length": self.min_length}
