"""Patient identifiers encrypted at rest (AES-256-GCM) and found by a keyed blind index (HMAC-SHA256).

One key (``MODIC_PATIENT_KEY``: 32 random bytes, URL-safe base64, made by ``modic key new``) is
stretched by HKDF into two keys: one encrypts the hospital id, name, birth date and sex of each
patient, the other makes the blind index of the hospital id, which is what a look-up by hospital id
compares (equal ids give equal indexes; without the key an index tells nothing). Each value is
encrypted with a fresh nonce and with its column's name as associated data, so a ciphertext copied
into another column or row of another column does not decrypt. See ``docs/security.md#patient-data-at-rest``.

The key is per process: :func:`configure` sets it from the settings at start (the app and every
command that opens the database); a missing or malformed key is :class:`PatientKeyError` then,
not at the first patient read.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import os
import threading
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

from registry.patient_key import PatientKeyError as PatientKeyError  # re-exported: registry.crypto.PatientKeyError
from registry.patient_key import key_bytes
from registry.settings import get_settings

_PREFIX = "v1:"
"""Marks the format of a stored value (key version 1: AES-256-GCM, 12-byte nonce)."""
_NONCE = 12


def new_key() -> str:
    """A new random patient key, as ``MODIC_PATIENT_KEY`` takes it."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


class PatientCipher:
    """Encrypts and decrypts patient values and makes the blind index, with keys derived from one key."""

    def __init__(self, key: str):
        raw = key_bytes(key)
        derived = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=b"modic patient data v1").derive(raw)
        self._aead = AESGCM(derived[:32])
        self._index_key = derived[32:]

    def blind_index(self, hospital_id: str) -> str:
        """The keyed index of a hospital id (hex HMAC-SHA256): what look-ups by hospital id compare."""
        return hmac.new(self._index_key, hospital_id.strip().encode(), hashlib.sha256).hexdigest()

    def encrypt(self, text: str, column: str) -> str:
        """``text`` encrypted for ``column``: prefix, then nonce and ciphertext in URL-safe base64."""
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, text.encode(), column.encode())
        return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, stored: str, column: str) -> str:
        """The text of a value encrypted for ``column``; :class:`PatientKeyError` when the key does not fit."""
        if not stored.startswith(_PREFIX):
            raise PatientKeyError(f"a stored {column} is not in the encrypted format (was the database migrated?)")
        try:
            blob = base64.urlsafe_b64decode(stored[len(_PREFIX) :].encode())
            return self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], column.encode()).decode()
        except (InvalidTag, binascii.Error, ValueError):
            raise PatientKeyError(
                f"a stored {column} does not decrypt with MODIC_PATIENT_KEY: the key is not the one the data was "
                "written with"
            ) from None


_lock = threading.Lock()
_active: PatientCipher | None = None


def configure(key: str | None) -> PatientCipher:
    """Use ``key`` for patient data in this process; :class:`PatientKeyError` when missing or malformed."""
    global _active
    cipher = PatientCipher(key or "")  # an empty key is refused as missing
    with _lock:
        _active = cipher
    return cipher


def cipher() -> PatientCipher:
    """The cipher of this process: the configured one, else the one of ``MODIC_PATIENT_KEY``."""
    if _active is None:
        secret = get_settings().patient_key
        return configure(None if secret is None else secret.get_secret_value())
    return _active


def demo_key(data_dir: Path) -> str:
    """The demo service's key, kept in ``data_dir/demo-patient.key`` (made on first use)."""
    path = data_dir / "demo-patient.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(new_key() + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


class EncryptedText(TypeDecorator[str]):
    """A text column stored encrypted with the process's patient key (see the module docstring)."""

    impl = Text
    cache_ok = True

    def __init__(self, column: str):
        super().__init__()
        self.column = column

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else cipher().encrypt(value, self.column)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else cipher().decrypt(value, self.column)


class EncryptedDate(TypeDecorator[dt.date]):
    """A date column stored encrypted (ISO text) with the process's patient key."""

    impl = Text
    cache_ok = True

    def __init__(self, column: str):
        super().__init__()
        self.column = column

    def process_bind_param(self, value: dt.date | None, dialect: Any) -> str | None:
        return None if value is None else cipher().encrypt(value.isoformat(), self.column)

    def process_result_value(self, value: str | None, dialect: Any) -> dt.date | None:
        return None if value is None else dt.date.fromisoformat(cipher().decrypt(value, self.column))
