"""Resident ID-card numbers (GB 11643-1999): normalisation, check digit, birth date and gender."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_FULLWIDTH = str.maketrans(
    {chr(0xFF10 + i): str(i) for i in range(10)} | {"ｘ": "X", "Ｘ": "X", "\u3000": " "}
)


@dataclass(frozen=True)
class IdInfo:
    number: str
    birth_date: dt.date
    gender: str  # "male" | "female"


def normalize_digits(value: str) -> str:
    """Full-width digits and spaces → half-width; strip all whitespace."""
    return re.sub(r"\s+", "", str(value).translate(_FULLWIDTH))


def check_digit(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def parse_id_number(value: str) -> IdInfo:
    """Validate and normalise an 18-digit ID number; raise ValidationError with a message saying what to fix."""
    number = normalize_digits(value).upper()
    if not number:
        raise ValidationError(_("The ID number is required."), code="required")
    if len(number) == 15:
        raise ValidationError(
            _("15-digit ID numbers are no longer valid; enter the 18-digit number."), code="length"
        )
    if len(number) != 18:
        raise ValidationError(
            _("An ID number has 18 characters; this one has %(n)d.") % {"n": len(number)}, code="length"
        )
    if not re.fullmatch(r"\d{17}[\dX]", number):
        raise ValidationError(_("An ID number is 17 digits followed by a digit or X."), code="format")
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValidationError(
            _("The birth date inside the ID number is not a real date."), code="birth_date"
        ) from None
    if birth.year < 1900 or birth > dt.date.today():
        raise ValidationError(_("The birth date inside the ID number is not plausible."), code="birth_date")
    expected = check_digit(number[:17])
    if number[17] != expected:
        raise ValidationError(
            _("The check digit of the ID number is wrong (expected %(expected)s): please check the number.")
            % {"expected": expected},
            code="check_digit",
        )
    gender = "male" if int(number[16]) % 2 == 1 else "female"
    return IdInfo(number=number, birth_date=birth, gender=gender)


def make_id_number(region: str, birth: dt.date, sequence: int) -> str:
    """Build a valid number (for demo and test data): 6-digit region, birth date, 3-digit sequence."""
    first17 = f"{region}{birth:%Y%m%d}{sequence % 1000:03d}"
    return first17 + check_digit(first17)
