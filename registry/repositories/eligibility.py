"""Queries on screening records, eligibility decisions and the feed counter."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, bindparam, cast, func, insert, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel, col, select

from registry.models import (
    EligibilityDecision,
    FeedCounter,
    Grading,
    GradingKind,
    GradingVersion,
    Patient,
    ScreeningRecord,
    Study,
)

CHUNK = 900
"""Ids per ``IN (...)`` list (SQLite allows 999 bound parameters per statement by default)."""


@dataclass(frozen=True)
class CountingGrading:
    """The grading that counts for a patient's eligibility, with its study."""

    study_id: str
    study_date: dt.date | None
    grading_id: str
    grading_version: int
    endplates_json: str
    """The stored endplates as JSON text: identical gradings have identical text (parsed once)."""


@dataclass(frozen=True)
class StoredDecision:
    """What is compared to tell whether a decision changed."""

    id: int
    fingerprint: tuple[Any, ...]
    next_change: dt.date | None
    frozen: bool = False
    """Frozen at enrolment: a different outcome is recorded as an amendment, never applied."""
    amendment: tuple[Any, ...] | None = None
    """The fingerprint of the stored amendment of a frozen decision."""


@dataclass(frozen=True)
class ScreeningInputs:
    """A screening episode as re-evaluation reads it."""

    answers: dict[str, Any]
    index_date: dt.date | None
    date_of_birth: dt.date | None
    symptom_onset_date: dt.date | None


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def lock_patients(session: Session, patient_ids: Iterable[str]) -> None:
    """Lock the patients' rows until commit (PostgreSQL; SQLite already serialises writers).

    Every transaction that changes an input of a patient's eligibility writes that input first and
    then takes this lock before reading the inputs, so the last one to decide sees every input.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    for chunk in _chunks(sorted(set(patient_ids))):
        session.exec(select(Patient.id).where(col(Patient.id).in_(chunk)).order_by(col(Patient.id)).with_for_update())


def patient_by_pseudonym(session: Session, pseudonym: str) -> Patient | None:
    """The patient with this pseudonym."""
    return session.exec(select(Patient).where(Patient.pseudonym == pseudonym)).first()


_COUNTING = (
    sa_select(
        col(Study.patient_id),
        col(Study.id),
        col(Study.study_date),
        col(Study.created_at),
        col(Grading.id),
        col(Grading.created_at),
        col(GradingVersion.version),
        cast(col(GradingVersion.endplates), String),
    )
    .join(Grading, col(Grading.study_id) == col(Study.id))
    .join(
        GradingVersion,
        (col(GradingVersion.grading_id) == col(Grading.id))
        & (col(GradingVersion.version) == col(Grading.current_version)),
    )
    .where(col(Grading.kind) == GradingKind.clinical)
)
_COUNTING_OF = _COUNTING.where(col(Study.patient_id).in_(bindparam("ids", expanding=True)))
_COUNTING_OF_ONE = (
    _COUNTING.where(col(Study.patient_id) == bindparam("id"))
    .order_by(
        col(Study.study_date).is_(None),
        col(Study.study_date).desc(),
        col(Study.created_at).desc(),
        col(Grading.created_at).desc(),
        col(Grading.id).desc(),
    )
    .limit(1)
)


def counting_gradings(session: Session, patient_ids: Sequence[str] | None) -> dict[str, CountingGrading]:
    """Per patient: the latest version of the most recent clinical grading of the most recent graded study.

    "Most recent study" orders by study date (unknown dates oldest), then registration time; "most
    recent grading" by creation time, then id. Reliability-study reads (kind other than clinical)
    never count. One patient is chosen in SQL; many are chosen here from one pass over the rows.
    """
    rows: list[Any] = []
    if patient_ids is None:
        rows.extend(session.connection().execute(_COUNTING))
    elif len(patient_ids) == 1:
        rows.extend(session.connection().execute(_COUNTING_OF_ONE, {"id": patient_ids[0]}))
    else:
        for chunk in _chunks(list(patient_ids)):
            rows.extend(session.connection().execute(_COUNTING_OF, {"ids": list(chunk)}))
    best: dict[str, tuple[Any, ...]] = {}
    for patient_id, study_id, study_date, study_created, grading_id, grading_created, version, text in rows:
        key = (study_date or dt.date.min, study_created, grading_created, grading_id)
        current = best.get(patient_id)
        if current is None or key > current[0]:
            best[patient_id] = (key, CountingGrading(study_id, study_date, grading_id, version, text))
    return {patient_id: value[1] for patient_id, value in best.items()}


_SCREENING = sa_select(
    col(ScreeningRecord.patient_id),
    col(ScreeningRecord.trial),
    col(ScreeningRecord.answers),
    col(ScreeningRecord.index_date),
    col(ScreeningRecord.date_of_birth),
    col(ScreeningRecord.symptom_onset_date),
).where(col(ScreeningRecord.trial).in_(bindparam("trials", expanding=True)))
_SCREENING_OF = _SCREENING.where(col(ScreeningRecord.patient_id).in_(bindparam("ids", expanding=True)))


def screening_answers(
    session: Session, trials: Sequence[str], patient_ids: Sequence[str] | None
) -> dict[tuple[str, str], ScreeningInputs]:
    """The recorded answers and episode dates keyed by (patient id, trial)."""
    rows: list[Any] = []
    if patient_ids is None:
        rows.extend(session.connection().execute(_SCREENING, {"trials": list(trials)}))
    else:
        for chunk in _chunks(list(patient_ids)):
            rows.extend(session.connection().execute(_SCREENING_OF, {"trials": list(trials), "ids": list(chunk)}))
    return {(row[0], row[1]): ScreeningInputs(*row[2:]) for row in rows}


def screening_record(session: Session, patient_id: str, trial: str) -> ScreeningRecord | None:
    """The screening record of a patient for a trial."""
    return session.exec(
        select(ScreeningRecord).where(ScreeningRecord.patient_id == patient_id, ScreeningRecord.trial == trial)
    ).first()


def patients_with_inputs(session: Session) -> list[str]:
    """Every patient with a clinical grading or a screening record: those who get decisions."""
    graded = (
        select(Study.patient_id)
        .join(Grading, col(Grading.study_id) == col(Study.id))
        .where(Grading.kind == GradingKind.clinical)
    )
    screened = select(ScreeningRecord.patient_id)
    return sorted(set(session.exec(graded)) | set(session.exec(screened)))


def due_patients(session: Session, today: dt.date) -> list[str]:
    """Patients with a decision whose time-dependent criteria may have changed by ``today``."""
    statement = select(EligibilityDecision.patient_id).where(
        col(EligibilityDecision.next_change).is_not(None), col(EligibilityDecision.next_change) <= today
    )
    return sorted(set(session.exec(statement)))


def fingerprint(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a feed reader sees of a decision, apart from its position and time."""
    return (
        row["study_id"],
        row["grading_id"],
        row["grading_version"],
        row["status"],
        tuple((c["id"], c["kind"], c["met"], c["evidence"]) for c in row["criteria"]),
    )


