"""Queries on patients, studies and series."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import Executable, bindparam
from sqlalchemy import insert as sa_insert
from sqlalchemy import select as sa_select
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, col, exists, or_, select

from registry import crypto
from registry.models import Patient, Series, Study
from registry.repositories import assignments as assignments_repo

_PATIENT_BY_INDEX = select(Patient).where(Patient.hospital_id_index == bindparam("index"))
"""Built once, so that its cache key is made once (as :data:`_STUDY_BY_UID`)."""


def patient_by_hospital_id(session: Session, hospital_id: str) -> Patient | None:
    """The patient with this hospital identifier (found by its blind index)."""
    index = crypto.cipher().blind_index(hospital_id)
    return session.exec(_PATIENT_BY_INDEX, params={"index": index}).first()


_INSERT_PATIENT_IF_NEW: dict[str, Executable] = {}
"""Per dialect, built once: a statement built with each patient's values made its cache key anew each time."""


def _insert_patient_if_new(dialect: str) -> Executable:
    """The patient insert of :func:`insert_patient_if_new` for ``dialect``. The dialect's insert is
    imported here: a process on SQLite does not load PostgreSQL's dialect."""
    statement = _INSERT_PATIENT_IF_NEW.get(dialect)
    if statement is None:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
        table = Patient.__table__  # type: ignore[attr-defined]
        statement = dialect_insert(table).on_conflict_do_nothing().returning(table.c.id)
        _INSERT_PATIENT_IF_NEW[dialect] = statement
    return statement


_INSERT_STUDY = sa_insert(Study.__table__)  # type: ignore[attr-defined]


def insert_patient_if_new(session: Session, patient: Patient) -> bool:
    """Insert ``patient`` unless its blind index or pseudonym is taken; whether it was inserted.

    ``INSERT … ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite alike): a patient another transaction is
    inserting meanwhile makes this one wait for it and then insert nothing, and the transaction stays
    usable, so no savepoint (two more round trips and their bookkeeping) is needed around it. An
    inserted patient joins the session as a persistent object.
    """
    statement = _insert_patient_if_new(session.get_bind().dialect.name)
    if session.connection().execute(statement, _row(patient)).first() is None:
        return False
    make_transient_to_detached(patient)
    session.add(patient)
    return True


def insert_study(session: Session, study: Study) -> None:
    """Insert a new study's row in the open transaction: one table-level statement, no unit of work
    (the object, made with every field set, stays out of the session); a StudyInstanceUID already
    registered raises :class:`sqlalchemy.exc.IntegrityError`."""
    session.connection().execute(_INSERT_STUDY, _row(study))


def _row(record: Patient | Study) -> dict[str, object]:
    return {column.name: getattr(record, column.name) for column in record.__table__.columns}  # type: ignore[union-attr]


_STUDY_BY_UID = select(Study).where(Study.study_instance_uid == bindparam("uid"))
"""Built once: a statement built for each call made its cache key anew each time (a registration's look-ups)."""


def study_by_uid(session: Session, study_instance_uid: str) -> Study | None:
    """The study with this StudyInstanceUID."""
    return session.exec(_STUDY_BY_UID, params={"uid": study_instance_uid}).first()


def known_study_uids(session: Session, study_instance_uids: Collection[str]) -> set[str]:
    """Those of the StudyInstanceUIDs that name a study in the registry (one query)."""
    if not study_instance_uids:
        return set()
    statement = sa_select(col(Study.study_instance_uid)).where(col(Study.study_instance_uid).in_(study_instance_uids))
    return set(session.connection().execute(statement).scalars())


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


_PATIENTS_OF_STUDIES = sa_select(col(Study.id), col(Study.patient_id)).where(
    col(Study.id).in_(bindparam("ids", expanding=True))
)


def patients_of_studies(session: Session, study_ids: Collection[str]) -> dict[str, str]:
    """Study id to patient id, for the studies that exist."""
    if not study_ids:
        return {}
    rows = session.connection().execute(_PATIENTS_OF_STUDIES, {"ids": sorted(study_ids)})
    return {study_id: patient_id for study_id, patient_id in rows}


def patients_by_ids(session: Session, ids: set[str]) -> dict[str, Patient]:
    """Patients keyed by id."""
    if not ids:
        return {}
    return {p.id: p for p in session.exec(select(Patient).where(col(Patient.id).in_(ids)))}


def list_studies(
    session: Session,
    after: tuple[dt.datetime, str] | None,
    limit: int,
    rater_id: str | None = None,
    graded: bool | None = None,
    blinded_for: str | None = None,
    assigned_to: str | None = None,
) -> list[Study]:
    """Studies in the order they were registered, after the keyset position ``after``.

    With ``rater_id`` and ``graded``, only the studies that rater has (``True``) or has not
    (``False``) given a clinical grading; reliability-study reads do not count. With
    ``blinded_for``, the studies that are that rater's blinded reliability cases with a read still
    open are left out. With ``assigned_to``, only the studies that user is assigned to.
    """
    # The gradings' and reliability tables are loaded by the queries that name them (not by ingest or pulls).
    from registry.models import Grading, GradingKind, ReliabilityCase, WorklistItem

    statement = select(Study).order_by(col(Study.created_at), col(Study.id)).limit(limit)
    if after is not None:
        created_at, study_id = after
        statement = statement.where(
            or_(col(Study.created_at) > created_at, (col(Study.created_at) == created_at) & (col(Study.id) > study_id))
        )
    if rater_id is not None and graded is not None:
        mine = exists().where(
            col(Grading.study_id) == col(Study.id),
            col(Grading.rater_id) == rater_id,
            col(Grading.kind) == GradingKind.clinical,
        )
        statement = statement.where(mine if graded else ~mine)
    if blinded_for is not None:
        open_read = (
            exists()
            .where(col(ReliabilityCase.study_id) == col(Study.id))
            .where(col(WorklistItem.case_id) == col(ReliabilityCase.id))
            .where(col(WorklistItem.rater_id) == blinded_for, col(WorklistItem.completed_at).is_(None))
        )
        statement = statement.where(~open_read)
    if assigned_to is not None:
        statement = statement.where(assignments_repo.assigned_to(assigned_to))
    return list(session.exec(statement))


def earlier_graded_studies(session: Session, study: Study, rater_id: str | None) -> list[Study]:
    """The patient's other studies made before ``study`` (by study date, else by registration) that
    have a clinical grading (by ``rater_id`` when given), newest first."""
    from registry.models import Grading, GradingKind

    graded = exists().where(col(Grading.study_id) == col(Study.id), col(Grading.kind) == GradingKind.clinical)
    if rater_id is not None:
        graded = graded.where(col(Grading.rater_id) == rater_id)
    statement = select(Study).where(Study.patient_id == study.patient_id, Study.id != study.id, graded)
    if study.study_date is not None:
        statement = statement.where(col(Study.study_date) < study.study_date)
    else:
        statement = statement.where(col(Study.created_at) < study.created_at)
    return list(
        session.exec(statement.order_by(col(Study.study_date).desc(), col(Study.created_at).desc(), col(Study.id)))
    )
