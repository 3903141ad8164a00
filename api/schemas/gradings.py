"""Grading shapes of the contract. Endplate contents are validated by :mod:`grading.nordic`
so that every problem is reported with its endplate and field."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from registry.services.gradings import GradingView, HistoryEntry


class EndplatePublic(BaseModel):
    type: str
    size: str | None
    extension_pct: float | None


class GradingCreate(BaseModel):
    """All 11 endplates, each ``{"type", "size"?, "extension_pct"?}``, and optionally the level
    labels and height-fraction measurements made with them (:mod:`grading.annotations`)."""

    endplates: dict[str, Any] = Field(examples=[{"L1_sup": {"type": "none"}, "L4_inf": {"type": "I/II", "size": "C"}}])
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


class GradingPublic(BaseModel):
    id: str
    study_id: str
    rater: str
    version: int
    endplates: dict[str, EndplatePublic]
    levels: dict[str, list[float]]
    measurements: list[dict[str, Any]]
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, view: GradingView) -> GradingPublic:
        return cls(
            id=view.id,
            study_id=view.study_id,
            rater=view.rater,
            version=view.version,
            endplates={k: EndplatePublic(**v) for k, v in view.endplates.items()},
            levels=view.levels,
            measurements=view.measurements,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )


class GradingList(BaseModel):
    items: list[GradingPublic]


class HistoryItem(BaseModel):
    version: int
    endplates: dict[str, EndplatePublic]
    levels: dict[str, list[float]]
    measurements: list[dict[str, Any]]
    rater: str
    at: dt.datetime
    reason: str | None

    @classmethod
    def of(cls, entry: HistoryEntry) -> HistoryItem:
        v = entry.version
        return cls(
            version=v.version,
            endplates={k: EndplatePublic(**e) for k, e in v.endplates.items()},
            levels=v.levels or {},
            measurements=v.measurements or [],
            rater=entry.author,
            at=v.at,
            reason=v.reason,
        )


class GradingHistory(BaseModel):
    items: list[HistoryItem]
