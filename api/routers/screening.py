"""Screening answers per patient (pseudonym) and trial, and the audited identity look-up for screeners."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ScreenerOrAdmin, SessionDep
from api.schemas.eligibility import PatientIdentifiers, ResolveRequest, ScreeningPublic, ScreeningUpdate
from registry.services.eligibility import screening as screening_service

router = APIRouter(prefix="/patients", tags=["screening"])


@router.get("/{pseudonym}/screening/{trial}", response_model=ScreeningPublic)
def get_screening(pseudonym: str, trial: str, _user: ScreenerOrAdmin, session: SessionDep) -> ScreeningPublic:
    """The recorded answers (a missing answer is unknown) and the patient's decisions for the trial."""
    return ScreeningPublic.of(screening_service.screening_view(session, pseudonym, trial))


@router.patch("/{pseudonym}/screening/{trial}", response_model=ScreeningPublic)
def record_screening(
    pseudonym: str, trial: str, body: ScreeningUpdate, user: ScreenerOrAdmin, session: SessionDep
) -> ScreeningPublic:
    """Record answers (``null`` clears one) and the episode's dates (index date, date of birth, symptom
    onset); audited; the decisions follow in the same transaction, made at the index date."""
    episode = None if body.episode is None else body.episode.model_dump(exclude_unset=True)
    view = screening_service.record_screening(session, user, pseudonym, trial, body.answers, episode)
    return ScreeningPublic.of(view)


@router.post("/{pseudonym}/identifiers", response_model=PatientIdentifiers)
def resolve_pseudonym(
    pseudonym: str, body: ResolveRequest, user: ScreenerOrAdmin, session: SessionDep
) -> PatientIdentifiers:
    """The hospital identifiers behind a pseudonym, to contact the patient; who, what, when and why
    are written to the audit trail."""
    return PatientIdentifiers.of(screening_service.resolve_pseudonym(session, user, pseudonym, body.reason))
