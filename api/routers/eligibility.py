"""The eligibility feed, its NDJSON and CSV exports, the screening funnel and re-evaluation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.deps import Admin, FunnelReader, ScreenerOrAdmin, SessionDep
from api.renderers.eligibility import feed_csv, feed_csv_filename
from api.schemas.eligibility import (
    DecisionPublic,
    FeedPagePublic,
    ReevaluationPublic,
    ReevaluationRequest,
)
from registry.metrics import FEED_LAG
from registry.models.base import utcnow
from registry.services.eligibility import rule_set_of, today
from registry.services.eligibility.decisions import reevaluate_and_commit
from registry.services.eligibility.feed import feed, iter_feed
from registry.services.eligibility.funnel import Funnel, funnel

router = APIRouter(prefix="/eligibility", tags=["eligibility"])

Trial = Annotated[str, Query(description="trial id, e.g. NCT00454792", min_length=1, max_length=64)]
Version = Annotated[str | None, Query(description="rule-set version (default: the trial's default)", max_length=64)]
Since = Annotated[str | None, Query(description="a next_cursor from an earlier page; omit to start", max_length=40)]


@router.get("", response_model=FeedPagePublic)
def eligibility_feed(
    trial: Trial,
    _user: ScreenerOrAdmin,
    session: SessionDep,
    version: Version = None,
    since: Since = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> FeedPagePublic:
    """Current decisions in order of their last change; follow ``next_cursor`` to see each change once."""
    rule_set = rule_set_of(trial, version)
    page = feed(session, rule_set, since, limit)
    oldest = page.items[0].decision.decided_at if page.items else None
    FEED_LAG.labels(rule_set.trial).set((utcnow() - oldest).total_seconds() if oldest is not None else 0.0)
    return FeedPagePublic.of(page)


def _items(session: SessionDep, trial: str, version: str | None, since: str | None) -> list[DecisionPublic]:
    rule_set = rule_set_of(trial, version)
    return [DecisionPublic.of_item(i) for i in iter_feed(session, rule_set, since)]


@router.get("/export.ndjson")
def export_ndjson(
    trial: Trial, _user: ScreenerOrAdmin, session: SessionDep, version: Version = None, since: Since = None
) -> StreamingResponse:
    """The feed from ``since`` as one JSON object per line (the items of ``GET /eligibility``)."""
    items = _items(session, trial, version, since)

    def lines() -> Iterator[str]:
        for item in items:
            yield item.model_dump_json() + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.get("/export.csv")
def export_csv(
    trial: Trial, _user: ScreenerOrAdmin, session: SessionDep, version: Version = None, since: Since = None
) -> StreamingResponse:
    """The feed from ``since`` as CSV: one row per decision, ``<criterion>_met`` and
    ``<criterion>_evidence`` columns per criterion of the rule set (``met`` is true, false or empty)."""
    rule_set = rule_set_of(trial, version)
    rows = feed_csv(rule_set, _items(session, trial, version, since))
    disposition = f'attachment; filename="{feed_csv_filename(rule_set)}"'
    return StreamingResponse(rows, media_type="text/csv", headers={"Content-Disposition": disposition})


@router.get("/funnel", response_model=Funnel)
def screening_funnel(trial: Trial, _user: FunnelReader, session: SessionDep, version: Version = None) -> Funnel:
    """MRI graded → MRI criterion met → pending clinical screening → eligible / ineligible (with reasons)."""
    rule_set = rule_set_of(trial, version)
    return funnel(session, rule_set)


@router.post("/reevaluate", response_model=ReevaluationPublic)
def reevaluate(body: ReevaluationRequest, _user: Admin, session: SessionDep) -> ReevaluationPublic:
    """Re-evaluate decisions whose date criteria may have changed (or all, with ``all``)."""
    on = body.date or today()
    report = reevaluate_and_commit(session, on, due_only=not body.all)
    return ReevaluationPublic.of(on, report)
