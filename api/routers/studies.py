"""Studies: registration and reading."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.deps import RadiologistOrAdmin, SessionDep, SettingsDep
from api.schemas.studies import NextStudy, PriorStudies, StudyCreate, StudyPage, StudyPublic
from api.uploads import upload_study
from registry.cursors import decode_cursor, encode_cursor
from registry.services import assignments as assignments_service
from registry.services import studies as studies_service

router = APIRouter(prefix="/studies", tags=["studies"])


_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": StudyCreate.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "DICOM files or .zip archives of them",
                        }
                    },
                }
            },
        },
    }
}


@router.post("", status_code=201, response_model=StudyPublic, openapi_extra=_BODY_DOC)
async def create_study(
    request: Request, user: RadiologistOrAdmin, session: SessionDep, settings: SettingsDep, response: Response
) -> StudyPublic:
    """Upload images (multipart, parts named ``files``: DICOM or .zip) or register a study without
    images (JSON); a JSON registration of a known study answers 200 with the existing study.

    Registrars and admins only (403 for anyone else, whatever they sent): a registration names a
    patient by hospital id and answers with the patient's pseudonym."""
    studies_service.check_may_register(user)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        return await upload_study(request, user, session, settings)
    if content_type not in ("application/json", ""):
        raise HTTPException(
            415,
            f"content type {content_type!r} is not accepted; send application/json or "
            "multipart/form-data with parts named 'files'",
        )
    try:
        body = StudyCreate.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    view, created = await run_in_threadpool(
        studies_service.register_study,
        session,
        user,
        body.study_instance_uid,
        body.patient_id,
        body.study_date,
        body.field_strength_t,
    )
    if not created:
        response.status_code = 200
    return StudyPublic.of(view)


@router.get("", response_model=StudyPage)
def list_studies(
    user: RadiologistOrAdmin,
    session: SessionDep,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    graded_by_me: Annotated[
        bool | None,
        Query(description="true: only studies I have graded; false: only studies awaiting my grading"),
    ] = None,
) -> StudyPage:
    """Studies in registration order, a page at a time, optionally split by whether I graded them."""
    after = decode_cursor(cursor, (dt.datetime, str), "cursor", "study list") if cursor else None
    views = studies_service.list_study_views(session, after, limit, user, graded_by_me)
    next_cursor = encode_cursor(views[-1].study.created_at, views[-1].study.id) if len(views) == limit else None
    return StudyPage(items=[StudyPublic.of(v) for v in views], next_cursor=next_cursor)


@router.get("/awaiting/next", response_model=NextStudy)
def next_awaiting(
    user: RadiologistOrAdmin,
    session: SessionDep,
    after: Annotated[str | None, Query(description="the study just graded or skipped (never answered)")] = None,
) -> NextStudy:
    """The next study awaiting my grading after ``after``, in worklist order ("submit and open next")."""
    view = studies_service.next_awaiting(session, user, after)
    return NextStudy(study=None if view is None else StudyPublic.of(view))


@router.get("/{study_id}/prior", response_model=PriorStudies)
def prior_studies(study_id: str, user: RadiologistOrAdmin, session: SessionDep) -> PriorStudies:
    """The same patient's earlier studies that have a grading I may see, newest first (read-only
    comparison), and the one "development over time" is graded against."""
    views = studies_service.prior_studies(session, user, study_id)
    against = studies_service.prior_graded_study(session, study_id)
    return PriorStudies(items=[StudyPublic.of(v) for v in views], next_cursor=None, prior_graded_study=against)


@router.get("/{study_id}", response_model=StudyPublic)
def get_study(study_id: str, user: RadiologistOrAdmin, session: SessionDep) -> StudyPublic:
    """One study with its series and the series chosen for grading (a radiologist: one assigned to them)."""
    assignments_service.visible_study(session, user, study_id)
    return StudyPublic.of(studies_service.study_view(session, study_id))
