"""Registering studies and reading them back with their patient pseudonym and series."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from registry.errors import AlreadyExists, InvalidInput, NotFound, StudyOfAnotherPatient
from registry.imaging.dicom import is_valid_uid
from registry.imaging.window import usable_window
from registry.models import Patient, Role, Series, Study, User
from registry.repositories import studies as studies_repo
from registry.security import new_pseudonym
from registry.services import audit


def check_uid(uid: str, field: str) -> str:
    """``uid`` if it is a DICOM UID as the imaging reader accepts them, else :class:`InvalidInput` naming ``field``."""
    if not is_valid_uid(uid):
        raise InvalidInput(f"{field} {uid!r} is not a DICOM UID (numbers joined by dots, at most 64 characters)")
    return uid


def stir_to_show(series: Sequence[Series]) -> Series | None:
    """The STIR series the viewer offers instead of the T2 (docs/imaging.md#display): the sagittal STIR
    series with the most slices, the first stored on a tie; ``None`` when the study has none with images."""
    candidates = [s for s in series if s.weighting == "STIR" and s.plane == "sagittal" and s.slices > 0]
    return max(candidates, key=lambda s: s.slices) if candidates else None


@dataclass(frozen=True)
class StudyView:
    """A study with what its public shape needs."""

    study: Study
    pseudonym: str
    series: list[Series]

    @property
    def stir(self) -> Series | None:
        """The STIR series to show, chosen by :func:`stir_to_show`."""
        return stir_to_show(self.series)


def ensure_patient(session: Session, hospital_id: str, actor: User | None) -> Patient:
    """The patient with this hospital identifier, created with a fresh pseudonym when new."""
    hospital_id = hospital_id.strip()
    if not hospital_id or len(hospital_id) > 64:
        raise InvalidInput(f"patient_id {hospital_id!r} must be 1-64 characters")
    for _attempt in range(3):
        patient = studies_repo.patient_by_hospital_id(session, hospital_id)
        if patient is not None:
            return patient
        pseudonym = new_pseudonym()
        while studies_repo.pseudonym_exists(session, pseudonym):
            pseudonym = new_pseudonym()
        patient = Patient(hospital_id=hospital_id, pseudonym=pseudonym)
        try:
            # Another transaction may be creating the same patient (two studies of one patient sent
            # at once): the insert waits for it, fails, and the patient it created is used instead.
            with session.begin_nested():
                session.add(patient)
        except IntegrityError:
            continue
        audit.record(session, actor, "patient.create", "patient", patient.id)
        return patient
    raise AlreadyExists("patient_id: the patient was being registered by another request at the same time; try again")


def register_study(
    session: Session,
    actor: User,
    study_instance_uid: str,
    patient_id: str,
    study_date: dt.date | None,
    field_strength_t: float | None,
) -> tuple[StudyView, bool]:
    """Register a study read without images; returns the view and whether it was created.

    A known ``study_instance_uid`` returns the existing study to an admin or the user who registered
    it, unless it belongs to another patient. Anyone else gets the same :class:`AlreadyExists`
    whatever the ``patient_id``, so that registering neither confirms nor denies a hospital id.
    """
    check_uid(study_instance_uid, "study_instance_uid")
    existing = studies_repo.study_by_uid(session, study_instance_uid)
    if existing is not None:
        if actor.role != Role.admin and actor.id != existing.created_by:
            raise AlreadyExists(f"study_instance_uid {study_instance_uid!r} is already registered")
        patient = studies_repo.patients_by_ids(session, {existing.patient_id})[existing.patient_id]
        if patient.hospital_id != patient_id.strip():
            raise StudyOfAnotherPatient(study_instance_uid, existing.id)
        return study_view(session, existing.id), False
    patient = ensure_patient(session, patient_id, actor)
    study = Study(
        study_instance_uid=study_instance_uid,
        patient_id=patient.id,
        study_date=study_date,
        field_strength_t=field_strength_t,
        created_by=actor.id,
    )
    session.add(study)
    audit.record(session, actor, "study.register", "study", study.id, study_instance_uid=study_instance_uid)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        again = studies_repo.study_by_uid(session, study_instance_uid)
        if again is None:
            raise
        return study_view(session, again.id), False
    return StudyView(study, patient.pseudonym, []), True


def study_view(session: Session, study_id: str) -> StudyView:
    """The study with its pseudonym and series; :class:`NotFound` when unknown."""
    study = session.get(Study, study_id)
    if study is None:
        raise NotFound(f"study {study_id!r} does not exist")
    return _views(session, [study])[0]


def series_by_id(session: Session, series_id: str) -> Series:
    """One series; :class:`NotFound` when unknown."""
    series = session.get(Series, series_id)
    if series is None:
        raise NotFound(f"series {series_id!r} does not exist")
    return series


def default_window(series: Series) -> tuple[float, float] | None:
    """The series' display window (centre, width) from its DICOM headers, as recorded at ingest."""
    window = (series.details or {}).get("window")
    if not isinstance(window, list | tuple) or len(window) != 2:
        return None
    return usable_window(*window)


def list_study_views(
    session: Session,
    after: tuple[dt.datetime, str] | None,
    limit: int,
    viewer: User | None = None,
    graded_by_viewer: bool | None = None,
) -> list[StudyView]:
    """A page of studies in registration order.

    ``graded_by_viewer`` keeps only the studies ``viewer`` has (``True``) or has not yet (``False``)
    graded clinically: the two halves of a radiologist's worklist. A radiologist does not see the
    studies that are their own blinded reliability cases while a read of them is open.
    """
    if graded_by_viewer is not None and viewer is None:
        raise InvalidInput("graded_by_me needs a signed-in user")
    rater_id = viewer.id if viewer is not None and graded_by_viewer is not None else None
    blinded_for = viewer.id if viewer is not None and viewer.role == Role.radiologist else None
    return _views(session, studies_repo.list_studies(session, after, limit, rater_id, graded_by_viewer, blinded_for))


def _views(session: Session, studies: list[Study]) -> list[StudyView]:
    patients = studies_repo.patients_by_ids(session, {s.patient_id for s in studies})
    series = studies_repo.series_of_studies(session, [s.id for s in studies])
    return [StudyView(s, patients[s.patient_id].pseudonym, series[s.id]) for s in studies]


def next_awaiting(session: Session, viewer: User, after: str | None) -> StudyView | None:
    """The next study awaiting ``viewer``'s clinical grading in registration order after study
    ``after`` (from the start again when none follows), never ``after`` itself; None when nothing awaits."""
    position = None
    if after is not None:
        current = session.get(Study, after)
        if current is None:
            raise NotFound(f"study {after!r} does not exist")
        position = (current.created_at, current.id)
    following = studies_repo.list_studies(session, position, 1, viewer.id, False)
    if not following and position is not None:
        following = [s for s in studies_repo.list_studies(session, None, 2, viewer.id, False) if s.id != after][:1]
    return _views(session, following)[0] if following else None


def prior_studies(session: Session, viewer: User, study_id: str) -> list[StudyView]:
    """The patient's earlier studies with a clinical grading ``viewer`` may see (their own; an
    admin's: anyone's), newest first."""
    study = session.get(Study, study_id)
    if study is None:
        raise NotFound(f"study {study_id!r} does not exist")
    rater_id = None if viewer.role == Role.admin else viewer.id
    return _views(session, studies_repo.earlier_graded_studies(session, study, rater_id))


def prior_graded_study(session: Session, study_id: str) -> str | None:
    """The patient's latest earlier study with a clinical grading by anyone (what "development over
    time" is graded against, docs/nordic.md), or ``None``."""
    study = session.get(Study, study_id)
    if study is None:
        raise NotFound(f"study {study_id!r} does not exist")
    earlier = studies_repo.earlier_graded_studies(session, study, None)
    return earlier[0].id if earlier else None