_STORED = sa_select(
    col(EligibilityDecision.id),
    col(EligibilityDecision.trial),
    col(EligibilityDecision.rule_version),
    col(EligibilityDecision.patient_id),
    col(EligibilityDecision.study_id),
    col(EligibilityDecision.grading_id),
    col(EligibilityDecision.grading_version),
    col(EligibilityDecision.status),
    col(EligibilityDecision.criteria),
    col(EligibilityDecision.next_change),
    col(EligibilityDecision.frozen_at),
    col(EligibilityDecision.amendment),
).where(
    col(EligibilityDecision.trial).in_(bindparam("trials", expanding=True)),
    col(EligibilityDecision.rule_version).in_(bindparam("versions", expanding=True)),
)
_STORED_OF = _STORED.where(col(EligibilityDecision.patient_id).in_(bindparam("ids", expanding=True)))


def stored_decisions(
    session: Session, rule_sets: Sequence[tuple[str, str]], patient_ids: Sequence[str] | None
) -> dict[tuple[str, str], dict[str, StoredDecision]]:
    """The stored decisions of the (trial, version) pairs, keyed by pair, then patient id (one query)."""
    wanted = set(rule_sets)
    params = {"trials": sorted({t for t, _ in wanted}), "versions": sorted({v for _, v in wanted})}
    rows: list[Any] = []
    if patient_ids is None:
        rows.extend(session.connection().execute(_STORED, params))
    else:
        for chunk in _chunks(list(patient_ids)):
            rows.extend(session.connection().execute(_STORED_OF, {**params, "ids": list(chunk)}))
    stored: dict[tuple[str, str], dict[str, StoredDecision]] = {pair: {} for pair in wanted}
    for (
        decision_id,
        trial,
        version,
        patient_id,
        study_id,
        grading_id,
        grading_version,
        status,
        criteria,
        next_change,
        frozen_at,
        amendment,
    ) in rows:
        if (trial, version) not in wanted:
            continue
        values = {
            "study_id": study_id,
            "grading_id": grading_id,
            "grading_version": grading_version,
            "status": status,
            "criteria": criteria,
        }
        stored[(trial, version)][patient_id] = StoredDecision(
            decision_id,
            fingerprint(values),
            next_change,
            frozen_at is not None,
            None if amendment is None else fingerprint(amendment),
        )
    return stored


_DECISIONS = SQLModel.metadata.tables[EligibilityDecision.__tablename__]
_COUNTER = SQLModel.metadata.tables[FeedCounter.__tablename__]
_TAKE_POSITIONS = (
    update(_COUNTER)
    .where(_COUNTER.c.id == 1)
    .values(value=_COUNTER.c.value + bindparam("count"))
    .returning(_COUNTER.c.value)
)
_CHANGED_COLUMNS = (
    "study_id",
    "grading_id",
    "grading_version",
    "status",
    "imaging",
    "criteria",
    "evaluation_date",
    "next_change",
    "decided_at",
    "seq",
)
_UPDATE_DECISION = (
    update(_DECISIONS)
    .where(_DECISIONS.c.id == bindparam("decision_id"))
    .values({name: bindparam(f"new_{name}") for name in _CHANGED_COLUMNS})
)
_UPDATE_NEXT_CHANGE = (
    update(_DECISIONS)
    .where(_DECISIONS.c.id == bindparam("decision_id"))
    .values(next_change=bindparam("new_next_change"), evaluation_date=bindparam("new_evaluation_date"))
)


