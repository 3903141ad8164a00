"""Evaluating a rule set: per-criterion outcomes with evidence and the overall status.

See docs/eligibility.md#rule-sets-are-data.

A patient is ``ineligible`` if any criterion is not met, ``eligible`` if all are met, otherwise
``pending``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grading.eligibility.episode import COMPUTATIONS, Episode
from grading.eligibility.fields import validate_answers
from grading.eligibility.operators import Facts
from grading.eligibility.rules import RuleSet
from grading.eligibility.vocabulary import CriterionKind, DecisionStatus, Outcome, combine
from grading.errors import GradingError
from grading.nordic import StudyGrading


@dataclass(frozen=True)
class CriterionResult:
    """The outcome of one criterion with the evidence it rests on."""

    id: str
    kind: CriterionKind
    outcome: Outcome
    evidence: str

    @property
    def met(self) -> bool | None:
        """``True``/``False``, or ``None`` when unknown."""
        return self.outcome.met

    def to_mapping(self) -> dict[str, Any]:
        """The feed's criterion shape ``{"id", "kind", "met", "evidence"}``."""
        return {"id": self.id, "kind": self.kind.value, "met": self.met, "evidence": self.evidence}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> CriterionResult:
        """Inverse of :meth:`to_mapping`."""
        met = data["met"]
        if met is not None and not isinstance(met, bool):
            raise GradingError(f"criterion {data.get('id')!r}: met {met!r} is not allowed; allowed: true, false, null")
        return cls(str(data["id"]), CriterionKind(data["kind"]), Outcome.from_met(met), str(data["evidence"]))


@dataclass(frozen=True)
class Decision:
    """The eligibility of one patient for one rule set, with per-criterion evidence."""

    trial: str
    version: str
    status: DecisionStatus
    results: tuple[CriterionResult, ...]
    evaluation_date: dt.date
    next_change: dt.date | None
    """The first later day on which time alone may change the decision (``None``: never)."""

    @property
    def imaging(self) -> Outcome:
        """The combined outcome of the imaging criteria alone (the funnel's "MRI criterion met")."""
        return combine(r.outcome for r in self.results if r.kind is CriterionKind.IMAGING)

    @property
    def reasons(self) -> tuple[CriterionResult, ...]:
        """The criteria not met: why a patient is ineligible."""
        return tuple(r for r in self.results if r.outcome is Outcome.NOT_MET)

    @property
    def unknown(self) -> tuple[CriterionResult, ...]:
        """The criteria still unknown: what screening staff must find out."""
        return tuple(r for r in self.results if r.outcome is Outcome.UNKNOWN)

    def to_mapping(self) -> dict[str, Any]:
        """A JSON form for storage."""
        return {
            "trial": self.trial,
            "version": self.version,
            "status": self.status.value,
            "criteria": [r.to_mapping() for r in self.results],
            "evaluation_date": self.evaluation_date.isoformat(),
            "next_change": None if self.next_change is None else self.next_change.isoformat(),
        }

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Decision:
        """Inverse of :meth:`to_mapping`."""
        next_change = data.get("next_change")
        return cls(
            str(data["trial"]),
            str(data["version"]),
            DecisionStatus(data["status"]),
            tuple(CriterionResult.from_mapping(r) for r in data["criteria"]),
            dt.date.fromisoformat(data["evaluation_date"]),
            None if next_change is None else dt.date.fromisoformat(next_change),
        )


def episode_answers(rule_set: RuleSet, episode: Episode, answers: Mapping[str, object]) -> dict[str, object]:
    """``answers`` with the fields the episode's dates give replaced by their values at the index date.

    A computed value out of the field's range is an error naming the source date.
    """
    merged = dict(answers)
    for name, spec in rule_set.fields.items():
        if spec.computed is None:
            continue
        value = episode.value(spec.computed)
        if value is None:
            continue
        source = COMPUTATIONS[spec.computed][0]
        try:
            merged[name] = spec.validate(value)
        except GradingError as exc:
            raise GradingError(f"{source}: gives {exc.message}", field=source) from None
    return merged


def next_change(rule_set: RuleSet, study_date: dt.date | None, evaluation_date: dt.date) -> dt.date | None:
    """The first day after ``evaluation_date`` on which a time-dependent criterion may change.

    The registry re-evaluates stored decisions on or after that day (e.g. NCT03100266's MRI that is
    no longer "within the last 3 months").
    """
    days = [d for c in rule_set.criteria if (d := c.test.next_change(study_date, evaluation_date)) is not None]
    return min(days) if days else None


def evaluate(
    rule_set: RuleSet,
    grading: StudyGrading | None,
    study_date: dt.date | None,
    answers: Mapping[str, object],
    evaluation_date: dt.date,
    episode: Episode | None = None,
) -> Decision:
    """Judge every criterion of ``rule_set``.

    ``grading`` is the grading that counts (``None`` if none), ``study_date`` the date of its MRI,
    ``answers`` the screening answers keyed by the rule set's field names (missing = unknown), and
    ``evaluation_date`` the day the decision is made. With a screening ``episode`` the decision is
    made at its index date (``evaluation_date`` must be it), with age and duration computed from its
    dates; time then never changes the decision (no next change).
    """
    if episode is not None:
        if episode.index_date != evaluation_date:
            raise GradingError(
                f"an episode is evaluated at its index date {episode.index_date.isoformat()}, "
                f"not {evaluation_date.isoformat()}",
                field="evaluation_date",
            )
        answers = episode_answers(rule_set, episode, answers)
    if grading is not None and not isinstance(grading, StudyGrading):
        raise GradingError(f"grading must be a StudyGrading or None, got {grading!r}")
    for name, value in (("study_date", study_date), ("evaluation_date", evaluation_date)):
        if value is not None and (not isinstance(value, dt.date) or isinstance(value, dt.datetime)):
            raise GradingError(f"{name} must be a date, got {value!r}", field=name)
    if evaluation_date is None:
        raise GradingError("evaluation_date is required", field="evaluation_date")
    facts = Facts(grading, study_date, validate_answers(rule_set.fields, answers), evaluation_date)
    results = []
    for criterion in rule_set.criteria:
        outcome, evidence = criterion.test.evaluate(facts)
        results.append(CriterionResult(criterion.id, criterion.kind, outcome, evidence))
    status = DecisionStatus.from_outcome(combine(r.outcome for r in results))
    return Decision(
        rule_set.trial,
        rule_set.version,
        status,
        tuple(results),
        evaluation_date,
        None if episode is not None else next_change(rule_set, study_date, evaluation_date),
    )


def evaluate_imaging(
    rule_set: RuleSet, grading: StudyGrading | None, study_date: dt.date | None, evaluation_date: dt.date
) -> Outcome:
    """Whether the imaging criteria alone are met, without screening data (the funnel's second step)."""
    decision = evaluate(rule_set, grading, study_date, {}, evaluation_date)
    return combine(r.outcome for r in decision.results if r.kind is CriterionKind.IMAGING)
