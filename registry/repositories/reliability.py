"""Queries on reliability studies, their cases, raters and worklists."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, update
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


def raters_of(session: Session, study_id: str) -> list[ReliabilityRater]:
    """The rater rows of a study (role, experience), in the order they were added."""
    statement = (
        select(ReliabilityRater)
        .where(ReliabilityRater.reliability_study_id == study_id)
        .order_by(col(ReliabilityRater.id))
    )
    return list(session.exec(statement))


def cases_of(session: Session, study_id: str) -> list[ReliabilityCase]:
    """The cases of a study."""
    return list(session.exec(select(ReliabilityCase).where(ReliabilityCase.reliability_study_id == study_id)))


def case_by_label(session: Session, study_id: str, label: str, read: int = 1) -> ReliabilityCase | None:
    """The case of a study shown as ``label`` on ``read`` (read 2 has labels of its own, except on
    studies set up before, where it shows the read-1 label)."""
    statement = select(ReliabilityCase).where(ReliabilityCase.reliability_study_id == study_id)
    if read == 2:
        own = col(ReliabilityCase.read2_label) == label
        legacy = col(ReliabilityCase.read2_label).is_(None) & (col(ReliabilityCase.label) == label)
        statement = statement.where(or_(own, legacy))
    else:
        statement = statement.where(ReliabilityCase.label == label)
    return session.exec(statement).first()


def label_exists(session: Session, label: str) -> bool:
    """Whether a blinded label is already in use, on read 1 or read 2 of any study."""
    statement = select(ReliabilityCase.id).where(
        or_(col(ReliabilityCase.label) == label, col(ReliabilityCase.read2_label) == label)
    )
    return session.exec(statement).first() is not None


def items_of(session: Session, study_id: str, rater_id: str | None = None) -> list[WorklistItem]:
    """Worklist items of a study (of one rater when given), by rater, read and position."""
    statement = select(WorklistItem).where(WorklistItem.reliability_study_id == study_id)
    if rater_id is not None:
        statement = statement.where(WorklistItem.rater_id == rater_id)
    return list(
        session.exec(statement.order_by(col(WorklistItem.rater_id), col(WorklistItem.read), col(WorklistItem.position)))
    )


def attach_grading(
    session: Session, item_id: int, grading_id: str, at: dt.datetime, series_viewed: str | None = None
) -> bool:
    """Link a grading to a still-open worklist item; False when the item was done meanwhile."""
    result = session.execute(
        update(WorklistItem)
        .where(col(WorklistItem.id) == item_id, col(WorklistItem.grading_id).is_(None))
        .values(grading_id=grading_id, completed_at=at, series_viewed=series_viewed)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
