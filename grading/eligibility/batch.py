"""Deciding many patients at once: every rule set for every patient with inputs.

See docs/eligibility.md#when-decisions-change. A patient gets a decision for a rule set when a
grading counts for them or screening answers were recorded for the rule set's trial. Evaluation is a
pure function of its inputs, so identical inputs (e.g. the many gradings without any change, which
the caller shares as one :class:`StudyGrading` object) are evaluated once per rule set.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from grading.eligibility.episode import Episode
from grading.eligibility.evaluation import Decision, evaluate
from grading.eligibility.rules import RuleSet
from grading.nordic import StudyGrading


@dataclass(frozen=True)
class Screening:
    """A patient's recorded screening for one trial: the answers and the episode, if dated."""

    answers: Mapping[str, Any]
    episode: Episode | None = None


@dataclass(frozen=True)
class PatientInputs:
    """What a patient's decisions rest on: the grading that counts (``None``: none) with its
    study's date, and the screening recorded per trial."""

    grading: StudyGrading | None = None
    study_date: dt.date | None = None
    screenings: Mapping[str, Screening] = field(default_factory=dict)


def decide_all(
    rule_sets: Sequence[RuleSet], patients: Mapping[str, PatientInputs], on: dt.date
) -> dict[RuleSet, list[tuple[str, Decision]]]:
    """Per rule set, the decision of every patient it applies to (sorted by patient), made on day
    ``on`` or, for a dated screening episode, at its index date."""
    decided: dict[RuleSet, list[tuple[str, Decision]]] = {}
    for rule_set in rule_sets:
        memo: dict[tuple[Any, ...], Decision] = {}
        out = decided[rule_set] = []
        for patient in sorted(patients):
            inputs = patients[patient]
            screening = inputs.screenings.get(rule_set.trial)
            if inputs.grading is None and screening is None:
                continue
            own = rule_set.own_answers({} if screening is None else screening.answers)
            episode = None if screening is None else screening.episode
            key = (
                id(inputs.grading),
                inputs.study_date if rule_set.reads_dates else None,
                tuple(sorted(own.items())),
                episode,
            )
            decision = memo.get(key)
            if decision is None:
                day = on if episode is None else episode.index_date
                decision = memo[key] = evaluate(rule_set, inputs.grading, inputs.study_date, own, day, episode)
            out.append((patient, decision))
    return decided
