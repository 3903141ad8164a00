"""Image instances: one row per stored DICOM image (frame) of a study, with the header values that
classification needs, so a study can be re-classified when more images arrive."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

from registry.models import studies  # noqa: F401  (the tables its foreign keys name)
from registry.models.base import UTCDateTime, new_id, utcnow


class Instance(SQLModel, table=True):
    """One image (one frame of a multi-frame image) of a study; the file is in the store by SOP Instance UID.

    ``series_id`` and ``slice_index`` place it in a stack (0-based, spatial order); both are ``None``
    for an image left out of every stack (e.g. a duplicate position). ``header`` holds the values of
    :class:`grading.series.InstanceHeader`, none of which identify the patient.
    """

    __tablename__ = "instances"
    __table_args__ = (UniqueConstraint("study_id", "sop_instance_uid", "frame_index"),)

    id: str = Field(default_factory=new_id, primary_key=True)
    study_id: str = Field(foreign_key="studies.id", index=True)
    series_id: str | None = Field(default=None, foreign_key="series.id", index=True)
    sop_instance_uid: str = Field(max_length=64)
    frame_index: int = 0
    slice_index: int | None = None
    transfer_syntax_uid: str = Field(default="", max_length=64)
    header: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
