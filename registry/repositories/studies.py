"""Queries on patients, studies and series."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, or_, select

from registry.models import Patient, Series, Study


def patient_by_hospital_id(session: Session, hospital_id: str) -> Patient | None:
    """The patient with this hospital identifier."""
    return session.exec(select(Patient).where(Patient.hospital_id == hospital_id)).first()


def pseudonym_exists(session: Session, pseudonym: str) -> bool:
    """Whether a pseudonym is already in use."""
    return session.exec(select(Patient.id).where(Patient.pseudonym == pseudonym)).first() is not None


def study_by_uid(session: Session, study_instance_uid: str) -> Study | None:
    """The study with this StudyInstanceUID."""
    return session.exec(select(Study).where(Study.study_instance_uid == study_instance_uid)).first()


def series_of_studies(session: Session, study_ids: list[str]) -> dict[str, list[Series]]:
    """The series of each study, in the order they were stored."""
    result: dict[str, list[Series]] = {sid: [] for sid in study_ids}
    if not study_ids:
        return result
    rows = session.exec(
        select(Series).where(col(Series.study_id).in_(study_ids)).order_by(col(Series.created_at), col(Series.id))
    )
    for series in rows:
        result[series.study_id].append(series)
    return result


def patients_by_ids(session: Session, ids: set[str]) -> dict[str, Patient]:
    """Patients keyed by id."""
    if not ids:
        return {}
    return {p.id: p for p in session.exec(select(Patient).where(col(Patient.id).in_(ids)))}


def list_studies(session: Session, after: tuple[dt.datetime, str] | None, limit: int) -> list[Study]:
    """Studies in the order they were registered, after the keyset position ``after``."""
    statement = select(Study).order_by(col(Study.created_at), col(Study.id)).limit(limit)
    if after is not None:
        created_at, study_id = after
        statement = statement.where(
            or_(col(Study.created_at) > created_at, (col(Study.created_at) == created_at) & (col(Study.id) > study_id))
        )
    return list(session.exec(statement))
