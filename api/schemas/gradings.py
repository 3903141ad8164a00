"""Grading shapes of the contract. Endplate contents are validated by :mod:`grading.nordic`
so that every problem is reported with its endplate and field."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from registry.services.gradings import GradingView, HistoryEntry


class GradedEndplatePublic(BaseModel):
    """A graded endplate; the grading protocol's other variables follow under their own names."""

    model_config = ConfigDict(extra="allow")

    type: str
    size: str | None
    extension_pct: float | None


class NotAssessablePublic(BaseModel):
    """An endplate that could not be graded: the reason, and a note."""

    not_assessable: str = Field(description="artefact, outside_fov, transitional or other")
    note: str | None


EndplatePublic = GradedEndplatePublic | NotAssessablePublic


def endplates_public(endplates: dict[str, Any]) -> dict[str, EndplatePublic]:
    """Stored endplate entries as their public shapes."""
    return {
        k: NotAssessablePublic(**v) if "not_assessable" in v else GradedEndplatePublic(**v)
        for k, v in endplates.items()
    }


class NumberingPublic(BaseModel):
    """How the levels were identified."""

    reference: str = Field(description="sacrum, last_rib or other")
    transitional: str = Field(description="none, lumbarised_s1 or sacralised_l5")


class GradingCreate(BaseModel):
    """All 11 endplates, each ``{"type", "size"?, "extension_pct"?, <protocol variables>?}`` or
    ``{"not_assessable": reason, "note"?}``; the protocol and how the levels were numbered; and
    optionally the level labels and height-fraction measurements made with them (:mod:`grading.annotations`)."""

    endplates: dict[str, Any] = Field(examples=[{"L1_sup": {"type": "none"}, "L4_inf": {"type": "I/II", "size": "C"}}])
    protocol: str | None = Field(
        default=None,
        description="grading protocol id (GET /api/v1/protocols); default nordic-2007 (an amendment: the current one)",
    )
    numbering: dict[str, Any] | None = Field(
        default=None, description='{"reference": "sacrum"|"last_rib"|"other", "transitional": "none"|...}'
    )
    levels: Any = Field(
        default=None,
        description='level labels {"L1": [x, y, z], ..., "S1": [x, y, z]} in patient coordinates (LPS, mm)',
        examples=[{"L4": [0.0, -14.0, -30.5], "L5": [0.0, -12.0, -66.0]}],
    )
    measurements: Any = Field(
        default=None,
        description="height-fraction measurements: [{endplate, endplate_point, opposite_point, depth_point}]",
    )


class GradingUpdate(GradingCreate):
    # Checked by the service (blank and missing alike), so that every refusal has the same shape.
    reason: str | None = Field(default=None, max_length=2000, description="why the grading changes (required)")


class VersionPublic(BaseModel):
    """What one version of a grading holds."""

    version: int
    endplates: dict[str, EndplatePublic]
    protocol: str
    numbering: NumberingPublic | None
    levels: dict[str, list[float]]
    measurements: list[dict[str, Any]]


class GradingPublic(VersionPublic):
    id: str
    study_id: str
    rater: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, view: GradingView) -> GradingPublic:
        return cls(
            id=view.id,
            study_id=view.study_id,
            rater=view.rater,
            version=view.version,
            endplates=endplates_public(view.endplates),
            protocol=view.protocol,
            numbering=None if view.numbering is None else NumberingPublic(**view.numbering),
            levels=view.levels,
            measurements=view.measurements,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )


class GradingList(BaseModel):
    items: list[GradingPublic]


class HistoryItem(VersionPublic):
    rater: str
    at: dt.datetime
    reason: str | None

    @classmethod
    def of(cls, entry: HistoryEntry) -> HistoryItem:
        v = entry.version
        return cls(
            version=v.version,
            endplates=endplates_public(v.endplates),
            protocol=v.protocol,
            numbering=None if v.numbering is None else NumberingPublic(**v.numbering),
            levels=v.levels or {},
            measurements=v.measurements or [],
            rater=entry.author,
            at=v.at,
            reason=v.reason,
        )


class GradingHistory(BaseModel):
    items: list[HistoryItem]
