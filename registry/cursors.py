"""Page cursors, one encoding for every paged list (the study list, the eligibility feed).

A cursor names the sort key of the last item of a page; the next page starts after it. Clients treat
it as opaque. A key of one integer (a feed position) is written as its decimal digits; any other key
as the URL-safe base64 of its parts joined by ``|`` (timestamps in ISO 8601). Both forms are what the
endpoints have always returned, so cursors kept by readers stay valid.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from typing import Any

from registry.errors import InvalidInput

MAX_POSITION = 2**63 - 1
"""The largest integer a cursor may hold (a 64-bit signed column)."""

Part = int | str | dt.datetime


def encode_cursor(*key: Part) -> str:
    """The cursor of a page that ended at the item with sort key ``key``."""
    if len(key) == 1 and isinstance(key[0], int):
        return str(key[0])
    text = "|".join(part.isoformat() if isinstance(part, dt.datetime) else str(part) for part in key)
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode_cursor(cursor: str, kinds: tuple[type[Any], ...], parameter: str, listing: str) -> tuple[Any, ...]:
    """The sort key ``cursor`` names, one value per type of ``kinds``; :class:`InvalidInput` naming the
    query ``parameter`` when it is not a cursor of ``listing`` (e.g. ``"feed"``)."""
    try:
        if kinds == (int,):
            if not cursor.isdigit() or len(cursor) > 19 or int(cursor) > MAX_POSITION:
                raise ValueError(cursor)
            return (int(cursor),)
        parts = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", len(kinds) - 1)
        if len(parts) != len(kinds):
            raise ValueError(cursor)
        return tuple(_part(kind, part) for kind, part in zip(kinds, parts, strict=True))
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidInput(
            f"{parameter} {cursor!r} is not a {listing} cursor; "
            "pass the next_cursor of a previous page, or omit it to start",
            f"query.{parameter}",
        ) from None


def _part(kind: type[Any], text: str) -> Part:
    """One part of a key; a timestamp must carry its zone and a text part be a UUID (the ids paged by)."""
    if kind is dt.datetime:
        moment = dt.datetime.fromisoformat(text)
        if moment.tzinfo is None:
            raise ValueError(text)
        return moment
    if kind is int:
        if not text.isdigit() or int(text) > MAX_POSITION:
            raise ValueError(text)
        return int(text)
    if str(uuid.UUID(text)) != text:
        raise ValueError(text)
    return text
