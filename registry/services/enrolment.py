"""Enrolment with consent, allocation by minimisation, its replay, and the trial's CONSORT-shaped log.

Enrolling an eligible screening episode freezes its decision (with provenance) and, when the trial has
an allocation scheme, allocates the patient in the same transaction. Allocations of a trial are made
one at a time: the trial's stream row is locked (PostgreSQL; SQLite serialises writers), then every
earlier allocation is read, so the counts are complete and the sequence has no gap or duplicate.

Concealment: the arm of an enrolment is returned only once the enrolment is committed; running
totals, the allocation log and the replay are for the allocation manager only; the eligibility feed
never carries arms.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from grading.allocation import Allocation as Drawn
from grading.allocation import Replay, Scheme, Tally, allocate, packaged_schemes, replay
from grading.eligibility import DecisionStatus, Outcome
from registry.errors import Conflict, InvalidInput, NotFound
from registry.models import Allocation, AllocationStream, EligibilityDecision, Enrolment, Patient, User
from registry.models.base import utcnow
from registry.repositories import eligibility as eligibility_repo
from registry.services import audit
from registry.services.eligibility import rule_set_of, today


@dataclass(frozen=True)
class EnrolmentView:
    """An enrolment as its screener sees it once committed (with the arm, if allocated)."""

    pseudonym: str
    enrolment: Enrolment
    allocation: Allocation | None


def scheme(trial: str) -> Scheme | None:
    """The allocation scheme of ``trial``, ``None`` when it has none (enrolment without allocation)."""
    return packaged_schemes().get(trial)


def _patient(session: Session, pseudonym: str) -> Patient:
    patient = eligibility_repo.patient_by_pseudonym(session, pseudonym)
    if patient is None:
        raise NotFound(f"patient {pseudonym!r} does not exist")
    return patient


def _why_not(decision: EligibilityDecision | None, key: str) -> str:
    if decision is None:
        return f"no eligibility decision under {key} yet: record the screening episode first"
    unmet = [c["id"] for c in decision.criteria if c["met"] is False]
    unknown = [c["id"] for c in decision.criteria if c["met"] is None]
    parts = []
    if unmet:
        parts.append(f"not met: {', '.join(unmet)}")
    if unknown:
        parts.append(f"unknown: {', '.join(unknown)}")
    return f"the episode is {decision.status} under {key} ({'; '.join(parts)})"


def _stream(session: Session, trial: str) -> AllocationStream:
    """The trial's stream row, created with a fresh secret seed on first use, locked until commit."""
    values = {"trial": trial, "seed": secrets.token_hex(32), "allocated": 0, "created_at": utcnow()}
    table = AllocationStream.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.connection().execute(insert(table).values(values).on_conflict_do_nothing(index_elements=["trial"]))
    statement = select(AllocationStream).where(AllocationStream.trial == trial).with_for_update()
    return session.exec(statement.execution_options(populate_existing=True)).one()


def _drawn(row: Allocation) -> Drawn:
    return Drawn(
        row.sequence,
        dict(row.levels),
        row.arm,
        dict(row.imbalance),
        tuple(row.ranking),
        dict(row.probabilities),
        row.draw,
    )


def allocations(session: Session, trial: str) -> list[Allocation]:
    """Every allocation of ``trial`` in sequence order."""
    return list(session.exec(select(Allocation).where(Allocation.trial == trial).order_by(col(Allocation.sequence))))


