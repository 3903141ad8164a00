"""The screening funnel of a rule set, counted from the stored decisions (docs/eligibility.md#other-endpoints)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlmodel import Session

from grading.eligibility import DecisionStatus, Outcome, RuleSet
from registry.repositories import eligibility as eligibility_repo


@dataclass(frozen=True)
class Funnel:
    """The screening funnel of one rule set, counting the steps of the rest-vs-exercise trial's flow (Jensen 2012,
    Figure 2: 557 had MRI, 244 had an MC beyond the endplate, 100 included, 144 did not meet the
    criteria)."""

    trial: str
    version: str
    mri_graded: int
    mri_criterion_met: int
    mri_criterion_not_met: int
    mri_criterion_unknown: int
    pending: int
    eligible: int
    ineligible: int
    ineligible_reasons: dict[str, int]
    """Among ineligible patients whose MRI criterion is met: how often each criterion was not met."""
    screened_without_mri: int


def funnel(session: Session, rule_set: RuleSet) -> Funnel:
    """Count the funnel steps from the stored decisions."""
    counts = eligibility_repo.funnel_counts(session, rule_set.trial, rule_set.version)
    graded = Counter[Outcome]()
    after_mri = Counter[DecisionStatus]()
    without_mri = 0
    for has_grading, imaging, status, n in counts:
        if not has_grading:
            without_mri += n
            continue
        graded[imaging] += n
        if imaging is Outcome.MET:
            after_mri[status] += n
    reasons = Counter[str]()
    for criteria in eligibility_repo.ineligible_criteria(session, rule_set.trial, rule_set.version):
        reasons.update(c["id"] for c in criteria if c["met"] is False)
    ordered = {c.id: reasons[c.id] for c in rule_set.criteria if reasons[c.id]}
    return Funnel(
        rule_set.trial,
        rule_set.version,
        sum(graded.values()),
        graded[Outcome.MET],
        graded[Outcome.NOT_MET],
        graded[Outcome.UNKNOWN],
        after_mri[DecisionStatus.PENDING],
        after_mri[DecisionStatus.ELIGIBLE],
        after_mri[DecisionStatus.INELIGIBLE],
        ordered,
        without_mri,
    )
