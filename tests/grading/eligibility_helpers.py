"""Shared builders for the eligibility tests."""

from __future__ import annotations

import datetime as dt

from grading.eligibility import Decision, RuleSet, default_catalog, evaluate
from grading.nordic import StudyGrading, all_none

EVALUATED = dt.date(2018, 4, 15)
"""A fixed evaluation day."""
STUDY_DATE = dt.date(2018, 3, 1)
"""An MRI six weeks before :data:`EVALUATED`, recent for every rule set."""
PAPER_ELIGIBLE: dict[str, object] = {
    "nrs_back": 6,
    "nrs_leg": 2,
    "symptom_duration_months": 6,
    "age_years": 45,
    "danish": True,
    "willing": True,
    "other_disorder": False,
    "competing_lbp_cause": False,
    "surgery_without_relief": False,
}
"""Screening answers meeting every criterion of the paper's version (Jensen 2012, inclusion (1)-(7), no
exclusion)."""


def rule_set(key: str) -> RuleSet:
    """The shipped rule set ``trial@version``."""
    trial, version = key.split("@")
    return default_catalog().get(trial, version)


def grading_with(*changes: tuple[str, str, str | None]) -> StudyGrading:
    """All endplates ``none`` except the given ``(endplate, type, size)`` triples."""
    data = all_none().to_mapping()
    for endplate, modic_type, size in changes:
        data[endplate] = {"type": modic_type, "size": size}
    return StudyGrading.from_mapping(data)


def decide(key: str, answers: dict[str, object], grading: StudyGrading | None = None) -> Decision:
    """Evaluate the rule set ``key`` for a recent MRI with ``grading`` and the screening ``answers``."""
    return evaluate(rule_set(key), grading, STUDY_DATE, answers, EVALUATED)


def met(decision: Decision, criterion_id: str) -> bool | None:
    """The ``met`` value of one criterion of ``decision``."""
    return next(r.met for r in decision.results if r.id == criterion_id)
