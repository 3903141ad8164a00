"""Queries on screening records, eligibility decisions and the feed counter."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import ColumnElement, Select, String, bindparam, cast, func, insert, update
from sqlalchemy import select as sa_select
from sqlalchemy.orm import Mapped
from sqlmodel import Session, SQLModel, col, select

from grading.eligibility.batch import PatientInputs, Screening
from grading.eligibility.counting import Candidate, counting_choice
from grading.eligibility.episode import Episode
from grading.eligibility.vocabulary import DecisionStatus, Outcome
from grading.endplates import ENDPLATE_IDS, ENDPLATES
from grading.nordic import EndplateGrading, StudyGrading
from grading.protocols import all_extras
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
from registry.repositories.batches import chunks
from registry.repositories.gradings import CURRENT_VERSION


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


_LOCK_PATIENTS = (
    sa_select(col(Patient.id))
    .where(col(Patient.id).in_(bindparam("ids", expanding=True)))
    .order_by(col(Patient.id))
    .with_for_update()
)


def lock_patients(session: Session, patient_ids: Iterable[str]) -> None:
    """Lock the patients' rows until commit (PostgreSQL; SQLite already serialises writers).

    Every transaction that changes an input of a patient's eligibility writes that input first and
    then takes this lock before reading the inputs, so the last one to decide sees every input.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    connection = session.connection()
    for chunk in chunks(sorted(set(patient_ids))):
        connection.execute(_LOCK_PATIENTS, {"ids": list(chunk)})


def patient_by_pseudonym(session: Session, pseudonym: str) -> Patient | None:
    """The patient with this pseudonym."""
    return session.exec(select(Patient).where(Patient.pseudonym == pseudonym)).first()


def _candidates(*extra: ColumnElement[Any] | Mapped[Any]) -> Select[Any]:
    """Every clinical grading at its current version, with its study: the candidates of
    :func:`counting_choice`, then the ``extra`` columns (of the grading, the version or the study)."""
    return (
        sa_select(
            col(Study.patient_id),
            col(Study.id),
            col(Study.study_date),
            cast(col(Study.created_at), String),  # compared only: as text (see Candidate)
            col(Grading.id),
            cast(col(Grading.created_at), String),
            col(GradingVersion.version),
            cast(col(GradingVersion.endplates), String),
            *extra,
        )
        .join(Grading, col(Grading.study_id) == col(Study.id))
        .join(GradingVersion, CURRENT_VERSION)
        .where(col(Grading.kind) == GradingKind.clinical)
    )


_CANDIDATES = _candidates()
_CANDIDATES_OF = _CANDIDATES.where(col(Study.patient_id).in_(bindparam("ids", expanding=True)))


def _choose(rows: Iterable[Any]) -> dict[str, Any]:
    """Per patient, the row (of :func:`_candidates`) of the candidate that counts."""
    return counting_choice((row[0], Candidate(row[2], row[3], row[5], row[4], row)) for row in rows)


def _counting(row: Any) -> CountingGrading:
    return CountingGrading(row[1], row[2], row[4], row[6], row[7])


def counting_gradings(session: Session, patient_ids: Sequence[str] | None) -> dict[str, CountingGrading]:
    """Per patient: the grading that counts, as :mod:`grading.eligibility.counting` chooses it among
    the patient's clinical gradings (reliability-study reads are never candidates)."""
    rows: list[Any] = []
    if patient_ids is None:
        rows.extend(session.connection().execute(_CANDIDATES))
    else:
        for chunk in chunks(list(patient_ids)):
            rows.extend(session.connection().execute(_CANDIDATES_OF, {"ids": list(chunk)}))
    return {patient_id: _counting(row) for patient_id, row in _choose(rows).items()}


def counting_gradings_with(
    session: Session, *extra: ColumnElement[Any] | Mapped[Any]
) -> dict[str, tuple[CountingGrading, tuple[Any, ...]]]:
    """For every patient with a clinical grading: the grading that counts (as :func:`counting_gradings`)
    and the ``extra`` columns of its row (of the grading, its current version or its study), in one query."""
    chosen = _choose(session.connection().execute(_candidates(*extra)))
    return {patient_id: (_counting(row), tuple(row[8:])) for patient_id, row in chosen.items()}


