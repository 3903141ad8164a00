"""Minimisation (docs/allocation.md): the scheme as data, replay of the recorded stream, agreement with
``smallerize`` on the same factors and the same random draws, and balance against simple randomisation."""

from __future__ import annotations

import dataclasses
import random

import pytest

from bench.bench_allocation import simulated, smallerize_minimizer
from grading.allocation import (
    Allocation,
    Arm,
    Factor,
    Imbalance,
    Scheme,
    Tally,
    allocate,
    marginal_imbalance,
    parse_scheme,
    replay,
    scheme_of,
    simple_randomisation,
    stream,
)
from grading.errors import GradingError

SEED_TRIAL = scheme_of("NCT00454792")
# Jensen 2012, "Randomization": "Variables equally distributed through minimization were age (3 groups),
# sex (2 groups), heavy smoking, that is, >= 20 cigarettes a day (2 groups) and self-reported hard
# physical work (2 groups)."
SEED_FACTORS = {
    "age_group": ("18-39", "40-49", "50-60"),
    "sex": ("female", "male"),
    "heavy_smoking": ("yes", "no"),
    "hard_physical_work": ("yes", "no"),
}


def patients(n: int, seed: int, scheme: Scheme = SEED_TRIAL) -> list[dict[str, str]]:
    return simulated(n, seed, scheme)


def run(scheme: Scheme, people: list[dict[str, str]], seed: str) -> list[Allocation]:
    tally = Tally(scheme)
    return [allocate(tally, levels, seed) for levels in people]


def test_seed_trial_scheme_is_the_papers() -> None:
    assert {f.name: f.levels for f in SEED_TRIAL.factors} == SEED_FACTORS
    assert SEED_TRIAL.arm_names == ("exercise", "rest")
    assert "minimization were age (3 groups)" in SEED_TRIAL.source_quote


def test_replay_from_the_recorded_stream_gives_every_allocation_again() -> None:
    records = run(SEED_TRIAL, patients(300, 1), "s3cret")
    assert replay(SEED_TRIAL, records).ok
    result = replay(SEED_TRIAL, records, seed="s3cret")
    assert result.ok and result.checked == 300
    # A different seed re-draws different numbers: the replay says where.
    assert not replay(SEED_TRIAL, records, seed="other").ok


def test_replay_finds_a_changed_arm_a_gap_and_a_changed_factor() -> None:
    records = run(SEED_TRIAL, patients(50, 2), "k")
    changed = dataclasses.replace(records[10], arm="rest" if records[10].arm == "exercise" else "exercise")
    result = replay(SEED_TRIAL, [*records[:10], changed, *records[11:]])
    assert result.mismatches[0].startswith("#11: recorded")
    assert "expected sequence number 20" in replay(SEED_TRIAL, records[:19] + records[20:]).mismatches[0]
    levels = {**records[5].levels, "sex": "male" if records[5].levels["sex"] == "female" else "female"}
    moved = dataclasses.replace(records[5], levels=levels)
    assert not replay(SEED_TRIAL, [*records[:5], moved, *records[6:]]).ok


THREE_ARMS = Scheme(
    "T-3ARM",
    "1",
    (Arm("a"), Arm("b"), Arm("c")),
    (
        Factor("site", ("s1", "s2", "s3", "s4"), 2.0),
        Factor("sex", ("female", "male"), 1.0),
        Factor("stage", ("early", "late"), 0.5),
    ),
    Imbalance.VARIANCE,
    0.7,
)


@pytest.mark.parametrize("scheme", [SEED_TRIAL, THREE_ARMS], ids=["seed-trial-range", "three-arms-variance"])
def test_imbalance_and_arms_agree_with_smallerize_on_1000_patients(scheme: Scheme) -> None:
    # smallerize draws from the module-level generator; seeding it with allocation n's stream before
    # assigning patient n gives both implementations the same random draws.
    minimizer = smallerize_minimizer(scheme)
    tally = Tally(scheme)
    for n, levels in enumerate(patients(1000, 3, scheme), start=1):
        theirs = minimizer.get_new_total_imbalances(levels)
        random.setstate(stream("cross-check", n).getstate())
        their_arm = minimizer.assign_participant(levels)
        ours = allocate(tally, levels, "cross-check")
        assert ours.imbalance == theirs, n
        assert ours.arm == their_arm, n


def test_minimisation_beats_simple_randomisation_on_every_factor() -> None:
    people = patients(10_000, 4)
    minimised = run(SEED_TRIAL, people, "sim")
    simple = [simple_randomisation(SEED_TRIAL, "sim", n) for n in range(1, len(people) + 1)]
    by_minimisation = marginal_imbalance(SEED_TRIAL, [(a.levels, a.arm) for a in minimised])
    by_chance = marginal_imbalance(SEED_TRIAL, list(zip(people, simple, strict=True)))
    for factor in SEED_FACTORS:
        assert by_minimisation[factor] < by_chance[factor], factor
    assert max(by_minimisation.values()) <= 2


def test_scheme_errors_name_the_field() -> None:
    data = SEED_TRIAL.to_mapping()
    with pytest.raises(GradingError, match=r"x.json: preferred_probability: .* allowed: more than 1/2"):
        parse_scheme({**data, "preferred_probability": 0.4}, "x.json")
    with pytest.raises(GradingError, match=r"x.json: imbalance: 'sd' is not allowed; allowed: range, variance"):
        parse_scheme({**data, "imbalance": "sd"}, "x.json")
    with pytest.raises(GradingError, match="factor sex: 'other' is not allowed; allowed: female, male") as caught:
        SEED_TRIAL.check_levels({**SEED_FACTORS_FIRST, "sex": "other"})
    assert caught.value.field == "sex"
    with pytest.raises(GradingError, match="factor 'bmi' is unknown"):
        SEED_TRIAL.check_levels({**SEED_FACTORS_FIRST, "bmi": "high"})
    assert parse_scheme(data, "x.json") == SEED_TRIAL


SEED_FACTORS_FIRST = {name: levels[0] for name, levels in SEED_FACTORS.items()}


def test_replay_reports_an_arm_not_of_the_scheme() -> None:
    records = run(SEED_TRIAL, patients(5, 5), "k")
    foreign = dataclasses.replace(records[2], arm="placebo")
    result = replay(SEED_TRIAL, [*records[:2], foreign, *records[3:]])
    assert result.mismatches[0] == "#3: recorded arm 'placebo' or ranking " + str(list(records[2].ranking)) + (
        " is not of the scheme"
    )
