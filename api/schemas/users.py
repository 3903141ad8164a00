"""User shapes."""

from __future__ import annotations

from pydantic import BaseModel


class MePublic(BaseModel):
    """The signed-in user; never the token."""

    name: str
    role: str
