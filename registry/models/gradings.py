"""Gradings and their append-only versions."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from grading.protocols import DEFAULT_PROTOCOL
from registry.models import studies, users  # noqa: F401  (the tables its foreign keys name)
from registry.models.base import EnumText, UTCDateTime, new_id, utcnow


class GradingKind(enum.StrEnum):
    """Why a grading was made; only clinical gradings feed eligibility."""

    clinical = "clinical"
    """The radiologist's read of a study for patient care and trial screening."""
    reliability = "reliability"
    """A blinded read inside a reliability study; never used for eligibility."""


class Grading(SQLModel, table=True):
    """One rater's grading of one study; its content lives in :class:`GradingVersion` rows."""

    __tablename__ = "gradings"

    id: str = Field(default_factory=new_id, primary_key=True)
    study_id: str = Field(foreign_key="studies.id", index=True)
    rater_id: str = Field(foreign_key="users.id", index=True)
    kind: GradingKind = Field(default=GradingKind.clinical, sa_column=Column(EnumText(GradingKind, 20), nullable=False))
    clinical_key: str | None = Field(default=None, unique=True, max_length=80)
    """``study_id:rater_id`` for clinical gradings (one per rater and study), NULL otherwise."""
    current_version: int = 1
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class GradingVersion(SQLModel, table=True):
    """One version of a grading: what was recorded, by whom, when and why. Never updated."""

    __tablename__ = "grading_versions"
    __table_args__ = (UniqueConstraint("grading_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    grading_id: str = Field(foreign_key="gradings.id", index=True)
    version: int
    endplates: dict[str, Any] = Field(sa_type=JSON)
    author_id: str = Field(foreign_key="users.id")
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    reason: str | None = Field(default=None, max_length=2000)
    protocol: str = Field(
        default=DEFAULT_PROTOCOL,
        sa_column=Column(String(40), nullable=False, server_default=DEFAULT_PROTOCOL),
    )
    """The grading protocol the endplates were validated against (rows older than protocols: the core one)."""
    numbering: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    """How the levels were identified (``{"reference", "transitional"}``); NULL when not recorded."""
    levels: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    """Level labels ``{"L1": [x, y, z], ...}`` (patient mm) the rater placed; NULL: none recorded."""
    measurements: list[Any] | None = Field(default=None, sa_type=JSON)
    """Height-fraction measurements of this version (:mod:`grading.annotations`); NULL: none."""
