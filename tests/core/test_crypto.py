"""Personal data at rest: field encryption, blind indexes and masks (design: PII)."""

from __future__ import annotations

import pytest

from dangjian.core import crypto

NUMBER = "11010519491231002X"


def test_encrypt_round_trip_and_randomised():
    a, b = crypto.encrypt(NUMBER), crypto.encrypt(NUMBER)
    assert a != b, "the same number encrypts differently each time"
    assert NUMBER not in a
    assert crypto.decrypt(a) == crypto.decrypt(b) == NUMBER
    assert crypto.encrypt("") == "" and crypto.decrypt("") == ""


def test_blind_index_is_deterministic_and_keyed_by_purpose():
    assert crypto.blind_index(NUMBER, "id_number") == crypto.blind_index(NUMBER, "id_number")
    assert crypto.blind_index(NUMBER, "id_number") != crypto.blind_index(NUMBER, "phone")
    assert len(crypto.blind_index(NUMBER, "id_number")) == 64
    assert NUMBER not in crypto.blind_index(NUMBER, "id_number")
    assert crypto.blind_index("", "id_number") == ""


def test_another_key_cannot_read_or_match(settings):
    token = crypto.encrypt(NUMBER)
    index = crypto.blind_index(NUMBER, "id_number")
    settings.FIELD_KEY = "a-different-deployment-key"
    with pytest.raises(RuntimeError, match="DANGJIAN_FIELD_KEY"):
        crypto.decrypt(token)
    assert crypto.blind_index(NUMBER, "id_number") != index


def test_missing_key_is_a_clear_error(settings):
    settings.FIELD_KEY = ""
    with pytest.raises(RuntimeError, match="DANGJIAN_FIELD_KEY"):
        crypto.encrypt(NUMBER)


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("110101199003071234", "110101********1234"),
        ("11010519491231002X", "110105********002X"),
        ("", ""),
        ("12345", "12*45"),
    ],
)
def test_mask_id_number(value, masked):
    assert crypto.mask_id_number(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [("13812345678", "138****5678"), ("010-12345678", "010*****5678"), ("12345", "*****"), ("", "")],
)
def test_mask_phone(value, masked):
    assert crypto.mask_phone(value) == masked


def test_member_stores_only_ciphertext(tree, member_factory):
    from django.db import connection

    member = member_factory(tree.branch_a, id_number="11010519491231002X", phone="13912345678")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM members_member WHERE id = %s", [member.pk])
        row = " ".join(str(v) for v in cursor.fetchone())
    assert "11010519491231002X" not in row and "13912345678" not in row
    assert "110105********002X" in row and "139****5678" in row
