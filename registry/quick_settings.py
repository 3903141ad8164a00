"""The ``MODIC_*`` settings read with the standard library only, for commands that must start quickly
(``modic user add``): importing :mod:`registry.settings` (pydantic-settings) costs about half a second.

:func:`read` vouches only for values it is sure :class:`registry.settings.Settings` takes the same way:
the defaults, any text for a text or path setting, a member's exact value for a choice, plain decimal
numbers within the setting's bounds, and the two checks of ``Settings`` across fields. Anything else
(an out-of-range or oddly written number, an unknown choice, an unsupported database URL...) makes it
answer ``None``, and the caller then reads the settings with ``Settings`` itself, which refuses the
value with its usual message. So a command that uses this module accepts and refuses exactly what
``Settings`` does. ``tests/registry/test_quick_settings.py`` ties :data:`FIELDS` to ``Settings``
(names, kinds, defaults, bounds and checks), so that neither can change without the other.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from grading.field_strength import DEFAULT_FIELD_STRENGTH_T

Kind = Literal["text", "path", "secret", "int", "float", "choice"]
Value = str | int | float | Path | None
"""A setting's value as :func:`read` gives it (a secret as its text, a choice as its value)."""


@dataclass(frozen=True)
class Field:
    """One setting as ``Settings`` declares it: its kind, default, bounds and (a choice) allowed values."""

    kind: Kind
    default: Value = None
    optional: bool = False
    """``None`` is its default (the setting may be left unset)."""
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[str, ...] = ()


_TEXT = Field("text", optional=True)
_PATH = Field("path", optional=True)
_SECRET = Field("secret", optional=True)

FIELDS: dict[str, Field] = {
    "database_url": Field("text", "sqlite:///./modic.db"),
    "data_dir": Field("path", Path("./modic-data")),
    "image_store": Field("choice", "dir", choices=("dir", "dicomweb")),
    "image_store_url": _TEXT,
    "image_store_username": _TEXT,
    "image_store_password": _SECRET,
    "image_store_ca_file": _PATH,
    "image_cache_bytes": Field("int", 256 * 1024 * 1024, ge=0),
    "expected_field_strength_t": Field("float", DEFAULT_FIELD_STRENGTH_T, gt=0),
    "worker_threads": Field("int", 8, ge=1, le=200),
    "report_processes": Field("int", 0, ge=0, le=256),
    "token_cache_seconds": Field("float", 10, ge=0, le=300),
    "token_lifetime_days": Field("float", 90, ge=0),
    "revocation_check_seconds": Field("float", 1.0, gt=0, le=2),
    "auth_failures_allowed": Field("int", 20, ge=1),
    "auth_failure_window_seconds": Field("float", 60, gt=0),
    "background": Field("choice", "auto", choices=("auto", "off")),
    "reevaluation_interval_seconds": Field("float", 3600, gt=0),
    "metrics_token": _SECRET,
    "log_format": Field("choice", "text", choices=("text", "json")),
    "max_upload_bytes": Field("int", 512 * 1024 * 1024, gt=0),
    "pacs_dicomweb_url": _TEXT,
    "pacs_dicomweb_username": _TEXT,
    "pacs_dicomweb_password": _SECRET,
    "pacs_dicomweb_ca_file": _PATH,
    "pacs_dicomweb_parallel": Field("int", 2, ge=1, le=16),
    "pacs_dimse_address": _TEXT,
    "pacs_called_ae": _TEXT,
    "pacs_calling_ae": Field("text", "MODIC"),
    "pacs_store_host": Field("text", "127.0.0.1"),
    "pacs_store_port": Field("int", 11113, gt=0, lt=65536),
    "sr_identity": Field("choice", "pseudonym", choices=("pseudonym", "hospital")),
    "sr_store_url": _TEXT,
    "sr_store_username": _TEXT,
    "sr_store_password": _SECRET,
    "sr_store_ca_file": _PATH,
    "sr_store_retry_seconds": Field("float", 30, gt=0),
    "max_upload_files": Field("int", 10_000, gt=0),
    "max_archive_members": Field("int", 20_000, gt=0),
    "max_archive_bytes": Field("int", 1024 * 1024 * 1024, gt=0),
    "max_archive_ratio": Field("float", 100, gt=1),
    "max_json_body_bytes": Field("int", 1024 * 1024, gt=0),
    "patient_key": _SECRET,
    "max_field_chars": Field("int", 10_000, gt=0),
}
"""Every field of :class:`registry.settings.Settings`, in its order."""

DATABASE_SCHEMES = ("sqlite://", "postgresql://", "postgresql+psycopg://")
"""The database URLs ``Settings`` takes (its ``database_url`` check)."""

_INT = re.compile(r"0|[1-9][0-9]{0,17}")
_FLOAT = re.compile(r"(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,15})?")


def _value(field: Field, text: str) -> Value:
    """The value of ``text`` for ``field``, or raises ``ValueError`` when not vouched for."""
    if field.kind in ("text", "secret"):
        return text
    if field.kind == "path":
        if not text:
            raise ValueError(text)
        return Path(text)
    if field.kind == "choice":
        if text not in field.choices:
            raise ValueError(text)
        return text
    pattern = _INT if field.kind == "int" else _FLOAT
    if pattern.fullmatch(text) is None:
        raise ValueError(text)
    number: int | float = int(text) if field.kind == "int" else float(text)
    if (
        (field.ge is not None and not number >= field.ge)
        or (field.gt is not None and not number > field.gt)
        or (field.le is not None and not number <= field.le)
        or (field.lt is not None and not number < field.lt)
    ):
        raise ValueError(text)
    return number


def read(
    overrides: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Value] | None:
    """Every setting by field name (a secret as its text, a choice as its value), from
    ``overrides`` (field name to text, like ``Settings(**overrides)``), else ``MODIC_<NAME>`` in ``environ``
    (default: the process's environment; names compared without case, as ``Settings`` does), else the
    default; ``None`` when a value is not one this module vouches for (see the module's description)."""
    source = os.environ if environ is None else environ
    given = {key.lower(): value for key, value in source.items()}
    values: dict[str, Value] = {}
    for name, field in FIELDS.items():
        text = overrides.get(name) if overrides else None
        if text is None:
            text = given.get(f"modic_{name}")
        if text is None:
            values[name] = field.default
            continue
        try:
            values[name] = _value(field, text)
        except ValueError:
            return None
    url = values["database_url"]
    if not isinstance(url, str) or not url.startswith(DATABASE_SCHEMES):
        return None
    store_url = values["image_store_url"]
    if values["image_store"] == "dicomweb" and not (
        isinstance(store_url, str) and store_url.startswith(("http://", "https://"))
    ):
        return None
    return values
