"""The MRI criteria of every shipped rule set: each type x size, recency boundaries, a property test."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grading.eligibility import Outcome, evaluate, evaluate_imaging, next_change
from grading.endplates import ENDPLATES
from grading.nordic import TYPE_LABELS, StudyGrading, all_none
from tests.grading.eligibility_helpers import EVALUATED, STUDY_DATE, grading_with, met, rule_set

CHANGE_TYPES = [t for t in TYPE_LABELS if t != "none"]
SIZES = ["A", "B", "C", "D"]

# Jensen 2012, inclusion (7): "a minimum of one MC (Type I, II or III) that extended beyond the endplate into
# the vertebral body"; Figure 1: "Only patients with B, C or D met this inclusion criterion".
PAPER_BY_SIZE = {"A": False, "B": True, "C": True, "D": True}
# NCT00454792 record: "There must be an MRI showing MC in the lumbar spine." (any type, any size)
REGISTRY_2007_BY_SIZE = {"A": True, "B": True, "C": True, "D": True}
# NCT03100266 record: "MRI verified type 1 Modic changes ..., either exclusively, mixed or in combination with type 2
# or type 3 changes" (any size): met exactly for the types with a type I component.
PROBIOTICS_BY_TYPE = {
    "I": True,
    "II": False,
    "III": False,
    "I/II": True,
    "I/III": True,
    "II/III": False,
    "I/II/III": True,
}


@pytest.mark.parametrize(("modic_type", "size"), list(itertools.product(CHANGE_TYPES, SIZES)))
def test_paper_mri_criterion_for_every_type_and_size(modic_type: str, size: str) -> None:
    # Jensen 2012 (7) and Figure 1: beyond the endplate = size B, C or D, whatever the type.
    decision = evaluate(
        rule_set("NCT00454792@2012"), grading_with(("L4_inf", modic_type, size)), STUDY_DATE, {}, EVALUATED
    )
    assert met(decision, "mri_mc_beyond_endplate") is PAPER_BY_SIZE[size]
    result = decision.results[0]
    if PAPER_BY_SIZE[size]:
        assert result.evidence == f"L4_inf: type {modic_type}, size {size}"
    else:
        assert f"L4_inf: type {modic_type}, size A" in result.evidence


@pytest.mark.parametrize(("modic_type", "size"), list(itertools.product(CHANGE_TYPES, SIZES)))
def test_registry_2007_mri_criterion_for_every_type_and_size(modic_type: str, size: str) -> None:
    # NCT00454792 record: "There must be an MRI showing MC in the lumbar spine." — no size limit.
    decision = evaluate(
        rule_set("NCT00454792@2007-registry"), grading_with(("S1_sup", modic_type, size)), STUDY_DATE, {}, EVALUATED
    )
    assert met(decision, "mri_any_mc") is REGISTRY_2007_BY_SIZE[size]


@pytest.mark.parametrize(("modic_type", "size"), list(itertools.product(CHANGE_TYPES, SIZES)))
def test_probiotics_mri_criterion_for_every_type_and_size(modic_type: str, size: str) -> None:
    # NCT03100266 record: "type 1 Modic changes ..., either exclusively, mixed or in combination with type 2 or type 3".
    decision = evaluate(
        rule_set("NCT03100266@2018-registry"), grading_with(("L5_inf", modic_type, size)), STUDY_DATE, {}, EVALUATED
    )
    assert met(decision, "mri_type_1") is PROBIOTICS_BY_TYPE[modic_type]


@pytest.mark.parametrize(
    ("key", "criterion"),
    [
        ("NCT00454792@2012", "mri_mc_beyond_endplate"),  # Jensen 2012 (7)
        ("NCT00454792@2007-registry", "mri_any_mc"),  # NCT00454792 record "MRI showing MC"
        ("NCT03100266@2018-registry", "mri_type_1"),  # NCT03100266 record "type 1 Modic changes"
    ],
)
def test_no_change_is_not_met_and_no_grading_is_unknown(key: str, criterion: str) -> None:
    no_change = evaluate(rule_set(key), all_none(), STUDY_DATE, {}, EVALUATED)
    assert met(no_change, criterion) is False
    assert next(r.evidence for r in no_change.results if r.id == criterion) == "no Modic change at any endplate"
    ungraded = evaluate(rule_set(key), None, STUDY_DATE, {}, EVALUATED)
    assert met(ungraded, criterion) is None


def test_type_ii_in_one_endplate_and_type_i_in_another_meets_probiotics_criterion() -> None:
    # NCT03100266 record: type 1 "in combination with type 2 or type 3 changes" — at different endplates too.
    grading = grading_with(("L4_inf", "II", "D"), ("L5_sup", "I", "A"))
    decision = evaluate(rule_set("NCT03100266@2018-registry"), grading, STUDY_DATE, {}, EVALUATED)
    assert met(decision, "mri_type_1") is True
    assert decision.results[0].evidence == "L5_sup: type I, size A"


def test_evidence_lists_every_qualifying_endplate() -> None:
    # Jensen 2012 (7): "a minimum of one MC" — the evidence names each qualifying endplate, cranial to caudal.
    grading = grading_with(("S1_sup", "II", "C"), ("L4_inf", "I", "B"), ("L3_sup", "III", "A"))
    decision = evaluate(rule_set("NCT00454792@2012"), grading, STUDY_DATE, {}, EVALUATED)
    assert decision.results[0].evidence == "L4_inf: type I, size B; S1_sup: type II, size C"


# NCT03100266 record: "MRI verified type 1 Modic changes within the last 3 months" (calendar months, inclusive).
RECENCY_CASES: list[tuple[dt.date, dt.date, bool | None]] = [
    (dt.date(2018, 1, 15), dt.date(2018, 4, 14), True),  # 3 months minus a day
    (dt.date(2018, 1, 15), dt.date(2018, 4, 15), True),  # exactly 3 months: still within
    (dt.date(2018, 1, 15), dt.date(2018, 4, 16), False),  # 3 months and a day
    (dt.date(2017, 11, 30), dt.date(2018, 2, 28), True),  # Nov 30 + 3 months = Feb 28 (short month)
    (dt.date(2017, 11, 30), dt.date(2018, 3, 1), False),  # the day after
    (dt.date(2018, 4, 15), dt.date(2018, 4, 15), True),  # MRI taken on the evaluation day
    (dt.date(2018, 5, 1), dt.date(2018, 4, 15), None),  # an MRI dated after the evaluation day: a date error, unknown
    (dt.date(2015, 6, 1), dt.date(2018, 4, 15), False),  # years old
]


@pytest.mark.parametrize(("study_date", "evaluated", "expected"), RECENCY_CASES)
def test_probiotics_mri_recency(study_date: dt.date, evaluated: dt.date, expected: bool | None) -> None:
    decision = evaluate(
        rule_set("NCT03100266@2018-registry"), grading_with(("L4_inf", "I", "B")), study_date, {}, evaluated
    )
    assert met(decision, "mri_recent") is expected
    assert decision.imaging is Outcome.from_met(expected)


def test_recency_unknown_without_study_date() -> None:
    # NCT03100266 record "within the last 3 months": an MRI without a date cannot be judged.
    decision = evaluate(rule_set("NCT03100266@2018-registry"), grading_with(("L4_inf", "I", "B")), None, {}, EVALUATED)
    assert met(decision, "mri_recent") is None
    assert decision.next_change is None


@pytest.mark.parametrize(
    ("study_date", "evaluated", "expected"),
    [
        (dt.date(2018, 1, 15), dt.date(2018, 2, 1), dt.date(2018, 4, 16)),  # recent: expires the day after 3 months
        (dt.date(2018, 1, 15), dt.date(2018, 4, 15), dt.date(2018, 4, 16)),  # last valid day
        (dt.date(2018, 1, 15), dt.date(2018, 4, 16), None),  # already expired: time changes nothing more
        (dt.date(2017, 11, 30), dt.date(2017, 12, 1), dt.date(2018, 3, 1)),  # Feb 28 is the last valid day
    ],
)
def test_next_change_of_time_dependent_criterion(
    study_date: dt.date, evaluated: dt.date, expected: dt.date | None
) -> None:
    rules = rule_set("NCT03100266@2018-registry")
    assert next_change(rules, study_date, evaluated) == expected
    assert evaluate(rules, all_none(), study_date, {}, evaluated).next_change == expected


@pytest.mark.parametrize("key", ["NCT00454792@2012", "NCT00454792@2007-registry"])
def test_rule_sets_without_time_criteria_never_change_by_time(key: str) -> None:
    # Jensen 2012 and the NCT00454792 record have no MRI recency rule.
    assert next_change(rule_set(key), dt.date(2008, 1, 1), EVALUATED) is None


def test_evaluate_imaging_ignores_screening() -> None:
    # The funnel's "MRI criterion met" step (Jensen 2012 Results: "244 (44%) had MCs with a 'maximum height'
    # extending beyond the endplate") is judged from the MRI alone.
    rules = rule_set("NCT03100266@2018-registry")
    grading = grading_with(("L4_inf", "I", "B"))
    assert evaluate_imaging(rules, grading, STUDY_DATE, EVALUATED) is Outcome.MET
    assert evaluate_imaging(rules, grading, dt.date(2010, 1, 1), EVALUATED) is Outcome.NOT_MET
    assert evaluate_imaging(rules, None, STUDY_DATE, EVALUATED) is Outcome.UNKNOWN
    assert evaluate_imaging(rules, all_none(), None, EVALUATED) is Outcome.NOT_MET


endplate_gradings = st.one_of(
    st.just({"type": "none"}),
    st.builds(
        lambda t, s: {"type": t, "size": s},
        st.sampled_from(CHANGE_TYPES),
        st.sampled_from(SIZES),
    ),
)
study_gradings = st.fixed_dictionaries({e.value: endplate_gradings for e in ENDPLATES})


def brute_force(key: str, data: dict[str, dict[str, str]]) -> bool:
    """Each trial's MRI criterion, restated over the raw labels (docs/eligibility.md)."""
    found = False
    for grading in data.values():
        parts = grading["type"].split("/")
        if key == "NCT00454792@2012":
            found = found or (grading["type"] != "none" and grading.get("size") in ("B", "C", "D"))
        elif key == "NCT00454792@2007-registry":
            found = found or grading["type"] != "none"
        else:
            found = found or "I" in parts
    return found


