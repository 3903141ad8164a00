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
    """All 11 endplates, each ``{"type", "size"?, "extension_pct"?}``."""

    endplates: dict[str, Any] = Field(examples=[{"L1_sup": {"type": "none"}, "L4_inf": {"type": "I/II", "size": "C"}}])


class GradingUpdate(GradingCreate):
    reason: str = Field(min_length=1, max_length=2000, description="why the grading changes")


class GradingPublic(BaseModel):
    id: str
    study_id: str
    rater: str
    version: int
    endplates: dict[str, EndplatePublic]
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
            created_at=view.created_at,
            updated_at=view.updated_at,
        )


class GradingList(BaseModel):
    items: list[GradingPublic]


class HistoryItem(BaseModel):
    version: int
    endplates: dict[str, EndplatePublic]
    rater: str
    at: dt.datetime
    reason: str | None

    @classmethod
    def of(cls, entry: HistoryEntry) -> HistoryItem:
        v = entry.version
        return cls(
            version=v.version,
            endplates={k: EndplatePublic(**e) for k, e in v.endplates.items()},
            rater=entry.author,
            at=v.at,
            reason=v.reason,
        )


class GradingHistory(BaseModel):
    items: list[HistoryItem]