_SCREENING = sa_select(
    col(ScreeningRecord.patient_id),
    col(ScreeningRecord.trial),
    col(ScreeningRecord.answers),
    col(ScreeningRecord.index_date),
    col(ScreeningRecord.date_of_birth),
    col(ScreeningRecord.symptom_onset_date),
).where(col(ScreeningRecord.trial).in_(bindparam("trials", expanding=True)))
_SCREENING_OF = _SCREENING.where(col(ScreeningRecord.patient_id).in_(bindparam("ids", expanding=True)))


def recorded_episode(
    index_date: dt.date | None, date_of_birth: dt.date | None, symptom_onset_date: dt.date | None
) -> Episode | None:
    """The screening episode of stored dates (``None`` before an index date is recorded)."""
    return None if index_date is None else Episode(index_date, date_of_birth, symptom_onset_date)


def screening_of(record: ScreeningRecord) -> Screening:
    """A screening record as the decisions read it."""
    episode = recorded_episode(record.index_date, record.date_of_birth, record.symptom_onset_date)
    return Screening(record.answers, episode)


def screenings(
    session: Session, trials: Sequence[str], patient_ids: Sequence[str] | None
) -> dict[tuple[str, str], Screening]:
    """The recorded answers and episodes keyed by (patient id, trial)."""
    rows: list[Any] = []
    if patient_ids is None:
        rows.extend(session.connection().execute(_SCREENING, {"trials": list(trials)}))
    else:
        for chunk in chunks(list(patient_ids)):
            rows.extend(session.connection().execute(_SCREENING_OF, {"trials": list(trials), "ids": list(chunk)}))
    return {(row[0], row[1]): Screening(row[2], recorded_episode(*row[3:])) for row in rows}


_ENDPLATE_KEYS = tuple(zip(ENDPLATES, ENDPLATE_IDS, strict=True))
"""Each endplate with its key in a stored grading (paired once, not per grading read)."""


def grading_from_stored(endplates: Mapping[str, Any]) -> StudyGrading:
    """The :class:`StudyGrading` of a stored (validated, canonical) grading version.

    Endplate gradings are immutable values that :meth:`EndplateGrading.from_mapping` parses once
    and shares: this is part of what keeps re-evaluating 100,000 gradings fast. A version may hold the
    variables of any protocol, so all of them are accepted.
    """
    extras = all_extras()
    parse = EndplateGrading.from_mapping
    return StudyGrading(tuple([parse(endplate, endplates[key], extras) for endplate, key in _ENDPLATE_KEYS]))


@dataclass(frozen=True)
class EligibilityInputs:
    """Everything re-evaluation reads: the decision inputs per patient and the grading that counts
    (the provenance each decision records)."""

    patients: dict[str, PatientInputs]
    counting: dict[str, CountingGrading]


def eligibility_inputs(session: Session, trials: Sequence[str], patient_ids: Sequence[str] | None) -> EligibilityInputs:
    """The inputs of the patients (``None``: every patient with inputs) for the trials' rule sets.

    Identical stored gradings (the same canonical text) are parsed once and shared, so that the
    decisions of identical inputs are evaluated once (:func:`grading.eligibility.batch.decide_all`).
    """
    counting = counting_gradings(session, patient_ids)
    recorded = screenings(session, trials, patient_ids)
    by_patient: dict[str, dict[str, Screening]] = {}
    for (patient_id, trial), screening in recorded.items():
        by_patient.setdefault(patient_id, {})[trial] = screening
    wanted = set(counting) | set(by_patient)
    if patient_ids is not None:
        wanted &= set(patient_ids)
    parsed: dict[str, StudyGrading] = {}
    patients: dict[str, PatientInputs] = {}
    for patient_id in wanted:
        chosen = counting.get(patient_id)
        grading = None
        if chosen is not None:
            grading = parsed.get(chosen.endplates_json)
            if grading is None:
                grading = parsed[chosen.endplates_json] = grading_from_stored(json.loads(chosen.endplates_json))
        study_date = None if chosen is None else chosen.study_date
        patients[patient_id] = PatientInputs(grading, study_date, by_patient.get(patient_id, {}))
    return EligibilityInputs(patients, counting)


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
        for chunk in chunks(list(patient_ids)):
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


def freeze_decision(session: Session, decision_id: int, at: dt.datetime) -> None:
    """Freeze a decision at enrolment."""
    session.connection().execute(update(_DECISIONS).where(_DECISIONS.c.id == decision_id).values(frozen_at=at))


