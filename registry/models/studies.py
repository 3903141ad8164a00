"""Patients (the only table with hospital identifiers), imaging studies and their series."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from grading.series import Plane, Weighting
from registry.crypto import EncryptedDate, EncryptedText
from registry.models import users  # noqa: F401  (the tables its foreign keys name)
from registry.models.base import EnumText, UTCDateTime, new_id, utcnow


class Patient(SQLModel, table=True):
    """A patient: hospital identifiers live here and nowhere else; the pseudonym is used elsewhere.

    The hospital id, name, birth date and sex are stored encrypted (:mod:`registry.crypto`); a
    patient is found by hospital id through ``hospital_id_index``, its keyed blind index.
    """

    __tablename__ = "patients"

    id: str = Field(default_factory=new_id, primary_key=True)
    hospital_id_index: str = Field(index=True, unique=True, max_length=64)
    hospital_id: str = Field(sa_type=EncryptedText("hospital_id"))
    pseudonym: str = Field(index=True, unique=True, max_length=32)
    name: str | None = Field(default=None, sa_type=EncryptedText("name"))
    birth_date: dt.date | None = Field(default=None, sa_type=EncryptedDate("birth_date"))
    sex: str | None = Field(default=None, sa_type=EncryptedText("sex"))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Study(SQLModel, table=True):
    """An MRI study of one patient."""

    __tablename__ = "studies"

    id: str = Field(default_factory=new_id, primary_key=True)
    study_instance_uid: str = Field(index=True, unique=True, max_length=64)
    patient_id: str = Field(foreign_key="patients.id", index=True)
    study_date: dt.date | None = None
    field_strength_t: float | None = None
    t1_series_id: str | None = Field(default=None, max_length=36)
    t2_series_id: str | None = Field(default=None, max_length=36)
    warnings: list[str] = Field(default_factory=list, sa_type=JSON)
    created_by: str | None = Field(default=None, foreign_key="users.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class Series(SQLModel, table=True):
    """One image stack of a study (a DICOM series, or one stack split off it)."""

    __tablename__ = "series"
    __table_args__ = (UniqueConstraint("study_id", "series_instance_uid", "stack_key"),)

    id: str = Field(default_factory=new_id, primary_key=True)
    study_id: str = Field(foreign_key="studies.id", index=True)
    series_instance_uid: str = Field(max_length=64)
    stack_key: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=200)
    plane: Plane = Field(sa_column=Column(EnumText(Plane, 20), nullable=False))
    weighting: Weighting = Field(sa_column=Column(EnumText(Weighting, 20), nullable=False))
    field_strength_t: float | None = None
    slices: int = 0
    gradable: bool = False
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
