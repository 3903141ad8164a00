"""Storing grading SRs to the archive: one row per grading version and destination, once a delivery was
tried (a version without a row for the configured destination is waiting to be sent)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from registry.models import gradings  # noqa: F401  (the tables its foreign keys name)
from registry.models.base import EnumText, UTCDateTime, utcnow


class SrDeliveryStatus(enum.StrEnum):
    """Where the delivery of one SR stands."""

    retrying = "retrying"
    """The archive refused it or could not be reached; tried again at ``next_attempt_at``."""
    sent = "sent"
    """The archive took it."""


class SrDelivery(SQLModel, table=True):
    """The delivery of one grading version's SR to one archive (``destination``: its label, never credentials)."""

    __tablename__ = "sr_deliveries"
    __table_args__ = (UniqueConstraint("grading_version_id", "destination"),)

    id: int | None = Field(default=None, primary_key=True)
    grading_version_id: int = Field(foreign_key="grading_versions.id", index=True)
    destination: str = Field(max_length=300)
    status: SrDeliveryStatus = Field(sa_column=Column(EnumText(SrDeliveryStatus, 20), nullable=False))
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=1000)
    next_attempt_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
