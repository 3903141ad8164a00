"""Need to know: a radiologist reads the studies assigned to them; an admin assigns (and reads all).

A study's registrant is assigned to it when they register it (they read it in the hospital's viewer).
Reliability-study raters read their blinded cases through the reliability routes only, which need no
assignment. What is not visible answers exactly as what does not exist (404). See
``docs/security.md#need-to-know``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from sqlmodel import Session

from registry.errors import InvalidInput, NotFound
from registry.models import Assignment, Role, Study, User
from registry.models.base import utcnow
from registry.repositories import assignments as assignments_repo
from registry.repositories import studies as studies_repo
from registry.repositories import users as users_repo
from registry.services import audit


def reads_all(viewer: User) -> bool:
    """Whether ``viewer`` reads every study without assignment (an admin)."""
    return viewer.role == Role.admin.value


def visible_study(session: Session, viewer: User, study_id: str) -> Study:
    """The study, if ``viewer`` may read it; :class:`NotFound` (as for an unknown id) otherwise."""
    study = session.get(Study, study_id)
    if study is None or not (reads_all(viewer) or assignments_repo.assigned_study_ids(session, viewer.id, {study_id})):
        raise NotFound(f"study {study_id!r} does not exist")
    return study


def check_series(session: Session, viewer: User, series_id: str) -> None:
    """:class:`NotFound` (as for an unknown id) unless ``viewer`` may read the study of this series."""
    if not reads_all(viewer) and not assignments_repo.series_assigned(session, viewer.id, series_id):
        raise NotFound(f"series {series_id!r} does not exist")


def visible_study_ids(session: Session, viewer: User, study_ids: Collection[str]) -> set[str]:
    """Those of ``study_ids`` that ``viewer`` may read (all of them for an admin)."""
    if reads_all(viewer):
        return set(study_ids)
    return assignments_repo.assigned_study_ids(session, viewer.id, study_ids)


@dataclass(frozen=True)
class Assignee:
    """A live assignment as an admin sees it."""

    user: str
    assigned_by: str | None
    assigned_at: dt.datetime


def _study(session: Session, study_ref: str) -> Study:
    """A study by id or StudyInstanceUID."""
    study = session.get(Study, study_ref) or studies_repo.study_by_uid(session, study_ref)
    if study is None:
        raise NotFound(f"study {study_ref!r} does not exist")
    return study


def _radiologist(session: Session, name: str) -> User:
    user = users_repo.user_by_name(session, name)
    if user is None:
        raise NotFound(f"user {name!r} does not exist")
    if user.role != Role.radiologist.value:
        raise InvalidInput(
            f"user {name!r} has role {user.role!r}; only radiologists are assigned (an admin reads every study)",
            field="user",
        )
    return user


def add_assignment(session: Session, study: Study, user: User, actor: User | None) -> bool:
    """Assign ``user`` to ``study`` in the open transaction; False when already assigned."""
    row = assignments_repo.assignment(session, user.id, study.id)
    if row is not None and row.ended_at is None:
        return False
    audit.record_many(session, [start_assignment(session, study, user, actor, row)])
    return True


def start_assignment(
    session: Session, study: Study, user: User, actor: User | None, ended: Assignment | None = None
) -> dict[str, object]:
    """Assign ``user`` to ``study`` in the open transaction, where they have no live assignment (a study
    registered in this transaction has none: no look-up needed), reviving ``ended`` when they had one;
    returns the audit event, for the caller to write with its others in one statement."""
    assigned_by = None if actor is None else actor.id
    if ended is None:
        assignments_repo.insert_new(session, study.id, user.id, assigned_by)
    else:
        ended.assigned_by, ended.assigned_at, ended.ended_at = assigned_by, utcnow(), None
        session.add(ended)
    return audit.event(actor, "assignment.create", "study", study.id, user=user.name)


def assign(session: Session, actor: User | None, study_ref: str, user_name: str) -> tuple[Study, bool]:
    """Assign radiologist ``user_name`` to a study (by id or UID) and commit; whether it was new."""
    study = _study(session, study_ref)
    created = add_assignment(session, study, _radiologist(session, user_name), actor)
    session.commit()
    return study, created


def withdraw(session: Session, actor: User | None, study_ref: str, user_name: str) -> Study:
    """End a radiologist's assignment to a study and commit; :class:`NotFound` when there is none.

    Their gradings of it stay theirs (they still reach them by id); the study leaves their worklist.
    """
    study = _study(session, study_ref)
    user = _radiologist(session, user_name)
    row = assignments_repo.assignment(session, user.id, study.id)
    if row is None or row.ended_at is not None:
        raise NotFound(f"user {user_name!r} is not assigned to study {study_ref!r}")
    row.ended_at = utcnow()
    session.add(row)
    audit.record(session, actor, "assignment.end", "study", study.id, user=user.name)
    session.commit()
    return study


def assignees(session: Session, study_id: str) -> list[Assignee]:
    """The radiologists assigned to a study, oldest assignment first."""
    _study(session, study_id)
    rows = assignments_repo.live_assignments(session, study_id)
    users = users_repo.users_by_ids(session, {r.user_id for r in rows} | {r.assigned_by for r in rows if r.assigned_by})
    return [
        Assignee(users[r.user_id].name, users[r.assigned_by].name if r.assigned_by else None, r.assigned_at)
        for r in rows
    ]
