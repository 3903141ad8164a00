"""Users, their roles and their API tokens (hashed at rest)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from registry.models.base import EnumText, UTCDateTime, new_id, utcnow
from registry.roles import Role as Role  # re-exported: registry.models.Role


class User(SQLModel, table=True):
    """A person who uses the service."""

    __tablename__ = "users"

    id: str = Field(default_factory=new_id, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=100)
    role: Role = Field(sa_column=Column(EnumText(Role, 20), nullable=False))
    active: bool = True
    registrar: bool = False
    """May register studies and upload images by hospital id (and so learn the pseudonym of any patient)."""
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    """A bearer token; only its SHA-256 digest is stored."""

    __tablename__ = "api_tokens"

    id: str = Field(default_factory=new_id, primary_key=True)
    user_id: str = Field(foreign_key="users.id", index=True)
    token_sha256: str = Field(index=True, unique=True, max_length=64)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    expires_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    """None: the token does not expire (tokens issued before expiry existed)."""


class Revocations(SQLModel, table=True):
    """One row: ``epoch`` goes up with every revocation, so that every process can notice one cheaply."""

    __tablename__ = "revocations"

    id: int = Field(default=1, primary_key=True)
    epoch: int = 0
