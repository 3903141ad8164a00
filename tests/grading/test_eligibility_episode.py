"""Screening episodes: age and symptom duration computed at the index date (docs/eligibility.md,
"Counting years and months"), boundary by boundary, each table citing the sentence it implements."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grading.eligibility import (
    Episode,
    add_months,
    completed_months,
    completed_years,
    elapsed_months,
    evaluate,
)
from grading.errors import GradingError
from tests.grading.eligibility_helpers import grading_with, met, rule_set

D = dt.date
P2012 = rule_set("NCT00454792@2012")
R2007 = rule_set("NCT00454792@2007-registry")
PROBIOTICS = rule_set("NCT03100266@2018-registry")
BEYOND = grading_with(("L4_inf", "I", "C"))


def at_index(rules_key: str, index: dt.date, **dates: dt.date) -> dict[str, bool | None]:
    """The criteria of a rule set evaluated at ``index`` for an episode with ``dates``."""
    rules = rule_set(rules_key)
    episode = Episode(index, **dates)
    decision = evaluate(rules, BEYOND, index, {}, index, episode)
    return {r.id: r.met for r in decision.results}


# Jensen 2012, "Inclusion and exclusion criteria": "(4) age from 18 to 60 years".
# Age in completed years; a birthday on the index date counts.
AGE_2012 = [
    (D(1990, 3, 1), D(2008, 2, 29), 17, False),  # the day before the 18th birthday
    (D(1990, 3, 1), D(2008, 3, 1), 18, True),  # 18th birthday on the index date
    (D(1947, 3, 1), D(2008, 2, 29), 60, True),  # the last day aged 60
    (D(1947, 3, 1), D(2008, 3, 1), 61, False),  # 61st birthday on the index date
    (D(1988, 2, 29), D(2006, 2, 28), 18, True),  # leap-day birthday, common year: reached on 28 February
    (D(1988, 2, 29), D(2006, 2, 27), 17, False),
    (D(1988, 2, 29), D(2008, 2, 29), 20, True),  # leap-day birthday in a leap year: on the day
    (D(1948, 2, 29), D(2009, 2, 28), 61, False),  # the 61st leap-day birthday in a common year
]


@pytest.mark.parametrize(("born", "index", "age", "expected"), AGE_2012)
def test_age_at_index_date_2012(born: dt.date, index: dt.date, age: int, expected: bool) -> None:
    assert completed_years(born, index) == age
    assert at_index("NCT00454792@2012", index, date_of_birth=born)["age"] is expected


# NCT03100266 record, "Age between 18 and 65 years, both included".
AGE_PROBIOTICS = [
    (D(1952, 6, 30), D(2018, 6, 29), 65, True),
    (D(1952, 6, 30), D(2018, 6, 30), 66, False),  # 66th birthday on the index date
    (D(2000, 6, 30), D(2018, 6, 30), 18, True),
]


@pytest.mark.parametrize(("born", "index", "age", "expected"), AGE_PROBIOTICS)
def test_age_at_index_date_probiotics(born: dt.date, index: dt.date, age: int, expected: bool) -> None:
    assert completed_years(born, index) == age
    assert at_index("NCT03100266@2018-registry", index, date_of_birth=born)["age"] is expected


# Jensen 2012, "Inclusion and exclusion criteria": "(3) duration of current symptoms from 2 to 12 months".
# Onset 15 January 2008: month 1 of symptoms is 15 Jan-14 Feb, month 2 is 15 Feb-14 Mar, month 12 is
# 15 Dec 2008-14 Jan 2009. "At least 2 months" holds from onset + 2 months (15 March); "at most 12
# months" up to and including onset + 12 months (15 January 2009).
DURATION_2012 = [
    (D(2008, 1, 15), D(2008, 3, 14), False),  # the last day of month 2: 1 month and 28 days
    (D(2008, 1, 15), D(2008, 3, 15), True),  # exactly 2 months
    (D(2008, 1, 15), D(2009, 1, 14), True),  # the last day of month 12
    (D(2008, 1, 15), D(2009, 1, 15), True),  # exactly 12 months
    (D(2008, 1, 15), D(2009, 1, 16), False),  # 12 months and a day
    (D(2007, 12, 31), D(2008, 2, 28), False),  # 31 Dec + 2 months = 29 Feb 2008 (leap year)
    (D(2007, 12, 31), D(2008, 2, 29), True),  # leap day: exactly 2 months
    (D(2008, 12, 31), D(2009, 2, 28), True),  # 31 Dec + 2 months = 28 Feb 2009 (common year)
    (D(2007, 2, 28), D(2008, 2, 28), True),  # 12 months across a leap day
    (D(2007, 2, 28), D(2008, 2, 29), False),  # the leap day is one day past 12 months
]


@pytest.mark.parametrize(("onset", "index", "expected"), DURATION_2012)
def test_duration_at_index_date_2012(onset: dt.date, index: dt.date, expected: bool) -> None:
    assert at_index("NCT00454792@2012", index, symptom_onset_date=onset)["symptom_duration"] is expected


# NCT00454792 record: "The patient must have LBP with a current duration of 3 - 12 month."
DURATION_2007 = [
    (D(2008, 1, 15), D(2008, 4, 14), False),  # the last day of month 3
    (D(2008, 1, 15), D(2008, 4, 15), True),
    (D(2008, 1, 15), D(2009, 1, 15), True),
    (D(2008, 1, 15), D(2009, 1, 16), False),
]


@pytest.mark.parametrize(("onset", "index", "expected"), DURATION_2007)
def test_duration_at_index_date_2007(onset: dt.date, index: dt.date, expected: bool) -> None:
    assert at_index("NCT00454792@2007-registry", index, symptom_onset_date=onset)["symptom_duration"] is expected


# NCT03100266 record: "Pain duration >3 months": more than 3 months from the day after onset + 3 months.
DURATION_PROBIOTICS = [
    (D(2018, 1, 31), D(2018, 4, 30), False),  # 31 Jan + 3 months = 30 April: exactly 3 months
    (D(2018, 1, 31), D(2018, 5, 1), True),
    (D(2018, 2, 28), D(2018, 5, 28), False),
    (D(2018, 2, 28), D(2018, 5, 29), True),
]


@pytest.mark.parametrize(("onset", "index", "expected"), DURATION_PROBIOTICS)
def test_duration_at_index_date_probiotics(onset: dt.date, index: dt.date, expected: bool) -> None:
    assert at_index("NCT03100266@2018-registry", index, symptom_onset_date=onset)["pain_duration"] is expected


dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31))


@given(dates, st.integers(min_value=0, max_value=400))
def test_elapsed_months_is_exact_on_the_calendar_day(start: dt.date, months: int) -> None:
    day = add_months(start, months)
    assert elapsed_months(start, day) == months
    assert completed_months(start, day) == months
    assert elapsed_months(start, day + dt.timedelta(days=1)) > months


@given(dates, dates)
def test_completed_months_is_the_largest_whole_count(a: dt.date, b: dt.date) -> None:
    start, on = min(a, b), max(a, b)
    months = completed_months(start, on)
    assert add_months(start, months) <= on < add_months(start, months + 1)
    assert months <= elapsed_months(start, on) < months + 1


def test_dates_after_the_index_date_are_errors_naming_the_field() -> None:
    with pytest.raises(GradingError, match="date_of_birth 2030-01-01 is after the index date") as caught:
        Episode(D(2020, 1, 1), date_of_birth=D(2030, 1, 1))
    assert caught.value.field == "date_of_birth"
    with pytest.raises(GradingError) as onset:
        Episode(D(2020, 1, 1), symptom_onset_date=D(2020, 1, 2))
    assert onset.value.field == "symptom_onset_date"
    with pytest.raises(GradingError, match=r"index_date 2020-01-01 is before the MRI \(study_date 2020-02-01\)") as mri:
        Episode(D(2020, 1, 1)).check_study_date(D(2020, 2, 1))
    assert mri.value.field == "index_date"


def test_an_episode_is_evaluated_at_its_index_date_only() -> None:
    episode = Episode(D(2020, 1, 1), date_of_birth=D(1980, 1, 1))
    with pytest.raises(GradingError, match="evaluated at its index date 2020-01-01"):
        evaluate(P2012, BEYOND, D(2019, 12, 1), {}, D(2021, 1, 1), episode)


def test_decision_at_the_index_date_does_not_drift_and_has_no_next_change() -> None:
    # NCT03100266 record "MRI ... within the last 3 months": judged at the index date, not at "today".
    episode = Episode(D(2018, 4, 15), date_of_birth=D(1970, 5, 1), symptom_onset_date=D(2017, 10, 1))
    decision = evaluate(PROBIOTICS, BEYOND, D(2018, 3, 1), {}, episode.index_date, episode)
    assert met(decision, "mri_recent") is True
    assert met(decision, "age") is True
    assert met(decision, "pain_duration") is True
    assert decision.next_change is None


def test_computed_age_out_of_the_field_range_names_the_date() -> None:
    episode = Episode(D(2020, 1, 1), date_of_birth=D(1890, 1, 1))
    with pytest.raises(GradingError, match="date_of_birth: gives screening field age_years: 130") as caught:
        evaluate(P2012, BEYOND, D(2019, 12, 1), {}, episode.index_date, episode)
    assert caught.value.field == "date_of_birth"


def test_not_applicable_only_where_declared() -> None:
    # NCT00454792 record "The patient is pregnant." does not apply to a male patient; "willing" always applies.
    assert met(evaluate(R2007, BEYOND, None, {"pregnant": "not_applicable"}, D(2020, 1, 1)), "excl_pregnant") is True
    with pytest.raises(GradingError, match=r"willing: 'not_applicable' is not allowed; allowed: true or false"):
        evaluate(R2007, BEYOND, None, {"willing": "not_applicable"}, D(2020, 1, 1))
