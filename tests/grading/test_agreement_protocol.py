"""Agreement under a grading protocol: not-assessable endplates are missing ratings (never a
category) and counted per rater; every variable of nordic-2007-full is analysed at its level."""

from __future__ import annotations

from typing import Any

from grading.agreement import build_report
from grading.agreement.nordic_variables import (
    nordic_records,
    not_assessable_counts,
    protocol_specs,
)
from grading.agreement.statistics import Level
from grading.endplates import ENDPLATES
from grading.nordic import StudyGrading
from grading.protocols import get_protocol

FULL = get_protocol("nordic-2007-full")


def _grading(**overrides: dict[str, Any]) -> StudyGrading:
    data: dict[str, Any] = {e.value: {"type": "none", "osteophytes": "no"} for e in ENDPLATES}
    data.update(overrides)
    return FULL.parse(data)


def test_not_assessable_is_a_missing_rating_of_every_endplate_variable() -> None:
    grading = _grading(S1_sup={"not_assessable": "artefact"})
    records = nordic_records("case-1", "rad-a", grading, per_endplate=True, protocol=FULL)
    at_s1 = [r for r in records if r.unit == "case-1/S1_sup"]
    assert {r.variable for r in at_s1} == {v.name for v in protocol_specs(FULL, per_endplate=False, trials=False)}
    assert all(r.value is None for r in at_s1)
    per_endplate = [r for r in records if r.variable.endswith("@S1_sup")]
    assert per_endplate and all(r.value is None for r in per_endplate)
    # No endplate meets any trial's MRI criterion and S1_sup could: unknown, so missing too.
    trials = {r.variable: r.value for r in records if r.variable.startswith("mri:")}
    assert set(trials.values()) == {None}


def test_a_change_elsewhere_decides_the_trial_criterion_despite_a_not_assessable_endplate() -> None:
    grading = _grading(S1_sup={"not_assessable": "outside_fov"}, L4_inf={"type": "I", "size": "B"})
    trials = {
        r.variable: r.value for r in nordic_records("c", "r", grading, protocol=FULL) if r.variable.startswith("mri:")
    }
    assert trials == {
        "mri:NCT00454792/2012": "yes",
        "mri:NCT00454792/2007-registry": "yes",
        "mri:NCT03100266/2018-registry": "yes",
    }


def test_not_assessable_counts_per_rater() -> None:
    a = _grading(S1_sup={"not_assessable": "artefact"}, L5_inf={"not_assessable": "transitional"})
    b = _grading()
    assert not_assessable_counts([("rad-a", a), ("rad-b", b), ("rad-a", a)]) == {"rad-a": 4, "rad-b": 0}


def test_every_full_protocol_variable_is_analysed_at_its_level() -> None:
    specs = {s.name: s for s in protocol_specs(FULL, per_endplate=False, trials=False)}
    assert specs["volume"].level is Level.ORDINAL and specs["volume"].categories == ("none", "lt25", "25to50", "gt50")
    assert specs["endplate_area"].level is Level.ORDINAL
    assert specs["location"].level is Level.NOMINAL and specs["location"].categories[0] == "none"
    assert specs["osteophytes"].level is Level.NOMINAL and specs["osteophytes"].categories == ("no", "yes")
    assert specs["development"].categories[0] == "unchanged"  # an endplate variable: no "none" category
    records = []
    change = {"type": "I", "size": "B", "location": "anterior", "volume": "lt25", "endplate_area": "lt25"}
    for case in range(6):
        for rater, extra in (("rad-a", {}), ("rad-b", {"volume": "25to50"} if case % 2 else {})):
            grading = _grading(L4_inf={**change, **extra, "osteophytes": "yes"}, S1_sup={"not_assessable": "artefact"})
            records += nordic_records(f"case-{case}", rater, grading, per_endplate=False, protocol=FULL)
    report = build_report(records, protocol_specs(FULL, per_endplate=False), n_boot=20)
    for name in ("type", "size", "location", "volume", "endplate_area", "osteophytes", "endplate_defect"):
        variable = report.variable(name)
        assert variable.level is specs[name].level
        # 6 cases x 10 assessable endplates; the not-assessable S1_sup is not a unit with two ratings
        statistic = "cohen_kappa" if variable.level is Level.NOMINAL else "weighted_kappa_linear"
        kappa = variable.comparisons[0].statistic(statistic)
        assert kappa.n_units == (60 if name != "endplate_defect" else 0), name
    volume = report.variable("volume").comparisons[0]
    assert volume.statistic("percent_agreement").value < 1.0  # the raters differ on odd cases
    assert report.variable("location").comparisons[0].statistic("percent_agreement").value == 1.0
