"""Field encryption and blind indexes for personal data (design: PII).

ID-card and phone numbers are stored encrypted (Fernet, key derived from ``DANGJIAN_FIELD_KEY``) and
looked up through an HMAC-SHA256 blind index of the normalised value, so equality search and
uniqueness work without decrypting.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _derive(purpose: str) -> bytes:
    key = (settings.FIELD_KEY or "").encode("utf-8")
    if not key:
        raise RuntimeError("DANGJIAN_FIELD_KEY is not set")
    return hashlib.sha256(b"dangjian:" + purpose.encode() + b":" + key).digest()


@lru_cache(maxsize=4)
def _fernet(field_key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derive("encrypt")))


def encrypt(value: str) -> str:
    if not value:
        return ""
    return _fernet(settings.FIELD_KEY).encrypt(value.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet(settings.FIELD_KEY).decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:  # a wrong DANGJIAN_FIELD_KEY is a deployment error, say so
        raise RuntimeError(
            "cannot decrypt a protected field: is DANGJIAN_FIELD_KEY the key it was written with?"
        ) from exc


@lru_cache(maxsize=4)
def _index_key(field_key: str) -> bytes:
    return _derive("blind-index")


def blind_index(value: str, purpose: str) -> str:
    """A deterministic keyed hash of a normalised value, for lookups and unique constraints."""
    if not value:
        return ""
    msg = f"{purpose}:{value}".encode()
    return hmac.new(_index_key(settings.FIELD_KEY), msg, hashlib.sha256).hexdigest()


def mask_id_number(value: str) -> str:
    """110101199003071234 → 110101********1234 (GB 11643 numbers keep region and last four)."""
    if not value:
        return ""
    if len(value) <= 10:
        return value[:2] + "*" * max(len(value) - 4, 0) + value[-2:]
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    """13812345678 → 138****5678."""
    if not value:
        return ""
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


class PersonalNumbersMixin:
    """For a model that holds a person's ID-card and phone numbers in the columns ``id_number_encrypted``,
    ``id_number_index``, ``id_number_masked``, ``phone_encrypted``, ``phone_index`` and ``phone_masked``:
    the numbers are encrypted at rest, blind-indexed for lookups and kept masked for display."""

    def set_id_number(self, value: str) -> None:
        self.id_number_encrypted = encrypt(value)
        self.id_number_index = blind_index(value, "id_number")
        self.id_number_masked = mask_id_number(value)

    def set_phone(self, value: str) -> None:
        self.phone_encrypted = encrypt(value) if value else ""
        self.phone_index = blind_index(value, "phone") if value else ""
        self.phone_masked = mask_phone(value)

    def decrypted_id_number(self) -> str:
        return decrypt(self.id_number_encrypted)

    def decrypted_phone(self) -> str:
        return decrypt(self.phone_encrypted)
