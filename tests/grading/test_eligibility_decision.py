"""Overall status, screening-answer validation and the stored form of a decision.

See docs/eligibility.md#rule-sets-are-data."""

from __future__ import annotations

import datetime as dt

import pytest

from grading.eligibility import (
    CriterionKind,
    Decision,
    DecisionStatus,
    Outcome,
    combine,
    default_catalog,
    evaluate,
    validate_answers,
)
from grading.errors import GradingError
from tests.grading.eligibility_helpers import EVALUATED, PAPER_ELIGIBLE, STUDY_DATE, decide, grading_with, rule_set

BEYOND = grading_with(("L4_inf", "I", "C"))


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ([Outcome.MET, Outcome.MET], Outcome.MET),  # all met
        ([Outcome.MET, Outcome.UNKNOWN], Outcome.UNKNOWN),  # something missing
        ([Outcome.UNKNOWN, Outcome.NOT_MET], Outcome.NOT_MET),  # any not met wins over unknown
        ([], Outcome.MET),  # nothing to check
    ],
)
def test_combine(outcomes: list[Outcome], expected: Outcome) -> None:
    assert combine(outcomes) is expected


def test_all_met_is_eligible() -> None:
    decision = decide("NCT00454792@2012", PAPER_ELIGIBLE, BEYOND)
    assert decision.status is DecisionStatus.ELIGIBLE
    assert decision.reasons == ()
    assert decision.unknown == ()
    assert (decision.trial, decision.version) == ("NCT00454792", "2012")


def test_mri_met_and_no_screening_is_pending() -> None:
    # Pending: the MRI criterion is met and clinical screening has not been recorded yet
    # (docs/eligibility.md#rule-sets-are-data).
    decision = decide("NCT00454792@2012", {}, BEYOND)
    assert decision.status is DecisionStatus.PENDING
    assert decision.imaging is Outcome.MET
    assert [r.id for r in decision.unknown] == [c.id for c in rule_set("NCT00454792@2012").criteria[1:]]


def test_one_not_met_is_ineligible_even_with_unknowns() -> None:
    # Jensen 2012 Figure 1: size A does not meet the criterion, whatever screening says.
    decision = decide("NCT00454792@2012", {}, grading_with(("L4_inf", "I", "A")))
    assert decision.status is DecisionStatus.INELIGIBLE
    assert [r.id for r in decision.reasons] == ["mri_mc_beyond_endplate"]
    assert decision.imaging is Outcome.NOT_MET


def test_exclusion_makes_an_otherwise_eligible_patient_ineligible() -> None:
    # Jensen 2012 exclusion (2): competing LBP etiology.
    decision = decide("NCT00454792@2012", {**PAPER_ELIGIBLE, "competing_lbp_cause": True}, BEYOND)
    assert decision.status is DecisionStatus.INELIGIBLE
    assert [(r.id, r.kind) for r in decision.reasons] == [("excl_competing_lbp_cause", CriterionKind.EXCLUSION)]


def test_same_answers_differ_between_versions() -> None:
    # Jensen 2012 "(3) duration ... from 2 to 12 months" vs NCT00454792 record "current duration of 3 - 12 month".
    answers = {
        "nrs_back": 5,
        "nrs_actual_pain": 5,
        "symptom_duration_months": 2,
        "age_years": 30,
        "danish": True,
        "danish_speak_understand": True,
        "willing": True,
    }
    paper = decide("NCT00454792@2012", rule_set("NCT00454792@2012").own_answers(answers), BEYOND)
    registry = decide("NCT00454792@2007-registry", rule_set("NCT00454792@2007-registry").own_answers(answers), BEYOND)
    assert paper.status is DecisionStatus.PENDING
    assert registry.status is DecisionStatus.INELIGIBLE
    assert [r.id for r in registry.reasons] == ["symptom_duration"]


