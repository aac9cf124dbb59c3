"""GB 11643-1999 resident ID numbers: one row per case, with the error code the register reports."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from dangjian.members.idnumbers import check_digit, make_id_number, normalize_digits, parse_id_number

TOMORROW = dt.date.today() + dt.timedelta(days=1)
FUTURE = make_id_number("110101", TOMORROW, 1)

VALID = [
    # (raw input, normalised number, birth date, gender) — GB 11643 §5: digit 17 odd = male
    ("11010519491231002X", "11010519491231002X", dt.date(1949, 12, 31), "female"),
    ("440304199001010011", "440304199001010011", dt.date(1990, 1, 1), "male"),
    ("110101200002290018", "110101200002290018", dt.date(2000, 2, 29), "male"),  # leap day
    ("310115198005151238", "310115198005151238", dt.date(1980, 5, 15), "male"),
    ("110101199003074418", "110101199003074418", dt.date(1990, 3, 7), "male"),
    # what spreadsheets contain: lower-case x, full-width digits and X, spaces inside and around
    ("11010519491231002x", "11010519491231002X", dt.date(1949, 12, 31), "female"),
    ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X", dt.date(1949, 12, 31), "female"),
    ("１１０１０５１９４９１２３１００２ｘ", "11010519491231002X", dt.date(1949, 12, 31), "female"),
    (" 110101 19900307 4418 ", "110101199003074418", dt.date(1990, 3, 7), "male"),
    ("110101\u300019900307\t4418\n", "110101199003074418", dt.date(1990, 3, 7), "male"),
]


@pytest.mark.parametrize(("raw", "number", "birth", "gender"), VALID)
def test_valid_id_numbers(raw, number, birth, gender):
    info = parse_id_number(raw)
    assert (info.number, info.birth_date, info.gender) == (number, birth, gender)


INVALID = [
    # (raw input, error code, why)
    ("110105194912310021", "check_digit", "last digit should be X"),
    ("440304199001010012", "check_digit", "one off"),
    ("11010519491231002Y", "format", "only X may end the number"),
    ("1101051949123100X2", "format", "X only in the last place"),
    ("11010519491231002-", "format", "punctuation"),
    ("110105490101001", "length", "15-digit numbers (pre-1999) are no longer valid"),
    ("11010519491231002", "length", "17 characters"),
    ("11010519491231002X1", "length", "19 characters"),
    ("1101", "length", "far too short"),
    ("", "required", "empty"),
    ("   ", "required", "only spaces"),
    ("110101199002300019", "birth_date", "30 February"),
    ("110101199013010017", "birth_date", "month 13"),
    ("110101199000010014", "birth_date", "month 0"),
    ("110101199001320015", "birth_date", "day 32"),
    ("110101190002290010", "birth_date", "1900 was not a leap year"),
    ("110101189912310019", "birth_date", "before 1900"),
    (FUTURE, "birth_date", "born tomorrow"),
]


@pytest.mark.parametrize(("raw", "code", "why"), INVALID, ids=[row[2] for row in INVALID])
def test_invalid_id_numbers(raw, code, why):
    with pytest.raises(ValidationError) as exc:
        parse_id_number(raw)
    assert exc.value.code == code, why
    assert exc.value.messages[0], "every refusal says what to fix"


def test_wrong_check_digit_names_the_expected_one():
    with pytest.raises(ValidationError) as exc:
        parse_id_number("110105194912310021")
    assert "X" in exc.value.messages[0]


def test_length_message_counts_the_characters():
    with pytest.raises(ValidationError) as exc:
        parse_id_number("11010519491231002X1")
    assert "19" in exc.value.messages[0]


def test_make_id_number_round_trips():
    for seq in range(0, 1000, 37):
        number = make_id_number("320102", dt.date(1975, 8, 1), seq)
        info = parse_id_number(number)
        assert info.birth_date == dt.date(1975, 8, 1)
        assert info.gender == ("male" if seq % 2 else "female")


def test_check_digit_table():
    # GB 11643 §6: weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2, mod 11 → 1 0 X 9 8 7 6 5 4 3 2
    assert check_digit("11010519491231002") == "X"
    assert check_digit("44030419900101001") == "1"


def test_normalize_digits():
    assert normalize_digits("１２３　４５ｘ") == "12345X"


def test_digits_of_other_scripts_are_refused_so_the_uniqueness_check_holds():
    # Arabic-Indic digits are \d in Python's Unicode regex; they must not make a "different" number.
    with pytest.raises(ValidationError) as err:
        parse_id_number("١١٠١٠١١٩٨٠٠١٠١٠٠٧X")
    assert err.value.code == "format"


@pytest.mark.parametrize("region", ["000000", "990101", "110000"])
def test_region_code_must_name_a_real_region(region):
    first17 = f"{region}19800101001"
    with pytest.raises(ValidationError) as err:
        parse_id_number(first17 + check_digit(first17))
    assert err.value.code == "region"
