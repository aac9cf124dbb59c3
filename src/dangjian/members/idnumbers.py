"""Resident ID-card numbers (GB 11643-1999): normalisation, check digit, birth date and gender."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import timezone
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


# GB/T 2260 province-level codes (the first two digits of a region code).
_PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    ]
)


def _region_valid(number: str) -> bool:
    # A real region code names a province; only Taiwan, Hong Kong and Macao use a bare province code.
    province = number[:2]
    return province in _PROVINCES and (number[2:6] != "0000" or province in ("71", "81", "82"))


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
    # ASCII digits only: \d would also accept other scripts' digits, which would slip past the
    # blind index's uniqueness as a "different" number.
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number):
        raise ValidationError(_("An ID number is 17 digits followed by a digit or X."), code="format")
    if not _region_valid(number):
        raise ValidationError(
            _("The first six digits of the ID number are not a valid region code."), code="region"
        )
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValidationError(
            _("The birth date inside the ID number is not a real date."), code="birth_date"
        ) from None
    if birth.year < 1900 or birth > timezone.localdate():
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
