"""Eligibility decisions, re-decided in the transaction that changes their inputs
(docs/eligibility.md#when-decisions-change).

Re-evaluation has three steps: the repository loads the typed inputs (the grading that counts, see
:mod:`grading.eligibility.counting`, and the screening per trial), :func:`grading.eligibility.batch.decide_all`
decides every patient for every rule set, and the repository writes what changed.

Decisions are stored per (patient, trial, rule version). A decision that changes (a grading created
or amended, screening recorded, a date criterion passed by time) gets the next feed position, so a
reader following ``next_cursor`` sees every change exactly once. Positions come from a single
counter row updated just before commit (see :class:`registry.models.FeedCounter`). A decision frozen
at enrolment is never changed: a different outcome is recorded beside it as an amendment.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from grading.eligibility import Decision, RuleSet
from grading.eligibility.batch import decide_all
from registry.collector import collector_paused
from registry.errors import NotFound
from registry.models import GradingKind
from registry.models.base import utcnow
from registry.repositories import eligibility as eligibility_repo
from registry.repositories import studies as studies_repo
from registry.repositories.eligibility import CountingGrading, DecisionRow, DecisionWrites, StoredDecision
from registry.services import audit
from registry.services.eligibility import catalog, today

BULK_PATIENTS = 1000
"""From this many patients (or all of them) a re-evaluation runs with the garbage collector paused
(:mod:`registry.collector`); smaller ones, such as a grading's own, leave it alone."""


@dataclass(frozen=True)
class ReevaluationReport:
    """What a re-evaluation did."""

    patients: int = 0
    evaluated: int = 0
    created: int = 0
    changed: int = 0
    by_rule_set: dict[str, int] = field(default_factory=dict)
    """Decisions created, changed or amended per ``trial@version``."""
    amended: int = 0
    """Frozen (enrolled) decisions whose re-evaluation now differs (or agrees again): flagged, not applied."""


def reevaluate(
    session: Session,
    patient_ids: Sequence[str] | None,
    on: dt.date,
    rule_sets: Sequence[RuleSet] | None = None,
) -> ReevaluationReport:
    """Evaluate the rule sets (default: all shipped) for the patients (``None``: every patient with
    inputs) on day ``on``, storing new and changed decisions. Runs in the caller's transaction.

    The caller has written its change of inputs and holds the patients' locks (:func:`lock_patients`),
    so the inputs read here are the latest.
    """
    bulk = patient_ids is None or len(patient_ids) >= BULK_PATIENTS
    with collector_paused() if bulk else contextlib.nullcontext():
        return _reevaluate(session, patient_ids, on, rule_sets)


def _reevaluate(
    session: Session, patient_ids: Sequence[str] | None, on: dt.date, rule_sets: Sequence[RuleSet] | None
) -> ReevaluationReport:
    rule_sets = list(rule_sets) if rule_sets is not None else list(catalog().rule_sets)
    inputs = eligibility_repo.eligibility_inputs(session, sorted({r.trial for r in rule_sets}), patient_ids)
    decided = decide_all(rule_sets, inputs.patients, on)
    stored = eligibility_repo.stored_decisions(session, [(r.trial, r.version) for r in rule_sets], patient_ids)
    writes = DecisionWrites()
    by_rule_set: dict[str, int] = {}
    rows = _Rows(inputs.counting, utcnow())
    for rule_set, decisions in decided.items():
        before = writes.feed_changes
        of_rule_set = stored[(rule_set.trial, rule_set.version)]
        for patient_id, decision in decisions:
            _compare(writes, rows.of(patient_id, decision), of_rule_set.get(patient_id))
        by_rule_set[rule_set.key] = writes.feed_changes - before
    eligibility_repo.write_decisions(session, writes)
    evaluated = sum(len(decisions) for decisions in decided.values())
    return ReevaluationReport(
        len(inputs.patients), evaluated, len(writes.new), len(writes.changed), by_rule_set, len(writes.amended)
    )


class _Rows:
    """Decisions as stored rows; a decision shared by many patients (identical inputs) is converted once."""

    def __init__(self, counting: Mapping[str, CountingGrading], now: dt.datetime):
        self._counting = counting
        self._now = now
        self._criteria: dict[int, tuple[Decision, list[dict[str, Any]]]] = {}

    def of(self, patient_id: str, decision: Decision) -> DecisionRow:
        known = self._criteria.get(id(decision))
        if known is None:
            known = self._criteria[id(decision)] = (decision, [r.to_mapping() for r in decision.results])
        chosen = self._counting.get(patient_id)
        return DecisionRow(
            patient_id=patient_id,
            trial=decision.trial,
            rule_version=decision.version,
            study_id=None if chosen is None else chosen.study_id,
            grading_id=None if chosen is None else chosen.grading_id,
            grading_version=None if chosen is None else chosen.grading_version,
            status=decision.status,
            imaging=decision.imaging,
            criteria=known[1],
            evaluation_date=decision.evaluation_date,
            next_change=decision.next_change,
            decided_at=self._now,
        )


def _compare(writes: DecisionWrites, row: DecisionRow, old: StoredDecision | None) -> None:
    """Add what ``row`` changes of the stored decision ``old`` to ``writes``."""
    if old is None:
        writes.new.append(row)
    elif old.frozen:
        # Enrolled: the decision stands; a different outcome is shown beside it, never applied.
        differs = old.fingerprint != row.fingerprint
        if differs and old.amendment != row.fingerprint:
            writes.amended.append((old.id, row.amendment()))
        elif not differs and old.amendment is not None:
            writes.amended.append((old.id, None))
    elif old.fingerprint != row.fingerprint:
        writes.changed.append((old.id, row))
    elif old.next_change != row.next_change:
        writes.touched.append((old.id, row.next_change, row.evaluation_date))


def lock_patients(session: Session, patient_ids: Sequence[str]) -> None:
    """Take the patients' eligibility locks (after writing the changed input, before reading inputs)."""
    session.flush()
    eligibility_repo.lock_patients(session, patient_ids)


def on_grading_changed(session: Session, study_id: str, kind: GradingKind) -> None:
    """Re-decide the patient of a study whose grading was created or amended, in the same transaction.

    Reliability-study reads never count, so they change nothing.
    """
    if kind is not GradingKind.clinical:
        return
    patient_id = studies_repo.patients_of_studies(session, {study_id}).get(study_id)
    if patient_id is None:
        raise NotFound(f"study {study_id!r} does not exist")
    on_patients_graded(session, [patient_id])


def on_patients_graded(session: Session, patient_ids: Sequence[str]) -> None:
    """Re-decide patients whose clinical gradings were just created or amended, in the same
    transaction (one evaluation pass for all of them)."""
    if patient_ids:
        unique = sorted(set(patient_ids))
        lock_patients(session, unique)
        reevaluate(session, unique, today())


def reevaluate_and_commit(
    session: Session, on: dt.date, *, due_only: bool, rule_sets: Sequence[RuleSet] | None = None
) -> ReevaluationReport:
    """The daily (``due_only``: decisions whose date criteria may have changed) or full re-evaluation."""
    patient_ids: list[str] | None = eligibility_repo.due_patients(session, on) if due_only else None
    if patient_ids is not None and not patient_ids:
        return ReevaluationReport()
    lock_patients(session, eligibility_repo.patients_with_inputs(session) if patient_ids is None else patient_ids)
    report = reevaluate(session, patient_ids, on, rule_sets)
    audit.record(
        session,
        None,
        "eligibility.reevaluate",
        "eligibility",
        on.isoformat(),
        due_only=due_only,
        created=report.created,
        changed=report.changed,
    )
    session.commit()
    return report
