"""Queries on reliability studies, their cases, raters and worklists."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlmodel import Session, col, select

from registry.models import ReliabilityCase, ReliabilityRater, ReliabilityStudy, WorklistItem


def list_studies(session: Session) -> list[ReliabilityStudy]:
    """Every reliability study, newest first."""
    return list(session.exec(select(ReliabilityStudy).order_by(col(ReliabilityStudy.created_at).desc())))


def studies_rated_by(session: Session, user_id: str) -> list[ReliabilityStudy]:
    """The reliability studies in which ``user_id`` is a rater, newest first."""
    statement = (
        select(ReliabilityStudy)
        .join(ReliabilityRater, col(ReliabilityRater.reliability_study_id) == col(ReliabilityStudy.id))
        .where(ReliabilityRater.user_id == user_id)
        .order_by(col(ReliabilityStudy.created_at).desc())
    )
    return list(session.exec(statement))


def rater_ids(session: Session, study_id: str) -> list[str]:
    """The user ids of a study's raters, in the order they were added."""
    statement = (
        select(ReliabilityRater.user_id)
        .where(ReliabilityRater.reliability_study_id == study_id)
        .order_by(col(ReliabilityRater.id))
    )
    return list(session.exec(statement))


def cases_of(session: Session, study_id: str) -> list[ReliabilityCase]:
    """The cases of a study."""
    return list(session.exec(select(ReliabilityCase).where(ReliabilityCase.reliability_study_id == study_id)))


def case_by_label(session: Session, study_id: str, label: str) -> ReliabilityCase | None:
    """The case of a study with this blinded label."""
    return session.exec(
        select(ReliabilityCase).where(ReliabilityCase.reliability_study_id == study_id, ReliabilityCase.label == label)
    ).first()


def label_exists(session: Session, label: str) -> bool:
    """Whether a blinded label is already in use."""
    return session.exec(select(ReliabilityCase.id).where(ReliabilityCase.label == label)).first() is not None


def items_of(session: Session, study_id: str, rater_id: str | None = None) -> list[WorklistItem]:
    """Worklist items of a study (of one rater when given), by rater, read and position."""
    statement = select(WorklistItem).where(WorklistItem.reliability_study_id == study_id)
    if rater_id is not None:
        statement = statement.where(WorklistItem.rater_id == rater_id)
    return list(
        session.exec(statement.order_by(col(WorklistItem.rater_id), col(WorklistItem.read), col(WorklistItem.position)))
    )


def attach_grading(session: Session, item_id: int, grading_id: str, at: dt.datetime) -> bool:
    """Link a grading to a still-open worklist item; False when the item was done meanwhile."""
    result = session.execute(
        update(WorklistItem)
        .where(col(WorklistItem.id) == item_id, col(WorklistItem.grading_id).is_(None))
        .values(grading_id=grading_id, completed_at=at)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
