"""Consent and enrolment of an eligible screening episode; the arm is shown once the enrolment is committed."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ScreenerOrAdmin, SessionDep
from api.schemas.enrolment import EnrolmentPublic, EnrolmentRequest
from registry.services import enrolment as enrolment_service

router = APIRouter(prefix="/patients", tags=["enrolment"])


@router.post("/{pseudonym}/enrolment/{trial}", response_model=EnrolmentPublic, status_code=201)
def enrol(
    pseudonym: str, trial: str, body: EnrolmentRequest, user: ScreenerOrAdmin, session: SessionDep
) -> EnrolmentPublic:
    """Record consent and enrol: 409 naming the unmet or unknown criteria unless the episode is eligible.
    The decision is frozen and, for a trial with an allocation scheme, the patient is allocated in the
    same transaction; the answer (after commit) carries the arm."""
    view = enrolment_service.enrol(
        session,
        user,
        pseudonym,
        trial,
        version=body.version,
        consent_date=body.consent_date,
        consent_by=body.consent_by,
        factors=body.factors,
    )
    return EnrolmentPublic.of(view)


@router.get("/{pseudonym}/enrolment/{trial}", response_model=EnrolmentPublic)
def get_enrolment(pseudonym: str, trial: str, _user: ScreenerOrAdmin, session: SessionDep) -> EnrolmentPublic:
    """The committed enrolment with its arm; 404 before enrolment."""
    return EnrolmentPublic.of(enrolment_service.enrolment_view(session, pseudonym, trial))
