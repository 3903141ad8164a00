"""Queries on gradings and their versions."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CompoundSelect, bindparam, insert, literal_column, tuple_, union_all, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from registry.models import Assignment, Grading, GradingKind, GradingVersion, Study
from registry.models.base import utcnow
from registry.repositories.batches import CHUNK, chunks

CURRENT_VERSION = (col(GradingVersion.grading_id) == col(Grading.id)) & (
    col(GradingVersion.version) == col(Grading.current_version)
)
"""Join condition: a grading with its current version (the one definition queries join on)."""


def gradings_of_study(session: Session, study_id: str, rater_id: str | None, kind: GradingKind) -> list[Grading]:
    """The gradings of a study of one kind, oldest first; only ``rater_id``'s when given."""
    statement = select(Grading).where(Grading.study_id == study_id, Grading.kind == kind.value)
    if rater_id is not None:
        statement = statement.where(Grading.rater_id == rater_id)
    return list(session.exec(statement.order_by(col(Grading.created_at), col(Grading.id))))


def version_of(session: Session, grading_id: str, version: int) -> GradingVersion | None:
    """One version of a grading."""
    return session.exec(
        select(GradingVersion).where(GradingVersion.grading_id == grading_id, GradingVersion.version == version)
    ).first()


def current_versions(session: Session, grading_ids: Collection[str]) -> dict[str, GradingVersion]:
    """Grading id to its current version (one query per :data:`CHUNK` ids, never one per grading)."""
    found: dict[str, GradingVersion] = {}
    for chunk in chunks(sorted(set(grading_ids))):
        statement = select(GradingVersion).join(Grading, CURRENT_VERSION).where(col(Grading.id).in_(chunk))
        found.update((version.grading_id, version) for version in session.exec(statement))
    return found


def versions_of(session: Session, grading_id: str) -> list[GradingVersion]:
    """Every version of a grading, oldest first."""
    return list(
        session.exec(
            select(GradingVersion).where(GradingVersion.grading_id == grading_id).order_by(col(GradingVersion.version))
        )
    )


def advance_version(session: Session, grading_id: str, expected: int) -> bool:
    """Move the grading from version ``expected`` to ``expected + 1``; False when another writer got there first.

    The compare-and-set runs as one UPDATE, so of two concurrent amendments of the same version
    exactly one succeeds on both SQLite and PostgreSQL.
    """
    result = session.execute(
        update(Grading)
        .where(col(Grading.id) == grading_id, col(Grading.current_version) == expected)
        .values(current_version=expected + 1, updated_at=utcnow())
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


_INSERT_GRADING = insert(Grading.__table__)  # type: ignore[attr-defined]
_INSERT_VERSION = insert(GradingVersion.__table__)  # type: ignore[attr-defined]
_BY_CLINICAL_KEY = sa_select(col(Grading.clinical_key), col(Grading.id)).where(
    col(Grading.clinical_key).in_(bindparam("keys", expanding=True))
)


def gradings_by_clinical_key(session: Session, keys: Collection[str]) -> dict[str, str]:
    """Clinical key (``study_id:rater_id``) to grading id, for the keys that are taken."""
    if not keys:
        return {}
    rows = session.connection().execute(_BY_CLINICAL_KEY, {"keys": sorted(keys)})
    return {str(key): str(grading_id) for key, grading_id in rows}


@dataclass(frozen=True)
class FirstVersionChecks:
    """What recording a batch of first gradings checks, read in one statement."""

    patients: dict[str, str]
    """Study id to patient id, for the studies that exist."""
    assigned: set[tuple[str, str]]
    """The (rater, study) pairs asked about with a live assignment."""
    taken: dict[str, str]
    """Clinical key to grading id, for the keys asked about that are taken."""


_FIRST_VERSION_CHECKS: CompoundSelect[str, str, str] = union_all(
    sa_select(literal_column("'study'"), col(Study.id), col(Study.patient_id)).where(
        col(Study.id).in_(bindparam("studies", expanding=True))
    ),
    sa_select(literal_column("'assigned'"), col(Assignment.user_id), col(Assignment.study_id)).where(
        tuple_(col(Assignment.user_id), col(Assignment.study_id)).in_(bindparam("pairs", expanding=True)),
        col(Assignment.ended_at).is_(None),
    ),
    sa_select(literal_column("'taken'"), col(Grading.clinical_key), col(Grading.id)).where(
        col(Grading.clinical_key).in_(bindparam("keys", expanding=True))
    ),
)
_CHECKS_PER_STATEMENT = CHUNK // 4
"""Gradings checked per statement: each binds its study, its (rater, study) pair and its key."""


def first_version_checks(
    session: Session, study_ids: Collection[str], pairs: Collection[tuple[str, str]], keys: Collection[str]
) -> FirstVersionChecks:
    """The studies' patients, which (rater, study) pairs are assigned and which clinical keys are taken:
    the look-ups of :func:`registry.services.gradings.write_first_versions` in one round trip for a
    batch (as three statements they were about a third of a small batch's CPU)."""
    checks = FirstVersionChecks({}, set(), {})
    studies, assigned, taken = sorted(study_ids), sorted(pairs), sorted(keys)
    connection = session.connection()
    for start in range(0, max(len(studies), len(assigned), len(taken)), _CHECKS_PER_STATEMENT):
        end = start + _CHECKS_PER_STATEMENT
        parameters = {"studies": studies[start:end], "pairs": assigned[start:end], "keys": taken[start:end]}
        for what, first, second in connection.execute(_FIRST_VERSION_CHECKS, parameters):
            if what == "study":
                checks.patients[first] = second
            elif what == "assigned":
                checks.assigned.add((first, second))
            else:
                checks.taken[first] = second
    return checks


def insert_first_versions(session: Session, gradings: list[dict[str, Any]], versions: list[dict[str, Any]]) -> None:
    """Insert new gradings and their versions 1.

    Table-level inserts with bound parameters, one statement per table for the whole batch: no
    unit-of-work bookkeeping (this is the hot path of grading entry).
    """
    if gradings:
        connection = session.connection()
        connection.execute(_INSERT_GRADING, gradings)
        connection.execute(_INSERT_VERSION, versions)
