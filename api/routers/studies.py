"""Studies: registration and reading."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import RadiologistOrAdmin, SessionDep
from api.schemas.studies import StudyCreate, StudyPage, StudyPublic
from registry.errors import InvalidInput
from registry.services import studies as studies_service

router = APIRouter(prefix="/studies", tags=["studies"])


def _encode_cursor(created_at: dt.datetime, study_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{study_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    try:
        created, study_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return dt.datetime.fromisoformat(created), study_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput(f"cursor {cursor!r} is not a cursor returned by this endpoint") from None


@router.post("", status_code=201, response_model=StudyPublic)
def register_study(body: StudyCreate, user: RadiologistOrAdmin, session: SessionDep, response: Response) -> StudyPublic:
    """Register a study read in the hospital's own viewer (no images); 200 when already known."""
    view, created = studies_service.register_study(
        session, user, body.study_instance_uid, body.patient_id, body.study_date, body.field_strength_t
    )
    if not created:
        response.status_code = 200
    return StudyPublic.of(view)


@router.get("", response_model=StudyPage)
def list_studies(
    _user: RadiologistOrAdmin,
    session: SessionDep,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> StudyPage:
    """Studies in registration order, a page at a time."""
    views = studies_service.list_study_views(session, _decode_cursor(cursor) if cursor else None, limit)
    next_cursor = _encode_cursor(views[-1].study.created_at, views[-1].study.id) if len(views) == limit else None
    return StudyPage(items=[StudyPublic.of(v) for v in views], next_cursor=next_cursor)


@router.get("/{study_id}", response_model=StudyPublic)
def get_study(study_id: str, _user: RadiologistOrAdmin, session: SessionDep) -> StudyPublic:
    """One study with its series and the series chosen for grading."""
    return StudyPublic.of(studies_service.study_view(session, study_id))
