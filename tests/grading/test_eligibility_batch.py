"""Deciding many patients at once, and which grading counts (docs/eligibility.md#which-grading-counts)."""

from __future__ import annotations

import datetime as dt

import pytest

from grading.eligibility import Episode, evaluate
from grading.eligibility.batch import PatientInputs, Screening, decide_all
from grading.eligibility.counting import Candidate, counting_choice
from tests.grading.eligibility_helpers import EVALUATED, STUDY_DATE, grading_with, rule_set

T0 = dt.datetime(2026, 1, 1, 8, 0)


def test_decide_all_gives_each_patient_what_evaluate_gives_alone() -> None:
    rest = rule_set("NCT00454792@2012")
    registry = rule_set("NCT03100266@2018-registry")
    changed = grading_with(("L4_inf", "I", "C"))
    shared = grading_with()
    episode = Episode(EVALUATED - dt.timedelta(days=3), date_of_birth=dt.date(1980, 5, 1))
    patients = {
        "p3": PatientInputs(changed, STUDY_DATE),
        "p1": PatientInputs(shared, STUDY_DATE),
        "p2": PatientInputs(shared, STUDY_DATE, {"NCT00454792": Screening({"age_years": 45})}),
        "p4": PatientInputs(screenings={"NCT00454792": Screening({}, episode)}),
        "p5": PatientInputs(),
    }
    decided = decide_all([rest, registry], patients, EVALUATED)
    assert [p for p, _ in decided[rest]] == ["p1", "p2", "p3", "p4"]  # p5 has no inputs at all
    assert [p for p, _ in decided[registry]] == ["p1", "p2", "p3"]  # p4 screened for the other trial only
    for chosen, decisions in decided.items():
        for patient, decision in decisions:
            inputs = patients[patient]
            screening = inputs.screenings.get(chosen.trial)
            answers = chosen.own_answers({} if screening is None else screening.answers)
            day = EVALUATED if screening is None or screening.episode is None else screening.episode.index_date
            alone = evaluate(chosen, inputs.grading, inputs.study_date, answers, day, screening and screening.episode)
            assert decision == alone, patient
    by_patient = dict(decided[rest])
    assert by_patient["p4"].evaluation_date == episode.index_date
    assert by_patient["p1"] is not by_patient["p2"]  # different answers: evaluated apart
    assert dict(decided[registry])["p1"] is dict(decided[registry])["p2"]  # same inputs: evaluated once


def test_counting_choice_orders_by_study_date_then_registration_then_grading() -> None:
    def candidate(date: dt.date | None, registered: int, created: int, grading_id: str) -> Candidate[str]:
        hours = dt.timedelta(hours=1)
        return Candidate(date, T0 + registered * hours, T0 + created * hours, grading_id, grading_id)

    pairs = [
        ("A", candidate(None, 9, 9, "undated, graded last")),
        ("A", candidate(dt.date(2026, 5, 1), 1, 2, "same day, registered first")),
        ("A", candidate(dt.date(2026, 5, 1), 2, 3, "same day, registered later, first grading")),
        ("A", candidate(dt.date(2026, 5, 1), 2, 4, "same day, registered later, later grading")),
        ("A", candidate(dt.date(2025, 1, 1), 3, 8, "older study")),
        ("B", candidate(None, 1, 1, "only one")),
    ]
    assert counting_choice(pairs) == {
        "A": "same day, registered later, later grading",
        "B": "only one",
    }
    assert counting_choice(reversed(pairs)) == counting_choice(pairs)
    assert counting_choice([]) == {}


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("2026-05-01 10:00:00.000000", "2026-05-01 10:00:00.500000"),  # SQLite: fixed width
        ("2026-05-01 10:00:00+00", "2026-05-01 10:00:00.5+00"),  # PostgreSQL: no fraction, then one
        ("2026-05-01 10:00:00.25+00", "2026-05-01 10:00:00.5+00"),  # trailing zeros dropped
        ("2026-05-01 10:00:00.5+00", "2026-05-01 10:00:00.55+00"),
        ("2026-05-01 09:59:59.999999+00", "2026-05-01 10:00:00+00"),
    ],
)
def test_counting_choice_orders_times_given_as_the_databases_text(earlier: str, later: str) -> None:
    day = dt.date(2026, 5, 1)
    registered = [("A", Candidate(day, earlier, earlier, "g1", "registered earlier"))]
    registered.append(("A", Candidate(day, later, earlier, "g0", "registered later")))
    assert counting_choice(registered) == {"A": "registered later"}
    created = [
        ("A", Candidate(day, earlier, later, "g0", "graded later")),
        ("A", Candidate(day, earlier, earlier, "g1", "graded earlier")),
    ]
    assert counting_choice(created) == {"A": "graded later"}
