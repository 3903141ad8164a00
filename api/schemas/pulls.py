"""Pull shapes: the request (the fields of ``modic pull``) and its progress with per-patient outcomes."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from registry.imaging.cohort import MAX_PATIENTS
from registry.services.pulls import PullView


class PullCreate(BaseModel):
    """Pull the series grading needs for these patients. The archive fields may only name the configured
    archive (``MODIC_PACS_*``); without them the configured one is used."""

    model_config = ConfigDict(extra="forbid")

    dicomweb: str | None = Field(default=None, max_length=2000, description="the configured DICOMweb URL")
    dimse: str | None = Field(default=None, max_length=300, description="the configured HOST:PORT")
    called_ae: str | None = Field(default=None, max_length=16, description="the configured AE title")
    patients: list[str] = Field(min_length=1, max_length=MAX_PATIENTS, description="hospital patient ids")
    since: dt.date | None = None
    until: dt.date | None = None


class PullItemPublic(BaseModel):
    """One requested patient: its row in ``patients`` (1-based) and, once known, its pseudonym."""

    row: int
    patient: str | None
    outcome: str
    reason: str | None
    studies: int
    series: int
    images: int


class PullPublic(BaseModel):
    id: str
    status: str
    archive: str
    since: dt.date | None
    until: dt.date | None
    patients_total: int
    patients_done: int
    series_retrieved: int
    images_retrieved: int
    counts: dict[str, int]
    error: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    outcomes: list[PullItemPublic]

    @classmethod
    def of(cls, view: PullView) -> PullPublic:
        pull = view.pull
        counts: dict[str, int] = {}
        for item in view.items:
            counts[item.outcome] = counts.get(item.outcome, 0) + 1
        return cls(
            id=pull.id,
            status=pull.status,
            archive=pull.archive,
            since=pull.since,
            until=pull.until,
            patients_total=pull.patients_total,
            patients_done=pull.patients_done,
            series_retrieved=pull.series_fetched,
            images_retrieved=pull.instances_fetched,
            counts=counts,
            error=pull.error,
            created_at=pull.created_at,
            finished_at=pull.finished_at,
            outcomes=[
                PullItemPublic(
                    row=item.row,
                    patient=view.pseudonyms.get(item.patient_id) if item.patient_id else None,
                    outcome=item.outcome,
                    reason=item.reason,
                    studies=item.studies,
                    series=item.series,
                    images=item.instances,
                )
                for item in view.items
            ],
        )
