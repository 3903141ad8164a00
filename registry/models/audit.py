"""The audit trail: who did what to which record, and when."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from registry.models import users  # noqa: F401  (the tables its foreign keys name)
from registry.models.base import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    """One audited action. Rows are only ever inserted."""

    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor_id: str | None = Field(default=None, foreign_key="users.id")
    action: str = Field(max_length=50)
    entity: str = Field(max_length=50)
    entity_id: str = Field(max_length=80, index=True)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
