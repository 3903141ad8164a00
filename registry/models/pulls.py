"""Pulls from a PACS: one row per run request and one per requested patient (its outcome).

Hospital patient ids are not stored here: a pull is found again by ``request_key`` (a SHA-256 over
the archive, the date range and the ordered patient list), and each requested patient is named by
its row number in the request and, once its images are in, by the patient record (pseudonym).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from registry.models import studies, users  # noqa: F401  (the tables its foreign keys name)
from registry.models.base import EnumText, UTCDateTime, new_id, utcnow


class PullStatus(enum.StrEnum):
    """Where a pull stands."""

    queued = "queued"
    """Accepted, waiting for the pull before it to finish."""
    running = "running"
    """Patients are being searched and fetched (a run that was killed stays here until it is resumed)."""
    done = "done"
    """Every patient has an outcome."""
    failed = "failed"
    """The archive could not be used at all (e.g. no connection); ``error`` says why."""


class PullOutcome(enum.StrEnum):
    """What a pull did for one requested patient."""

    pending = "pending"
    """Not handled yet."""
    fetched = "fetched"
    """Gradable series were found and are in the registry (some may have been there already)."""
    nothing_gradable = "nothing gradable"
    """Studies were found in the date range, but no series a grading needs."""
    not_found = "not found"
    """The archive knows no study of this patient in the date range."""
    refused = "refused"
    """The archive refused a query or a retrieval; ``reason`` quotes it."""


class Pull(SQLModel, table=True):
    """One pull request: the archive, the date range, progress and totals."""

    __tablename__ = "pulls"

    id: str = Field(default_factory=new_id, primary_key=True)
    request_key: str = Field(index=True, max_length=64)
    archive: str = Field(max_length=300)
    since: dt.date | None = None
    until: dt.date | None = None
    status: PullStatus = Field(default=PullStatus.queued, sa_column=Column(EnumText(PullStatus, 20), nullable=False))
    error: str | None = Field(default=None, max_length=1000)
    patients_total: int = 0
    patients_done: int = 0
    series_fetched: int = 0
    instances_fetched: int = 0
    requested_by: str | None = Field(default=None, foreign_key="users.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class PullItem(SQLModel, table=True):
    """The outcome for one requested patient (``row``: 1-based position in the request)."""

    __tablename__ = "pull_items"
    __table_args__ = (UniqueConstraint("pull_id", "row"),)

    id: str = Field(default_factory=new_id, primary_key=True)
    pull_id: str = Field(foreign_key="pulls.id", index=True)
    row: int
    patient_id: str | None = Field(default=None, foreign_key="patients.id")
    outcome: PullOutcome = Field(
        default=PullOutcome.pending, sa_column=Column(EnumText(PullOutcome, 20), nullable=False)
    )
    reason: str | None = Field(default=None, max_length=1000)
    studies: int = 0
    series: int = 0
    instances: int = 0
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