def enrol(
    session: Session,
    actor: User,
    pseudonym: str,
    trial: str,
    *,
    version: str | None,
    consent_date: dt.date,
    consent_by: str,
    factors: dict[str, Any],
) -> EnrolmentView:
    """Record consent and enrolment of an eligible episode, freeze its decision, allocate; commit."""
    rule_set = rule_set_of(trial, version)
    patient = _patient(session, pseudonym)
    eligibility_repo.lock_patients(session, [patient.id])
    record = eligibility_repo.screening_record(session, patient.id, trial)
    if record is None or record.index_date is None:
        raise Conflict(f"{pseudonym} has no screening episode for {trial}: record its index date first")
    existing = session.exec(
        select(Enrolment).where(Enrolment.patient_id == patient.id, Enrolment.trial == trial)
    ).first()
    if existing is not None:
        raise Conflict(f"{pseudonym} is already enrolled in {trial} (on {existing.enrolled_at.date().isoformat()})")
    if not consent_by.strip():
        raise InvalidInput("consent_by: say who took the consent")
    if not record.index_date <= consent_date <= today():
        raise InvalidInput(
            f"consent_date: {consent_date.isoformat()} is not allowed; allowed: from the index date "
            f"{record.index_date.isoformat()} to today"
        )
    decision = session.exec(
        select(EligibilityDecision).where(
            EligibilityDecision.patient_id == patient.id,
            EligibilityDecision.trial == trial,
            EligibilityDecision.rule_version == rule_set.version,
        )
    ).first()
    if decision is None or decision.status is not DecisionStatus.ELIGIBLE:
        raise Conflict(f"{pseudonym} cannot be enrolled: {_why_not(decision, rule_set.key)}")
    allocation_scheme = scheme(trial)
    levels = allocation_scheme.check_levels(factors) if allocation_scheme is not None else {}
    if allocation_scheme is None and factors:
        raise InvalidInput(f"factors: trial {trial} has no allocation scheme; send no factors")
    now = utcnow()
    enrolment = Enrolment(
        patient_id=patient.id,
        trial=trial,
        rule_version=rule_set.version,
        screening_id=record.id,
        consent_date=consent_date,
        consent_by=consent_by.strip(),
        decision={
            "status": decision.status.value,
            "criteria": decision.criteria,
            "evaluation_date": decision.evaluation_date.isoformat(),
            "study_id": decision.study_id,
            "grading_id": decision.grading_id,
            "grading_version": decision.grading_version,
            "decided_at": decision.decided_at.isoformat(),
            "screening_version": record.version,
        },
        enrolled_by=actor.id,
        enrolled_at=now,
    )
    session.add(enrolment)
    session.flush()
    assert decision.id is not None
    eligibility_repo.freeze_decision(session, decision.id, now)
    allocation = None
    if allocation_scheme is not None:
        allocation = _allocate(session, allocation_scheme, enrolment, levels)
    audit.record(
        session,
        actor,
        "enrolment.create",
        "enrolment",
        enrolment.id,
        patient=pseudonym,
        trial=trial,
        rule_version=rule_set.version,
        consent_date=consent_date.isoformat(),
        consent_by=enrolment.consent_by,
        allocation_sequence=None if allocation is None else allocation.sequence,
    )
    session.commit()
    return EnrolmentView(pseudonym, enrolment, allocation)


def _allocate(session: Session, allocation_scheme: Scheme, enrolment: Enrolment, levels: dict[str, str]) -> Allocation:
    stream = _stream(session, allocation_scheme.trial)
    tally = Tally(allocation_scheme)
    for row in allocations(session, allocation_scheme.trial):
        tally.add(row.levels, row.arm)
    if tally.allocated != stream.allocated:
        raise Conflict(f"allocation stream of {allocation_scheme.trial} is inconsistent; run the replay")
    drawn = allocate(tally, levels, stream.seed)
    row = Allocation(
        trial=allocation_scheme.trial,
        sequence=drawn.sequence,
        enrolment_id=enrolment.id,
        scheme_version=allocation_scheme.version,
        arm=drawn.arm,
        levels=drawn.levels,
        imbalance=drawn.imbalance,
        ranking=list(drawn.ranking),
        probabilities=drawn.probabilities,
        draw=drawn.draw,
        allocated_at=enrolment.enrolled_at,
    )
    session.add(row)
    table = AllocationStream.__table__  # type: ignore[attr-defined]
    session.connection().execute(
        update(table).where(table.c.trial == allocation_scheme.trial).values(allocated=drawn.sequence)
    )
    session.flush()
    return row


def enrolment_view(session: Session, pseudonym: str, trial: str) -> EnrolmentView:
    """A committed enrolment with its allocation; 404 before enrolment (nothing to conceal then)."""
    patient = _patient(session, pseudonym)
    enrolment = session.exec(
        select(Enrolment).where(Enrolment.patient_id == patient.id, Enrolment.trial == trial)
    ).first()
    if enrolment is None:
        raise NotFound(f"{pseudonym} is not enrolled in {trial}")
    allocation = session.exec(select(Allocation).where(Allocation.enrolment_id == enrolment.id)).first()
    return EnrolmentView(pseudonym, enrolment, allocation)


def _scheme_or_404(trial: str) -> Scheme:
    found = scheme(trial)
    if found is None:
        raise NotFound(f"trial {trial!r} has no allocation scheme; allowed: {', '.join(sorted(packaged_schemes()))}")
    return found


@dataclass(frozen=True)
class Totals:
    """The running totals of a trial's allocation (allocation manager only)."""

    trial: str
    allocated: int
    per_arm: dict[str, int]
    per_level: dict[str, dict[str, dict[str, int]]]
    """factor → level → arm → patients."""