_UPDATE_AMENDMENT = (
    update(_DECISIONS)
    .where(_DECISIONS.c.id == bindparam("decision_id"))
    .values(amendment=bindparam("new_amendment"), seq=bindparam("new_seq"))
)


def set_amendments(session: Session, rows: list[dict[str, Any]]) -> None:
    """Record (or clear, with ``None``) what re-evaluation would decide for frozen decisions; each such
    change takes a new feed position, so screening staff see it."""
    if rows:
        params = [{"decision_id": r["id"], "new_amendment": r["amendment"], "new_seq": r["seq"]} for r in rows]
        session.connection().execute(_UPDATE_AMENDMENT, params)


def freeze_decision(session: Session, decision_id: int, at: dt.datetime) -> None:
    """Freeze a decision at enrolment."""
    session.connection().execute(update(_DECISIONS).where(_DECISIONS.c.id == decision_id).values(frozen_at=at))


def take_positions(session: Session, count: int) -> int:
    """Reserve ``count`` feed positions; returns the last one (the range ends there).

    The UPDATE locks the counter row until commit, which orders committing writers by position.
    """
    last: int = session.connection().execute(_TAKE_POSITIONS, {"count": count}).scalar_one()
    return last


def insert_decisions(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert new decisions in bulk."""
    if rows:
        session.connection().execute(insert(_DECISIONS), rows)


def update_decisions(session: Session, rows: list[dict[str, Any]]) -> None:
    """Update changed decisions in bulk (each row carries its ``id``)."""
    if rows:
        params = [{"decision_id": r["id"], **{f"new_{n}": r[n] for n in _CHANGED_COLUMNS}} for r in rows]
        session.connection().execute(_UPDATE_DECISION, params)


def set_next_change(session: Session, changes: list[dict[str, Any]]) -> None:
    """Record when unchanged decisions must next be looked at (not a feed change)."""
    if changes:
        params = [
            {"decision_id": c["id"], "new_next_change": c["next_change"], "new_evaluation_date": c["evaluation_date"]}
            for c in changes
        ]
        session.connection().execute(_UPDATE_NEXT_CHANGE, params)


def feed_page(
    session: Session, trial: str, version: str, after: int, limit: int
) -> list[tuple[EligibilityDecision, str]]:
    """Decisions of one rule set after feed position ``after``, with the patient's pseudonym."""
    statement = (
        select(EligibilityDecision, Patient.pseudonym)
        .join(Patient, col(Patient.id) == col(EligibilityDecision.patient_id))
        .where(
            EligibilityDecision.trial == trial,
            EligibilityDecision.rule_version == version,
            col(EligibilityDecision.seq) > after,
        )
        .order_by(col(EligibilityDecision.seq))
        .limit(limit)
    )
    return [(decision, pseudonym) for decision, pseudonym in session.exec(statement)]


def decisions_of_patient(session: Session, patient_id: str, trial: str) -> list[EligibilityDecision]:
    """The patient's decisions for every version of a trial."""
    return list(
        session.exec(
            select(EligibilityDecision)
            .where(EligibilityDecision.patient_id == patient_id, EligibilityDecision.trial == trial)
            .order_by(col(EligibilityDecision.rule_version))
        )
    )


def funnel_counts(session: Session, trial: str, version: str) -> list[tuple[bool, str, str, int]]:
    """Counts of decisions by (MRI graded, imaging outcome, status)."""
    graded = col(EligibilityDecision.grading_id).is_not(None)
    statement = (
        select(graded, EligibilityDecision.imaging, EligibilityDecision.status, func.count())
        .where(EligibilityDecision.trial == trial, EligibilityDecision.rule_version == version)
        .group_by(graded, EligibilityDecision.imaging, EligibilityDecision.status)
    )
    return [(bool(g), imaging, status, int(n)) for g, imaging, status, n in session.exec(statement)]


def ineligible_criteria(session: Session, trial: str, version: str) -> list[list[dict[str, Any]]]:
    """The criteria of the ineligible decisions whose MRI criterion is met (the reasons of the funnel)."""
    statement = sa_select(col(EligibilityDecision.criteria)).where(
        col(EligibilityDecision.trial) == trial,
        col(EligibilityDecision.rule_version) == version,
        col(EligibilityDecision.status) == "ineligible",
        col(EligibilityDecision.imaging) == "met",
        col(EligibilityDecision.grading_id).is_not(None),
    )
    return [list(criteria) for criteria in session.connection().execute(statement).scalars()]