@dataclass(frozen=True)
class DecisionRow:
    """A decision as stored: what the feed shows of it and when it must next be looked at."""

    patient_id: str
    trial: str
    rule_version: str
    study_id: str | None
    grading_id: str | None
    grading_version: int | None
    status: DecisionStatus
    imaging: Outcome
    criteria: list[dict[str, Any]]
    evaluation_date: dt.date
    next_change: dt.date | None
    decided_at: dt.datetime

    def values(self) -> dict[str, Any]:
        """Column name to value."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def fingerprint(self) -> tuple[Any, ...]:
        """See :func:`fingerprint`."""
        return fingerprint(self.values())

    def amendment(self) -> dict[str, Any]:
        """What a frozen decision would now be: shown in the feed beside it."""
        keys = ("status", "criteria", "study_id", "grading_id", "grading_version", "evaluation_date", "decided_at")
        return {
            key: value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value
            for key, value in self.values().items()
            if key in keys
        }


@dataclass
class DecisionWrites:
    """The changes of one re-evaluation, written together by :func:`write_decisions`."""

    new: list[DecisionRow] = field(default_factory=list)
    changed: list[tuple[int, DecisionRow]] = field(default_factory=list)
    """(stored decision id, its new content)."""
    amended: list[tuple[int, dict[str, Any] | None]] = field(default_factory=list)
    """(frozen decision id, what re-evaluation would decide, or ``None`` when it agrees again)."""
    touched: list[tuple[int, dt.date | None, dt.date]] = field(default_factory=list)
    """(unchanged decision id, next change, evaluation date): not a feed change."""

    @property
    def feed_changes(self) -> int:
        """How many decisions take a new feed position."""
        return len(self.new) + len(self.changed) + len(self.amended)


def write_decisions(session: Session, writes: DecisionWrites) -> None:
    """Write new, changed and amended decisions, each with the next feed position, in bulk.

    The positions are reserved from the counter row, whose UPDATE locks it until commit: that orders
    committing writers by position.
    """
    connection = session.connection()
    count = writes.feed_changes
    if count:
        last: int = connection.execute(_TAKE_POSITIONS, {"count": count}).scalar_one()
        seq = iter(range(last - count + 1, last + 1))
    if writes.new:
        connection.execute(insert(_DECISIONS), [{**row.values(), "seq": next(seq)} for row in writes.new])
    if writes.changed:
        params = []
        for decision_id, row in writes.changed:
            values = {**row.values(), "seq": next(seq)}
            params.append({"decision_id": decision_id, **{f"new_{n}": values[n] for n in _CHANGED_COLUMNS}})
        connection.execute(_UPDATE_DECISION, params)
    if writes.amended:
        params = [
            {"decision_id": decision_id, "new_amendment": amendment, "new_seq": next(seq)}
            for decision_id, amendment in writes.amended
        ]
        connection.execute(_UPDATE_AMENDMENT, params)
    if writes.touched:
        params = [
            {"decision_id": decision_id, "new_next_change": next_change, "new_evaluation_date": day}
            for decision_id, next_change, day in writes.touched
        ]
        connection.execute(_UPDATE_NEXT_CHANGE, params)


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


def funnel_counts(session: Session, trial: str, version: str) -> list[tuple[bool, Outcome, DecisionStatus, int]]:
    """Counts of decisions by (MRI graded, imaging outcome, status)."""
    graded = col(EligibilityDecision.grading_id).is_not(None)
    statement = (
        select(graded, EligibilityDecision.imaging, EligibilityDecision.status, func.count())
        .where(EligibilityDecision.trial == trial, EligibilityDecision.rule_version == version)
        .group_by(graded, EligibilityDecision.imaging, EligibilityDecision.status)
    )
    # the columns' types give members; the select's typing knows them only as strings
    return [
        (bool(g), Outcome(imaging), DecisionStatus(status), int(n)) for g, imaging, status, n in session.exec(statement)
    ]


def ineligible_criteria(session: Session, trial: str, version: str) -> list[list[dict[str, Any]]]:
    """The criteria of the ineligible decisions whose MRI criterion is met (the reasons of the funnel)."""
    statement = sa_select(col(EligibilityDecision.criteria)).where(
        col(EligibilityDecision.trial) == trial,
        col(EligibilityDecision.rule_version) == version,
        col(EligibilityDecision.status) == DecisionStatus.INELIGIBLE,
        col(EligibilityDecision.imaging) == Outcome.MET,
        col(EligibilityDecision.grading_id).is_not(None),
    )
    return [list(criteria) for criteria in session.connection().execute(statement).scalars()]
