"""Rater pseudonyms: how exports and structured reports name the person who graded."""

from __future__ import annotations

import hashlib


def rater_pseudonym(user_id: str) -> str:
    """A stable pseudonym for the user ``user_id``, e.g. ``R-3F9A0C21D7``.

    Derived from the user's random record id (never from the name), so the same rater has the same
    pseudonym in every export and report, and only someone with the database can tell who it is.
    """
    return "R-" + hashlib.sha256(f"modic-rater:{user_id}".encode()).hexdigest()[:10].upper()