def totals(session: Session, trial: str) -> Totals:
    allocation_scheme = _scheme_or_404(trial)
    tally = Tally(allocation_scheme)
    for row in allocations(session, trial):
        tally.add(row.levels, row.arm)
    per_level = {
        f.name: {level: tally.level_counts(f.name, level) for level in f.levels} for f in allocation_scheme.factors
    }
    return Totals(trial, tally.allocated, tally.totals(), per_level)


def check_replay(session: Session, trial: str) -> Replay:
    """Replay the trial's recorded allocations, with the draws re-drawn from the stream's seed."""
    allocation_scheme = _scheme_or_404(trial)
    stream = session.exec(select(AllocationStream).where(AllocationStream.trial == trial)).first()
    records = [_drawn(row) for row in allocations(session, trial)]
    result = replay(allocation_scheme, records, None if stream is None else stream.seed)
    if stream is not None and stream.allocated != len(records):
        return Replay(result.checked, (*result.mismatches, f"the stream has given {stream.allocated} allocations"))
    return result


def allocation_log(session: Session, trial: str) -> list[dict[str, Any]]:
    """One row per allocation for the trial statistician: pseudonym, sequence, arm, levels, imbalance, draw."""
    allocation_scheme = _scheme_or_404(trial)
    statement = (
        select(Allocation, Enrolment, Patient.pseudonym)
        .join(Enrolment, col(Enrolment.id) == col(Allocation.enrolment_id))
        .join(Patient, col(Patient.id) == col(Enrolment.patient_id))
        .where(col(Allocation.trial) == trial)
        .order_by(col(Allocation.sequence))
    )
    rows = []
    for allocation, enrolment, pseudonym in session.exec(statement):
        row: dict[str, Any] = {
            "sequence": allocation.sequence,
            "patient": pseudonym,
            "enrolled_at": enrolment.enrolled_at.isoformat(),
            "consent_date": enrolment.consent_date.isoformat(),
            "rule_version": enrolment.rule_version,
            "scheme_version": allocation.scheme_version,
            "arm": allocation.arm,
        }
        row.update({f"factor_{f.name}": allocation.levels.get(f.name) for f in allocation_scheme.factors})
        row.update({f"imbalance_{arm}": allocation.imbalance.get(arm) for arm in allocation_scheme.arm_names})
        row["preferred_arm"] = allocation.ranking[0]
        row["draw"] = allocation.draw
        rows.append(row)
    return rows


# CONSORT-shaped screening log --------------------------------------------------------------------


@dataclass(frozen=True)
class Consort:
    """The screening log of one rule set in the shape of a CONSORT flow."""

    trial: str
    version: str
    screened: int
    mri_modic: int
    """Screened patients whose MRI criterion is met (Modic changes as the trial requires)."""
    excluded: int
    excluded_reasons: dict[str, int]
    """Per criterion: the screened patients with that criterion not met (one patient may count under several)."""
    pending: int
    eligible: int
    consented: int
    allocated: dict[str, int]


def consort(session: Session, trial: str, version: str | None) -> Consort:
    """Counts from the stored decisions, enrolments and allocations (allocation manager: shows arms)."""
    rule_set = rule_set_of(trial, version)
    decisions = session.exec(
        select(EligibilityDecision).where(
            EligibilityDecision.trial == trial, EligibilityDecision.rule_version == rule_set.version
        )
    ).all()
    status = Counter(d.status for d in decisions)
    reasons = Counter[str]()
    for decision in decisions:
        if decision.status is DecisionStatus.INELIGIBLE:
            reasons.update(c["id"] for c in decision.criteria if c["met"] is False)
    enrolled = session.exec(
        select(Enrolment).where(Enrolment.trial == trial, Enrolment.rule_version == rule_set.version)
    ).all()
    enrolled_ids = {e.id for e in enrolled}
    arms = Counter(a.arm for a in allocations(session, trial) if a.enrolment_id in enrolled_ids)
    allocation_scheme = scheme(trial)
    arm_names = allocation_scheme.arm_names if allocation_scheme is not None else tuple(sorted(arms))
    return Consort(
        trial,
        rule_set.version,
        len(decisions),
        sum(1 for d in decisions if d.imaging is Outcome.MET),
        status[DecisionStatus.INELIGIBLE],
        {c.id: reasons[c.id] for c in rule_set.criteria if reasons[c.id]},
        status[DecisionStatus.PENDING],
        status[DecisionStatus.ELIGIBLE],
        len(enrolled),
        {arm: arms[arm] for arm in arm_names},
    )
