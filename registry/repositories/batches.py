"""Id lists cut to the size one ``IN (...)`` may bind."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

CHUNK = 900
"""Ids per ``IN (...)`` list (SQLite allows 999 bound parameters per statement by default)."""


def chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    """``ids`` in consecutive slices of at most :data:`CHUNK`."""
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]
