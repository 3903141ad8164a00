"""Eligibility with not-assessable endplates: an endplate that could not be read is unknown, so the
MRI criterion is unknown (the decision pending) unless another endplate already meets it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grading.eligibility import DecisionStatus, RuleSet, default_catalog, evaluate
from grading.eligibility.vocabulary import CriterionKind, FieldKind
from grading.endplates import ENDPLATES
from grading.nordic import TYPE_LABELS, StudyGrading
from tests.grading.eligibility_helpers import EVALUATED, STUDY_DATE, met, rule_set

CHANGE_TYPES = [t for t in TYPE_LABELS if t != "none"]
REASONS = ["artefact", "outside_fov", "transitional"]

endplate_entries = st.one_of(
    st.just({"type": "none"}),
    st.builds(lambda t, s: {"type": t, "size": s}, st.sampled_from(CHANGE_TYPES), st.sampled_from("ABCD")),
    st.builds(lambda r: {"not_assessable": r}, st.sampled_from(REASONS)),
    st.just({"not_assessable": "other", "note": "lumbosacral anomaly"}),
)
study_entries = st.fixed_dictionaries({e.value: endplate_entries for e in ENDPLATES})


def qualifies(key: str, entry: dict[str, str]) -> bool:
    """One endplate meets the trial's MRI criterion (docs/eligibility.md), over the raw labels."""
    kind = entry.get("type", "none")
    if kind == "none":
        return False
    if key == "NCT00454792@2012":  # the 2012 paper: beyond the endplate, size B, C or D
        return entry["size"] in ("B", "C", "D")
    if key == "NCT00454792@2007-registry":  # any Modic change
        return True
    return "I" in kind.split("/")  # NCT03100266: a type I component


def brute_force_mri(key: str, data: dict[str, dict[str, str]]) -> bool | None:
    """True if some endplate qualifies; else unknown (None) if some endplate is not assessable; else False."""
    if any(qualifies(key, entry) for entry in data.values()):
        return True
    if any("not_assessable" in entry for entry in data.values()):
        return None
    return False


def brute_force_status(outcomes: list[bool | None]) -> DecisionStatus:
    """docs/eligibility.md: ineligible if any criterion is not met, eligible if all are met, else pending."""
    if False in outcomes:
        return DecisionStatus.INELIGIBLE
    if all(o is True for o in outcomes):
        return DecisionStatus.ELIGIBLE
    return DecisionStatus.PENDING


def answers_for(rules: RuleSet) -> st.SearchStrategy[dict[str, Any]]:
    """Random screening answers of a rule set's fields, each possibly unanswered."""
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for name, spec in rules.fields.items():
        if spec.kind is FieldKind.BOOLEAN:
            value: st.SearchStrategy[Any] = st.booleans()
        else:
            low = int(spec.minimum) if spec.minimum is not None else 0
            high = int(spec.maximum) if spec.maximum is not None else 200
            value = st.integers(low, high)
        fields[name] = st.one_of(st.none(), value)
    return st.fixed_dictionaries(fields)


KEYS = [r.key for r in default_catalog().rule_sets]


@pytest.mark.parametrize("key", KEYS)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_decision_equals_brute_force_with_not_assessable_as_unknown(key: str, data: st.DataObject) -> None:
    rules = rule_set(key)
    entries = data.draw(study_entries)
    answers = data.draw(answers_for(rules))
    decision = evaluate(rules, StudyGrading.from_mapping(entries), STUDY_DATE, answers, EVALUATED)
    imaging = [r for r in decision.results if r.kind is CriterionKind.IMAGING and r.id != "mri_recent"]
    expected_mri = brute_force_mri(key, entries)
    assert [r.met for r in imaging] == [expected_mri]
    # The other criteria do not read the grading; the decision combines them with the MRI criterion.
    others = [r.met for r in decision.results if r not in imaging]
    assert decision.status is brute_force_status([expected_mri, *others])


def test_one_unreadable_endplate_keeps_an_otherwise_negative_mri_pending() -> None:
    entries = {e.value: {"type": "none"} for e in ENDPLATES}
    entries["S1_sup"] = {"not_assessable": "transitional"}
    decision = evaluate(rule_set("NCT00454792@2012"), StudyGrading.from_mapping(entries), STUDY_DATE, {}, EVALUATED)
    assert met(decision, "mri_mc_beyond_endplate") is None
    assert decision.results[0].evidence == "S1_sup: not assessable (transitional)"
    # Before, the same endplate could only be graded none, and the criterion was "not met".
    entries["S1_sup"] = {"type": "none"}
    decision = evaluate(rule_set("NCT00454792@2012"), StudyGrading.from_mapping(entries), STUDY_DATE, {}, EVALUATED)
    assert met(decision, "mri_mc_beyond_endplate") is False


def test_another_endplate_that_meets_the_criterion_decides() -> None:
    entries = {e.value: {"type": "none"} for e in ENDPLATES}
    entries["S1_sup"] = {"not_assessable": "artefact"}
    entries["L4_inf"] = {"type": "I", "size": "C"}
    decision = evaluate(rule_set("NCT00454792@2012"), StudyGrading.from_mapping(entries), STUDY_DATE, {}, EVALUATED)
    assert met(decision, "mri_mc_beyond_endplate") is True
    assert decision.results[0].evidence == "L4_inf: type I, size C"
