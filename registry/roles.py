"""The roles of users: a module of its own, so that the command line can list them without the database layer."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    """What a user may do."""

    admin = "admin"
    """Manages users and may do anything."""
    radiologist = "radiologist"
    """Reads images and enters gradings."""
    screener = "screener"
    """Reads the eligibility feed and records clinical screening."""
    researcher = "researcher"
    """Runs reliability studies and exports data."""
    allocation_manager = "allocation_manager"
    """Sees the running totals of allocation, the allocation log and the replay; nobody else does."""

    @classmethod
    def parse(cls, text: str) -> Role:
        """The role named ``text``; the error lists the allowed roles."""
        try:
            return cls(text)
        except ValueError:
            raise ValueError(f"unknown role {text!r}; allowed: {', '.join(r.value for r in cls)}") from None
