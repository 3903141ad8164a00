"""Screening answers, the current eligibility decision per patient and rule set, and the feed counter."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from grading.eligibility.vocabulary import DecisionStatus, Outcome
from registry.models import gradings, studies, users  # noqa: F401  (the tables its foreign keys name)
from registry.models.base import EnumText, UTCDateTime, new_id, utcnow


class ScreeningRecord(SQLModel, table=True):
    """The screening episode of one patient for one trial (all rule-set versions share it): the
    clinical and exclusion answers, and the episode's dates.

    A field absent from ``answers`` is unknown. With an ``index_date`` every decision is made at it,
    age and symptom duration computed from ``date_of_birth`` and ``symptom_onset_date``. Every change
    is in the audit trail.
    """

    __tablename__ = "screening_records"
    __table_args__ = (UniqueConstraint("patient_id", "trial"),)

    id: str = Field(default_factory=new_id, primary_key=True)
    patient_id: str = Field(foreign_key="patients.id", index=True)
    trial: str = Field(max_length=64)
    answers: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    index_date: dt.date | None = None
    """The screening visit; ``None`` for screening recorded before episodes (judged at today's date)."""
    date_of_birth: dt.date | None = None
    symptom_onset_date: dt.date | None = None
    version: int = 1
    updated_by: str | None = Field(default=None, foreign_key="users.id")
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class EligibilityDecision(SQLModel, table=True):
    """The current decision for one (patient, trial, rule version), with its provenance.

    ``seq`` is the feed position: assigned from :class:`FeedCounter` whenever the decision changes,
    so a changed decision moves to the end of the feed.
    """

    __tablename__ = "eligibility_decisions"
    __table_args__ = (
        UniqueConstraint("patient_id", "trial", "rule_version"),
        Index("ix_eligibility_decisions_feed", "trial", "rule_version", "seq"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: str = Field(foreign_key="patients.id", index=True)
    trial: str = Field(max_length=64)
    rule_version: str = Field(max_length=64)
    study_id: str | None = Field(default=None, foreign_key="studies.id")
    grading_id: str | None = Field(default=None, foreign_key="gradings.id")
    grading_version: int | None = None
    status: DecisionStatus = Field(sa_column=Column(EnumText(DecisionStatus, 20), nullable=False))
    imaging: Outcome = Field(sa_column=Column(EnumText(Outcome, 20), nullable=False))
    """The combined outcome of the imaging criteria (``met``, ``not_met``, ``unknown``), for the funnel."""
    criteria: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    evaluation_date: dt.date
    next_change: dt.date | None = Field(default=None, index=True)
    """The day a time-dependent criterion may change the decision; re-evaluated then."""
    decided_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    seq: int = Field(sa_type=BigInteger, unique=True)
    frozen_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    """Set when the patient is enrolled: the decision then stands as it was (see ``amendment``)."""
    amendment: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    """For a frozen decision: what re-evaluation would now decide (status, criteria, grading), when it
    differs; shown in the feed next to the frozen decision, never applied."""


class FeedCounter(SQLModel, table=True):
    """A single row holding the last feed position handed out.

    Taking positions updates this row, which locks it until commit: on PostgreSQL, transactions
    that change decisions therefore commit in the order of their positions, and a feed reader can
    never pass a position that a later commit would fill in.
    """

    __tablename__ = "eligibility_feed_counter"

    id: int = Field(primary_key=True)
    value: int = Field(default=0, sa_type=BigInteger)