MRI_CRITERIA = {
    "NCT00454792@2012": "mri_mc_beyond_endplate",
    "NCT00454792@2007-registry": "mri_any_mc",
    "NCT03100266@2018-registry": "mri_type_1",
}


@given(study_gradings)
def test_mri_criterion_equals_brute_force(data: dict[str, dict[str, str]]) -> None:
    grading = StudyGrading.from_mapping(data)
    for key, criterion in MRI_CRITERIA.items():
        decision = evaluate(rule_set(key), grading, STUDY_DATE, {}, EVALUATED)
        assert met(decision, criterion) is brute_force(key, data), key


def months_apart_within(study: dt.date, evaluated: dt.date, months: int) -> bool:
    """NCT03100266 record "within the last 3 months", restated: fewer whole calendar months apart, or exactly
    that many with the day of the month not past the study's day."""
    apart = (evaluated.year - study.year) * 12 + evaluated.month - study.month
    return apart < months or (apart == months and evaluated.day <= study.day)


def recency_formula(study: dt.date, evaluated: dt.date, months: int) -> bool | None:
    """:func:`months_apart_within`, and unknown for an MRI dated after the evaluation day (a date error)."""
    return None if study > evaluated else months_apart_within(study, evaluated, months)


dates = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2040, 12, 31))


@given(dates, dates)
def test_recency_equals_calendar_month_formula(study: dt.date, evaluated: dt.date) -> None:
    rules = rule_set("NCT03100266@2018-registry")
    decision = evaluate(rules, grading_with(("L4_inf", "I", "B")), study, {}, evaluated)
    assert met(decision, "mri_recent") is recency_formula(study, evaluated, 3)


@given(dates, dates)
def test_next_change_is_the_first_day_the_recency_outcome_flips(study: dt.date, evaluated: dt.date) -> None:
    rules = rule_set("NCT03100266@2018-registry")
    change = next_change(rules, study, evaluated)
    if change is None:
        assert met(evaluate(rules, None, study, {}, evaluated), "mri_recent") is False
        return
    assert change > evaluated
    before = met(evaluate(rules, None, study, {}, change - dt.timedelta(days=1)), "mri_recent")
    after = met(evaluate(rules, None, study, {}, change), "mri_recent")
    # An MRI dated in the future is unknown until its day, then recent; a recent one expires.
    assert (before, after) == ((None, True) if study > evaluated else (True, False))
