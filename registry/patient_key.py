"""The patient key's checks, with the standard library only: a command that does not read patient data
(``modic user add``) refuses a missing or malformed ``MODIC_PATIENT_KEY`` as every command does, without
loading the cryptography of :mod:`registry.crypto` (which uses :func:`key_bytes` for the same checks)."""

from __future__ import annotations

import base64
import binascii

from registry.errors import RegistryError


class PatientKeyError(RegistryError):
    """The patient key is missing, malformed, or does not decrypt what is stored."""


def key_bytes(key: str | None) -> bytes:
    """The 32 bytes of ``key`` (``MODIC_PATIENT_KEY``); :class:`PatientKeyError` when missing or malformed."""
    if not key:
        raise PatientKeyError(
            "MODIC_PATIENT_KEY is not set: patient identifiers are encrypted with it; make one with "
            "`modic key new` and keep it with the database's backups (`modic serve --demo` makes its own)"
        )
    try:
        raw = base64.urlsafe_b64decode(key.strip().encode())
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise PatientKeyError(
            "MODIC_PATIENT_KEY must be 32 bytes in URL-safe base64 (44 characters); make one with `modic key new`"
        )
    return raw
