"""Background jobs that run once across the processes of a site (see :mod:`registry.jobs`)."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from registry.models.base import UTCDateTime


class BackgroundJob(SQLModel, table=True):
    """One periodic job: how often it ran, when it last started and finished, and where."""

    __tablename__ = "background_jobs"

    name: str = Field(primary_key=True, max_length=100)
    runs: int = 0
    """Times any process of the site started it."""
    started_at: dt.datetime = Field(sa_type=UTCDateTime)
    finished_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    node: str = Field(max_length=200)
    """Host and process id of the last run."""
    error: str | None = Field(default=None, max_length=200)
    """The exception type that ended the last run, if it failed."""