def test_decision_round_trips_through_its_stored_form() -> None:
    decision = evaluate(rule_set("NCT03100266@2018-registry"), BEYOND, STUDY_DATE, {"rmdq": 9}, EVALUATED)
    stored = decision.to_mapping()
    assert Decision.from_mapping(stored) == decision
    assert stored["criteria"][0] == {
        "id": "mri_type_1",
        "kind": "imaging",
        "met": True,
        "evidence": "L4_inf: type I, size C",
    }
    assert stored["next_change"] == "2018-06-02"


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        # not a field of the paper's version; the message lists the allowed names
        ({"rmdq": 9}, r"screening field 'rmdq' is unknown; allowed: age_years, competing_lbp_cause, danish"),
        # age is an integer number of years
        ({"age_years": 30.5}, r"screening field age_years: 30\.5 is not allowed; allowed: an integer from 0 to 120"),
        # the NRS is 0-10 (Jensen 2012 "11-point Numerical Rating Scale")
        ({"nrs_back": 11}, r"screening field nrs_back: 11 is not allowed; allowed: an integer from 0 to 10"),
        # yes/no items take JSON booleans only
        ({"danish": "yes"}, r"screening field danish: 'yes' is not allowed; allowed: true or false"),
        ({"willing": 1}, r"screening field willing: 1 is not allowed; allowed: true or false"),
        # booleans are not numbers
        ({"age_years": True}, r"screening field age_years: True is not allowed"),
        ({"symptom_duration_months": float("nan")}, r"screening field symptom_duration_months: nan is not allowed"),
    ],
)
def test_bad_answers_name_the_field_and_the_allowed_values(answers: dict[str, object], message: str) -> None:
    with pytest.raises(GradingError, match=message) as info:
        decide("NCT00454792@2012", answers, BEYOND)
    assert info.value.field == next(iter(answers))


def test_validate_answers_drops_unknowns_and_accepts_whole_floats_for_integers() -> None:
    fields = default_catalog().screening_fields("NCT00454792")
    assert validate_answers(fields, {"age_years": 40.0, "pregnant": None, "nrs_leg": 0}) == {
        "age_years": 40,
        "nrs_leg": 0,
    }


def test_trial_vocabulary_is_the_union_of_its_versions() -> None:
    # The NCT00454792 record's "pregnant" and Jensen 2012's "surgery_without_relief" are both screened for NCT00454792.
    fields = default_catalog().screening_fields("NCT00454792")
    assert {"pregnant", "referred_for_operation", "surgery_without_relief", "nrs_leg"} <= set(fields)
    registry = rule_set("NCT00454792@2007-registry")
    assert registry.own_answers({"pregnant": False, "nrs_leg": 3}) == {"pregnant": False}


@pytest.mark.parametrize(
    ("study_date", "evaluated", "message"),
    [
        ("2018-01-01", EVALUATED, r"study_date must be a date, got '2018-01-01'"),
        (STUDY_DATE, dt.datetime(2018, 4, 15, 12), r"evaluation_date must be a date"),
    ],
)
def test_dates_are_checked(study_date: object, evaluated: object, message: str) -> None:
    with pytest.raises(GradingError, match=message):
        evaluate(rule_set("NCT00454792@2012"), BEYOND, study_date, {}, evaluated)  # type: ignore[arg-type]


def test_catalog_versions_and_defaults() -> None:
    catalog = default_catalog()
    assert catalog.trials == ("NCT00454792", "NCT03100266")
    assert catalog.get("NCT00454792").version == "2012"  # the paper's version is the default (docs/eligibility.md)
    assert [r.version for r in catalog.versions("NCT00454792")] == ["2012", "2007-registry"]
    assert catalog.get("NCT03100266").version == "2018-registry"
    with pytest.raises(
        GradingError, match=r"version '2010' of trial NCT00454792 is unknown; allowed: 2012, 2007-registry"
    ):
        catalog.get("NCT00454792", "2010")
    with pytest.raises(GradingError, match=r"trial 'NCT0' is unknown; allowed: NCT00454792, NCT03100266"):
        catalog.get("NCT0")
