"""Reliability studies: cases, raters and each rater's recorded, blinded worklist.

See docs/agreement.md#reliability-studies.

A worklist item is one read of one case by one rater, at a recorded position of that rater's own
seeded random order. Its grading is an ordinary :class:`~registry.models.gradings.Grading` of kind
``reliability`` (never used for eligibility); the item tags it with study, case and read.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from grading.protocols import DEFAULT_PROTOCOL
from registry.models.base import UTCDateTime, new_id, utcnow


class ReliabilityStudy(SQLModel, table=True):
    """A reliability study set up by a researcher."""

    __tablename__ = "reliability_studies"

    id: str = Field(default_factory=new_id, primary_key=True)
    name: str = Field(max_length=200)
    reads_per_rater: int = 1
    washout_days: int = 0
    seed: int
    """Seed of the raters' random orders (each rater's order is derived from it and stored)."""
    created_by: str = Field(foreign_key="users.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    protocol: str = Field(
        default=DEFAULT_PROTOCOL,
        sa_column=Column(String(40), nullable=False, server_default=DEFAULT_PROTOCOL),
    )
    """The grading protocol every read of the study is validated against, and whose variables are analysed."""


class ReliabilityCase(SQLModel, table=True):
    """One registry study inside a reliability study, known to raters only by its blinded label."""

    __tablename__ = "reliability_cases"
    __table_args__ = (UniqueConstraint("reliability_study_id", "study_id"),)

    id: str = Field(default_factory=new_id, primary_key=True)
    reliability_study_id: str = Field(foreign_key="reliability_studies.id", index=True)
    study_id: str = Field(foreign_key="studies.id")
    label: str = Field(max_length=20, unique=True)
    """The blinded case id shown to raters: random, unrelated to the study or patient."""


class ReliabilityRater(SQLModel, table=True):
    """A rater taking part in a reliability study."""

    __tablename__ = "reliability_raters"
    __table_args__ = (UniqueConstraint("reliability_study_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    reliability_study_id: str = Field(foreign_key="reliability_studies.id", index=True)
    user_id: str = Field(foreign_key="users.id", index=True)


class WorklistItem(SQLModel, table=True):
    """One read of one case by one rater, at its recorded position; the grading once it is done."""

    __tablename__ = "reliability_worklist_items"
    __table_args__ = (
        UniqueConstraint("reliability_study_id", "rater_id", "read", "case_id"),
        UniqueConstraint("reliability_study_id", "rater_id", "read", "position"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reliability_study_id: str = Field(foreign_key="reliability_studies.id", index=True)
    rater_id: str = Field(foreign_key="users.id", index=True)
    read: int
    case_id: str = Field(foreign_key="reliability_cases.id")
    position: int
    grading_id: str | None = Field(default=None, foreign_key="gradings.id", unique=True)
    completed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
