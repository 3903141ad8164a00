"""Gradings: entry, amendment with optimistic concurrency, history."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response

from api.deps import Radiologist, RadiologistOrAdmin, SessionDep
from api.schemas.gradings import (
    GradingCreate,
    GradingHistory,
    GradingList,
    GradingPublic,
    GradingUpdate,
    HistoryItem,
    PriorGradedStudy,
)
from registry.services import assignments as assignments_service
from registry.services import gradings as gradings_service
from registry.services import reports as reports_service
from registry.services.grading_writer import GradingWriter

router = APIRouter(tags=["gradings"])


@router.post("/studies/{study_id}/gradings", status_code=201, response_model=GradingPublic)
async def create_grading(
    study_id: str, body: GradingCreate, rater: Radiologist, request: Request, response: Response
) -> GradingPublic:
    """Record the radiologist's grading of all 11 endplates (one clinical grading per rater and study)."""
    # Validation is pure and quick, so it runs here; the write joins the gradings being committed
    # together by the app's writer (group commit) and is answered once committed.
    new = gradings_service.parse_grading(
        rater,
        study_id,
        body.endplates,
        body.protocol,
        body.numbering,
        levels=body.levels,
        measurements=body.measurements,
    )
    writer: GradingWriter = request.app.state.grading_writer
    view = await asyncio.wrap_future(writer.submit(new))
    response.headers["ETag"] = view.etag
    return GradingPublic.of(view)


@router.get("/studies/{study_id}/gradings", response_model=GradingList)
def study_gradings(study_id: str, user: RadiologistOrAdmin, session: SessionDep) -> GradingList:
    """The clinical gradings of a study I may see: my own (a radiologist), or all of them (an admin)."""
    return GradingList(items=[GradingPublic.of(v) for v in gradings_service.gradings_of_study(session, user, study_id)])


@router.get("/studies/{study_id}/prior-graded-study", response_model=PriorGradedStudy)
def prior_graded_study(study_id: str, user: RadiologistOrAdmin, session: SessionDep) -> PriorGradedStudy:
    """The patient's latest earlier study with a clinical grading (for development over time)."""
    assignments_service.visible_study(session, user, study_id)
    return PriorGradedStudy(study_id=gradings_service.prior_graded_study(session, study_id))


@router.get("/gradings/{grading_id}", response_model=GradingPublic)
def get_grading(grading_id: str, user: RadiologistOrAdmin, session: SessionDep, response: Response) -> GradingPublic:
    """The current version of a grading, with its ETag."""
    view = gradings_service.get_grading(session, grading_id, user)
    response.headers["ETag"] = view.etag
    return GradingPublic.of(view)


@router.put("/gradings/{grading_id}", response_model=GradingPublic)
def amend_grading(
    grading_id: str,
    body: GradingUpdate,
    user: RadiologistOrAdmin,
    session: SessionDep,
    response: Response,
    if_match: Annotated[str | None, Header(description="ETag of the version being amended")] = None,
) -> GradingPublic:
    """Amend a grading: a new version with a reason; 428 without If-Match, 412 when stale."""
    view = gradings_service.amend_grading(
        session,
        user,
        grading_id,
        if_match,
        body.endplates,
        body.reason,
        protocol=body.protocol,
        numbering=body.numbering,
        levels=body.levels,
        measurements=body.measurements,
    )
    response.headers["ETag"] = view.etag
    return GradingPublic.of(view)


@router.get("/gradings/{grading_id}/history", response_model=GradingHistory)
def grading_history(grading_id: str, user: RadiologistOrAdmin, session: SessionDep) -> GradingHistory:
    """Every version of the grading, oldest first: who, when, why."""
    return GradingHistory(items=[HistoryItem.of(e) for e in gradings_service.history(session, grading_id, user)])


_DICOM = "application/dicom"


def _sr_response(content: bytes, grading_id: str, version: int | None) -> Response:
    suffix = "" if version is None else f"_v{version}"
    return Response(
        content,
        media_type=_DICOM,
        headers={"Content-Disposition": f'attachment; filename="grading_{grading_id}{suffix}_sr.dcm"'},
    )


@router.get("/gradings/{grading_id}/sr.dcm", response_class=Response, responses={200: {"content": {_DICOM: {}}}})
def grading_sr(grading_id: str, user: RadiologistOrAdmin, session: SessionDep) -> Response:
    """The current version as a DICOM Comprehensive SR (TID 1500 measurement report)."""
    return _sr_response(reports_service.grading_sr(session, grading_id, None, user), grading_id, None)


@router.get(
    "/gradings/{grading_id}/versions/{version}/sr.dcm",
    response_class=Response,
    responses={200: {"content": {_DICOM: {}}}},
)
def grading_version_sr(
    grading_id: str, version: Annotated[int, Path(ge=1)], user: RadiologistOrAdmin, session: SessionDep
) -> Response:
    """One version of the grading as a DICOM Comprehensive SR (TID 1500 measurement report)."""
    return _sr_response(reports_service.grading_sr(session, grading_id, version, user), grading_id, version)
