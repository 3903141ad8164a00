"""Queries on assignments (who may read which study)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, insert
from sqlmodel import Session, col, exists, select

from registry.models import Assignment, Series, Study
from registry.models.base import new_id, utcnow

_INSERT = insert(Assignment.__table__)  # type: ignore[attr-defined]


def assigned_to(user_id: str) -> ColumnElement[bool]:
    """A condition on ``Study``: the user has a live assignment to it."""
    return (
        exists()
        .where(col(Assignment.study_id) == col(Study.id), col(Assignment.user_id) == user_id)
        .where(col(Assignment.ended_at).is_(None))
    )


def assigned_study_ids(session: Session, user_id: str, study_ids: Collection[str]) -> set[str]:
    """Those of ``study_ids`` the user has a live assignment to."""
    if not study_ids:
        return set()
    statement = select(Assignment.study_id).where(
        Assignment.user_id == user_id,
        col(Assignment.study_id).in_(sorted(study_ids)),
        col(Assignment.ended_at).is_(None),
    )
    return set(session.exec(statement))


def series_assigned(session: Session, user_id: str, series_id: str) -> bool:
    """Whether the user has a live assignment to the study of this series."""
    statement = (
        select(Series.id)
        .join(Study, col(Study.id) == col(Series.study_id))
        .where(col(Series.id) == series_id, assigned_to(user_id))
    )
    return session.exec(statement).first() is not None


def assignment(session: Session, user_id: str, study_id: str) -> Assignment | None:
    """The assignment row of a user and study, live or ended."""
    return session.exec(
        select(Assignment).where(Assignment.user_id == user_id, Assignment.study_id == study_id)
    ).first()


def live_assignments(session: Session, study_id: str) -> list[Assignment]:
    """The live assignments to a study, oldest first."""
    statement = (
        select(Assignment)
        .where(Assignment.study_id == study_id, col(Assignment.ended_at).is_(None))
        .order_by(col(Assignment.assigned_at), col(Assignment.id))
    )
    return list(session.exec(statement))


def insert_new(session: Session, study_id: str, user_id: str, assigned_by: str | None) -> None:
    """Insert a live assignment of a user who has none to the study, now, in the open transaction (a
    table-level insert: no unit of work)."""
    row = {"id": new_id(), "user_id": user_id, "study_id": study_id, "assigned_by": assigned_by}
    session.connection().execute(_INSERT, row | {"assigned_at": utcnow(), "ended_at": None})
