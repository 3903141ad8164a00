"""User shapes."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class MePublic(BaseModel):
    """The signed-in user; never the token."""

    name: str
    role: str


class UserPublic(BaseModel):
    """A user as an admin sees it."""

    name: str
    role: str
    active: bool
    registrar: bool


class RegistrarUpdate(BaseModel):
    """Grant or take back the privilege to register studies and upload images."""

    registrar: bool


class TokenCreate(BaseModel):
    """A new token for a user; ``revoke_others`` makes it a rotation."""

    days: float | None = Field(
        default=None, ge=0, le=3650, description="lifetime in days (0: no expiry; default MODIC_TOKEN_LIFETIME_DAYS)"
    )
    revoke_others: bool = Field(default=False, description="revoke every earlier token of the user")


class TokenIssued(BaseModel):
    """A token just issued: shown this once, stored only as a digest."""

    token: str
    expires_at: dt.datetime | None


class TokensRevoked(BaseModel):
    revoked: int
