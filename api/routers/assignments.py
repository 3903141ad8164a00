"""Assignments: an admin decides which radiologist reads which study (need to know)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import Admin, SessionDep
from api.schemas.assignments import AssignmentCreate, AssignmentList, AssignmentPublic
from registry.services import assignments as assignments_service

router = APIRouter(prefix="/studies/{study_id}/assignments", tags=["assignments"])


@router.get("", response_model=AssignmentList)
def list_assignments(study_id: str, _admin: Admin, session: SessionDep) -> AssignmentList:
    """The radiologists assigned to a study."""
    return AssignmentList(items=[AssignmentPublic.of(a) for a in assignments_service.assignees(session, study_id)])


@router.post("", status_code=201, response_model=AssignmentList)
def assign(
    study_id: str, body: AssignmentCreate, admin: Admin, session: SessionDep, response: Response
) -> AssignmentList:
    """Assign a radiologist to the study (201; 200 when already assigned); the answer lists every assignee."""
    _, created = assignments_service.assign(session, admin, study_id, body.user)
    if not created:
        response.status_code = 200
    return list_assignments(study_id, admin, session)


@router.delete("/{user}", status_code=204, response_class=Response)
def withdraw(study_id: str, user: str, admin: Admin, session: SessionDep) -> Response:
    """End a radiologist's assignment: the study leaves their worklist; their gradings stay theirs."""
    assignments_service.withdraw(session, admin, study_id, user)
    return Response(status_code=204)
