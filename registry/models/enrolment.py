"""Enrolment with consent, and allocation by minimisation with its recorded random draws."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

from registry.models import eligibility, studies, users  # noqa: F401  (the tables its foreign keys name)
from registry.models.base import UTCDateTime, new_id, utcnow


class Enrolment(SQLModel, table=True):
    """A patient enrolled in a trial after consent, with the eligibility decision frozen at enrolment."""

    __tablename__ = "enrolments"
    __table_args__ = (UniqueConstraint("patient_id", "trial"),)

    id: str = Field(default_factory=new_id, primary_key=True)
    patient_id: str = Field(foreign_key="patients.id", index=True)
    trial: str = Field(max_length=64)
    rule_version: str = Field(max_length=64)
    screening_id: str = Field(foreign_key="screening_records.id")
    consent_date: dt.date
    consent_by: str = Field(max_length=200)
    """Who took the consent (name or staff code, as the site records it)."""
    decision: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    """The decision at enrolment with its provenance (status, criteria, grading, evaluation date)."""
    enrolled_by: str = Field(foreign_key="users.id")
    enrolled_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Allocation(SQLModel, table=True):
    """One allocation: the factor levels, the imbalance of each arm, the ranking and the random draw."""

    __tablename__ = "allocations"
    __table_args__ = (UniqueConstraint("trial", "sequence"),)

    id: str = Field(default_factory=new_id, primary_key=True)
    trial: str = Field(max_length=64, index=True)
    sequence: int
    """1, 2, ... in order of enrolment: the position in the trial's random stream."""
    enrolment_id: str = Field(foreign_key="enrolments.id", unique=True)
    scheme_version: str = Field(max_length=64)
    arm: str = Field(max_length=64)
    levels: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    imbalance: dict[str, float] = Field(default_factory=dict, sa_type=JSON)
    ranking: list[str] = Field(default_factory=list, sa_type=JSON)
    probabilities: dict[str, float] = Field(default_factory=dict, sa_type=JSON)
    draw: float
    allocated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AllocationStream(SQLModel, table=True):
    """The random stream of one trial: its secret seed and how many allocations it has given.

    Allocating locks this row until commit, so allocations of a trial are made one at a time, each
    seeing every earlier one.
    """

    __tablename__ = "allocation_streams"

    trial: str = Field(primary_key=True, max_length=64)
    seed: str = Field(max_length=128)
    allocated: int = 0
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
