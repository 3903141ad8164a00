"""Identifiers and timestamps of records, with the standard library only (the tables use them as defaults,
``registry/models/base.py``; code on a plain DB-API connection, ``registry/dbapi.py``, too)."""

from __future__ import annotations

import datetime as dt
import os
import uuid


def new_id() -> str:
    """A random identifier for a record."""
    return str(uuid.uuid4())


def new_ids(count: int) -> list[str]:
    """``count`` identifiers made as :func:`new_id` makes them (random version 4 UUIDs), from one read of the
    system's randomness instead of one per record (a study brings hundreds of images)."""
    data = os.urandom(16 * count)
    return [str(uuid.UUID(bytes=data[i : i + 16], version=4)) for i in range(0, 16 * count, 16)]


def utcnow() -> dt.datetime:
    """The current time, UTC-aware."""
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """``value`` in UTC, as a timestamp column stores it; a time without a zone is refused."""
    if value.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone; store UTC-aware times")
    return value.astimezone(dt.UTC)
