"""Registering studies and reading them back with their patient pseudonym and series."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from grading.series import Plane, Weighting
from registry import crypto
from registry.errors import AlreadyExists, Forbidden, InvalidInput, NotFound, StudyOfAnotherPatient
from registry.imaging.dicom import is_valid_uid
from registry.imaging.window import usable_window
from registry.models import Patient, Role, Series, Study, User
from registry.models.base import new_id, utcnow
from registry.repositories import studies as studies_repo
from registry.security import new_pseudonym
from registry.services import assignments, audit


def check_uid(uid: str, field: str) -> str:
    """``uid`` if it is a DICOM UID as the imaging reader accepts them, else :class:`InvalidInput` naming ``field``."""
    if not is_valid_uid(uid):
        raise InvalidInput(f"{field} {uid!r} is not a DICOM UID (numbers joined by dots, at most 64 characters)")
    return uid


def stir_to_show(series: Sequence[Series]) -> Series | None:
    """The STIR series the viewer offers instead of the T2 (docs/imaging.md#display): the sagittal STIR
    series with the most slices, the first stored on a tie; ``None`` when the study has none with images."""
    candidates = [s for s in series if s.weighting is Weighting.STIR and s.plane is Plane.SAGITTAL and s.slices > 0]
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
    """The patient with this hospital identifier, created with a fresh pseudonym when new.

    Finding an existing patient by hospital id on behalf of a user (a registrar or an admin) links
    that id to the patient's pseudonym for them: it is recorded as ``patient.match``.
    """
    patient, event = patient_and_event(session, hospital_id, actor)
    audit.record_many(session, [] if event is None else [event])
    return patient


def patient_and_event(
    session: Session, hospital_id: str, actor: User | None, *, complete: Callable[[Patient], None] | None = None
) -> tuple[Patient, dict[str, Any] | None]:
    """:func:`ensure_patient`, with its audit event (``patient.create`` or ``patient.match``; None for
    a match on nobody's behalf) returned for the caller to write with its others in one statement.
    ``complete`` is applied to a new patient before it is inserted (its identity fields)."""
    hospital_id = hospital_id.strip()
    if not hospital_id or len(hospital_id) > 64:
        raise InvalidInput(f"patient_id {hospital_id!r} must be 1-64 characters")
    for _attempt in range(3):
        patient = studies_repo.patient_by_hospital_id(session, hospital_id)
        if patient is not None:
            match = None if actor is None else audit.event(actor, "patient.match", "patient", patient.id)
            return patient, match
        index = crypto.cipher().blind_index(hospital_id)
        patient = Patient(  # every default given: a default factory costs a signature inspection in pydantic
            id=new_id(),
            hospital_id_index=index,
            hospital_id=hospital_id,
            pseudonym=new_pseudonym(),
            created_at=utcnow(),
        )
        if complete is not None:
            complete(patient)
        # Another transaction may be creating the same patient (two studies of one patient sent at
        # once): the insert waits for it, inserts nothing, and the patient it created is found next
        # time round. A pseudonym already taken (50 random bits) inserts nothing either and is drawn again.
        if studies_repo.insert_patient_if_new(session, patient):
            return patient, audit.event(actor, "patient.create", "patient", patient.id)
    raise AlreadyExists("patient_id: the patient was being registered by another request at the same time; try again")


def may_register(user: User) -> bool:
    """Whether ``user`` may register studies or upload images: an admin, or a user with the registrar
    privilege. Registering names a patient by hospital id and answers with the patient's pseudonym, so
    it is a privilege (see ``docs/security.md#registering``)."""
    return user.role == Role.admin.value or bool(user.registrar)


def check_may_register(user: User) -> None:
    """:class:`Forbidden` unless ``user`` may register studies, whatever they sent."""
    if not may_register(user):
        raise Forbidden(
            f"user {user.name!r} may not register studies or upload images: that needs the registrar privilege "
            "(`modic user registrar NAME`) or the admin role"
        )


def register_study(
    session: Session,
    actor: User,
    study_instance_uid: str,
    patient_id: str,
    study_date: dt.date | None,
    field_strength_t: float | None,
) -> tuple[StudyView, bool]:
    """Register a study read without images; returns the view and whether it was created.

    Only a registrar or an admin registers (:func:`check_may_register`). A known
    ``study_instance_uid`` returns the existing study, unless it belongs to another patient
    (:class:`StudyOfAnotherPatient`). A radiologist who registers a study is assigned to it.
    """
    check_may_register(actor)
    check_uid(study_instance_uid, "study_instance_uid")
    existing = studies_repo.study_by_uid(session, study_instance_uid)
    if existing is not None:
        patient = studies_repo.patients_by_ids(session, {existing.patient_id})[existing.patient_id]
        if patient.hospital_id != patient_id.strip():
            raise StudyOfAnotherPatient(study_instance_uid, existing.id)
        audit.record(session, actor, "patient.match", "patient", patient.id)
        assign_registrant(session, existing, actor)
        session.commit()
        return study_view(session, existing.id), False
    patient, patient_event = patient_and_event(session, patient_id, actor)
    study = Study(
        id=new_id(),
        study_instance_uid=study_instance_uid,
        patient_id=patient.id,
        study_date=study_date,
        field_strength_t=field_strength_t,
        t1_series_id=None,
        t2_series_id=None,
        warnings=[],
        created_by=actor.id,
        created_at=utcnow(),
    )
    try:  # another process may register the same study meanwhile: its insert wins, ours is dropped
        studies_repo.insert_study(session, study)
        events = [] if patient_event is None else [patient_event]
        events += registrant_assignment(session, study, actor)
        events.append(audit.event(actor, "study.register", "study", study.id, study_instance_uid=study_instance_uid))
        audit.record_many(session, events)
        session.commit()
    except IntegrityError:
        session.rollback()
        again = studies_repo.study_by_uid(session, study_instance_uid)
        if again is None:
            raise
        return study_view(session, again.id), False
    return StudyView(study, patient.pseudonym, []), True


def assign_registrant(session: Session, study: Study, actor: User | None) -> None:
    """A radiologist who registers a study (or uploads its images) is assigned to it (open transaction)."""
    if actor is not None and actor.role == Role.radiologist.value:
        assignments.add_assignment(session, study, actor, actor)


def registrant_assignment(session: Session, study: Study, actor: User | None) -> list[dict[str, Any]]:
    """:func:`assign_registrant` for a study registered in this transaction (nobody is assigned to it
    yet); returns the audit events to write."""
    if actor is not None and actor.role == Role.radiologist.value:
        return [assignments.start_assignment(session, study, actor, actor)]
    return []


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
    assigned = _assigned_filter(viewer)
    return _views(
        session, studies_repo.list_studies(session, after, limit, rater_id, graded_by_viewer, blinded_for, assigned)
    )


def _assigned_filter(viewer: User | None) -> str | None:
    """The user whose assignments limit a study list: anyone but an admin."""
    return None if viewer is None or assignments.reads_all(viewer) else viewer.id


def _views(session: Session, studies: list[Study]) -> list[StudyView]:
    patients = studies_repo.patients_by_ids(session, {s.patient_id for s in studies})
    series = studies_repo.series_of_studies(session, [s.id for s in studies])
    return [StudyView(s, patients[s.patient_id].pseudonym, series[s.id]) for s in studies]


def next_awaiting(session: Session, viewer: User, after: str | None) -> StudyView | None:
    """The next study awaiting ``viewer``'s clinical grading in registration order after study
    ``after`` (from the start again when none follows), never ``after`` itself; None when nothing awaits."""
    position = None
    if after is not None:
        current = assignments.visible_study(session, viewer, after)
        position = (current.created_at, current.id)
    assigned = _assigned_filter(viewer)
    following = studies_repo.list_studies(session, position, 1, viewer.id, False, assigned_to=assigned)
    if not following and position is not None:
        first = studies_repo.list_studies(session, None, 2, viewer.id, False, assigned_to=assigned)
        following = [s for s in first if s.id != after][:1]
    return _views(session, following)[0] if following else None


def prior_studies(session: Session, viewer: User, study_id: str) -> list[StudyView]:
    """The patient's earlier studies with a clinical grading ``viewer`` may see (their own; an
    admin's: anyone's), newest first."""
    study = assignments.visible_study(session, viewer, study_id)
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
