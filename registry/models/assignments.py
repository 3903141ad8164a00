"""Who may read which study: an admin assigns a radiologist to a study (need to know)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from registry.models import studies, users  # noqa: F401  (the tables its foreign keys name)
from registry.models.base import UTCDateTime, new_id, utcnow


class Assignment(SQLModel, table=True):
    """A radiologist assigned to a study; withdrawn by setting ``ended_at`` (the audit trail keeps each change)."""

    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("user_id", "study_id"),)

    id: str = Field(default_factory=new_id, primary_key=True)
    user_id: str = Field(foreign_key="users.id", index=True)
    study_id: str = Field(foreign_key="studies.id", index=True)
    assigned_by: str | None = Field(default=None, foreign_key="users.id")
    """The admin who assigned, or the radiologist who registered the study; None: a command."""
    assigned_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    ended_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
