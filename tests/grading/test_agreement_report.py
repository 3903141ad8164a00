"""The agreement report from long-format records and the Nordic variables of a grading."""

from __future__ import annotations

import json
import math

import pytest

from grading.agreement import (
    ROW_FIELDS,
    AgreementInputError,
    ComparisonKind,
    Level,
    RatingRecord,
    VariableSpec,
    build_report,
    cohen_kappa,
    fleiss_kappa,
)
from grading.agreement.nordic_variables import (
    ENDPLATE_VARIABLES,
    SIZE_LABELS,
    nordic_records,
    nordic_specs,
)
from grading.endplates import ENDPLATES
from grading.nordic import TYPE_LABELS, StudyGrading, all_none


def _records(table: list[list[str | None]], raters: list[str], variable: str = "value") -> list[RatingRecord]:
    return [
        RatingRecord(f"u{i}", rater, value, f"p{i // 2}", variable)
        for i, row in enumerate(table)
        for rater, value in zip(raters, row, strict=True)
    ]


THREE = [["a", "a", "b"], ["b", "b", "b"], ["a", "a", "a"], ["b", "a", "b"], ["a", "a", None], ["b", "b", "b"]]


def test_report_has_every_pair_and_all_raters() -> None:
    report = build_report(_records(THREE, ["r1", "r2", "r3"]), n_boot=200)
    variable = report.variable("value")
    assert variable.raters == ("r1", "r2", "r3")
    assert [c.label for c in variable.comparisons] == ["r1 vs r2", "r1 vs r3", "r2 vs r3", "all raters"]
    pair = variable.comparisons[0]
    expected = cohen_kappa([row[:2] for row in THREE], clusters=[f"p{i // 2}" for i in range(len(THREE))])
    assert expected.se_method == "analytic-clustered"
    assert pair.statistic("cohen_kappa").value == pytest.approx(expected.value)
    assert pair.statistic("cohen_kappa").ci_analytic == pytest.approx(expected.ci())
    assert pair.confusion == ((3, 0), (1, 2))  # rows r1, columns r2
    overall = variable.comparisons[-1]
    assert overall.kind is ComparisonKind.ALL
    assert overall.statistic("fleiss_kappa").value == pytest.approx(fleiss_kappa(THREE).value)
    assert {s.name for s in overall.statistics} >= {"krippendorff_alpha_nominal", "gwet_ac1", "pabak"}
    assert variable.n_clusters == 3


def test_pair_leaves_out_units_neither_rater_saw() -> None:
    report = build_report(_records(THREE, ["r1", "r2", "r3"]), n_boot=50)
    r1_r3 = report.variable("value").comparisons[1]
    assert r1_r3.statistic("cohen_kappa").n_units == 5


def test_ordinal_variable_gets_weighted_statistics_and_keeps_its_scale() -> None:
    spec = VariableSpec("size", Level.ORDINAL, SIZE_LABELS)
    records = _records([["none", "A"], ["B", "D"], ["none", "none"], ["A", "A"]], ["x", "y"], "size")
    variable = build_report(records, [spec], n_boot=50).variable("size")
    assert variable.categories == SIZE_LABELS
    names = [s.name for s in variable.comparisons[0].statistics]
    assert "weighted_kappa_linear" in names and "weighted_kappa_quadratic" in names
    assert len(variable.comparisons[0].confusion) == 5  # the unused C stays on the scale
    assert variable.comparisons[1].statistic("krippendorff_alpha_ordinal").n_units == 4


def test_pairs_restrict_the_comparisons() -> None:
    report = build_report(_records(THREE, ["r1", "r2", "r3"]), pairs=[("r1", "r3")], include_all=False, n_boot=10)
    assert [c.label for c in report.variable("value").comparisons] == ["r1 vs r3"]


def test_rows_and_json_are_complete_and_nan_free() -> None:
    report = build_report(_records([["a", "a"], ["a", "a"]], ["r1", "r2"]), n_boot=10)
    rows = report.rows()
    assert all(tuple(row) == ROW_FIELDS for row in rows)
    kappa = next(r for r in rows if r["statistic"] == "cohen_kappa")
    assert kappa["value"] is None and "chance agreement is 1" in kappa["reason"]
    text = json.dumps(report.to_mapping(), allow_nan=False)
    assert '"landis_koch": "undefined"' in text


@pytest.mark.parametrize(
    ("records", "message"),
    [
        # the same rater twice on one unit
        ([RatingRecord("u1", "r1", "a"), RatingRecord("u1", "r1", "b")], r"rater 'r1' rated unit 'u1' twice"),
        # a unit in two clusters
        (
            [RatingRecord("u1", "r1", "a", "p1"), RatingRecord("u1", "r2", "a", "p2")],
            r"unit 'u1' is in cluster 'p1' and in cluster 'p2'",
        ),
    ],
)
def test_inconsistent_records_are_refused(records: list[RatingRecord], message: str) -> None:
    with pytest.raises(AgreementInputError, match=message):
        build_report(records)


def test_a_value_outside_the_declared_scale_names_the_variable() -> None:
    records = [RatingRecord("u1", "r1", "E", variable="size"), RatingRecord("u1", "r2", "A", variable="size")]
    with pytest.raises(AgreementInputError, match=r"variable 'size': rating 'E' at unit 0, rater 0"):
        build_report(records, [VariableSpec("size", Level.ORDINAL, SIZE_LABELS)])


# --- the Nordic variables ------------------------------------------------------------------------


def _grading(changes: dict[str, tuple[str, str]]) -> StudyGrading:
    return StudyGrading.from_pairs(
        (e.value, *changes.get(e.value, ("none", None)))
        for e in ENDPLATES  # type: ignore[arg-type]
    )


def test_nordic_records_derive_every_variable() -> None:
    grading = _grading({"L4_inf": ("I/II", "C"), "L5_sup": ("II", "A")})
    records = {(r.variable, r.unit): r for r in nordic_records("case-1", "ann", grading)}
    assert records[("presence", "case-1/L4_inf")].value == "present"
    assert records[("type", "case-1/L4_inf")].value == "I/II"
    assert records[("size", "case-1/L5_sup")].value == "A"
    assert records[("beyond_endplate", "case-1/L5_sup")].value == "no"
    assert records[("beyond_endplate@L4_inf", "case-1")].value == "yes"
    assert records[("size", "case-1/L1_sup")].value == "none"
    assert records[("mri:NCT00454792/2012", "case-1")].value == "yes"
    assert records[("mri:NCT03100266/2018-registry", "case-1")].value == "yes"
    assert records[("contains_I", "case-1/L4_inf")].value == "yes"
    assert records[("contains_III@L4_inf", "case-1")].value == "no"
    assert records[("type|changed", "case-1/L4_inf")].value == "I/II"
    assert records[("type|changed", "case-1/L1_sup")].value is None  # unchanged: missing, not "none"
    assert records[("size|changed", "case-1/L5_sup")].value == "A"
    assert all(r.cluster == "case-1" for r in records.values())
    # 9 pooled + 7 per endplate for each of 11 endplates, plus one per trial rule set
    per_endplate = sum(v.per_endplate for v in ENDPLATE_VARIABLES)
    assert len(records) == 11 * (len(ENDPLATE_VARIABLES) + per_endplate) + 3


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, ("no", "no", "no")),  # no change anywhere
        ({"L4_inf": ("II", "A")}, ("no", "yes", "no")),  # a change at the endplate only, type II
        ({"S1_sup": ("I", "A")}, ("no", "yes", "yes")),  # type I, endplate only: NCT03100266 yes
        ({"L5_inf": ("II/III", "B")}, ("yes", "yes", "no")),  # beyond the endplate, no type I
    ],
)
def test_trial_mri_criteria(changes: dict[str, tuple[str, str]], expected: tuple[str, str, str]) -> None:
    records = nordic_records("c", "r", _grading(changes), per_endplate=False)
    got = tuple(r.value for r in records if r.variable.startswith("mri:"))
    assert got == expected


def test_nordic_report_pools_endplates_and_clusters_by_case() -> None:
    sick = _grading({"L4_inf": ("I", "C"), "L5_sup": ("II", "B")})
    records = []
    for case in range(10):
        records += nordic_records(f"c{case}", "ann", sick if case % 2 else all_none())
        records += nordic_records(f"c{case}", "ben", sick if case % 3 else all_none())
    report = build_report(records, nordic_specs(), n_boot=100)
    size = report.variable("size")
    assert (size.n_units, size.n_clusters) == (110, 10)
    assert size.level is Level.ORDINAL
    assert report.variable("presence@L4_inf").n_units == 10
    # L1_sup is never changed: kappa is undefined there, with its reason, not 1.0
    l1 = report.variable("presence@L1_sup").comparisons[0].statistic("cohen_kappa")
    assert math.isnan(l1.value) and l1.reason
    assert [v.variable for v in report.variables][:4] == ["presence", "type", "size", "beyond_endplate"]
    # conditional agreement: only the endplates both raters call changed (L4_inf, L5_sup of cases
    # rated "sick" by both: odd cases not divisible by 3 -> 1, 5, 7 -> 6 endplates)
    conditional = report.variable("type|changed").comparisons[0].statistic("cohen_kappa")
    assert conditional.n_units == 6 and conditional.n_patients == 3


def test_every_interval_names_its_method_and_counts() -> None:
    records = [
        RatingRecord(f"u{i}", rater, value, f"p{i // 3}", "presence")
        for i, row in enumerate([["present", "present"], ["absent", "present"], ["absent", "absent"]] * 4)
        for rater, value in zip(["r1", "r2"], row, strict=True)
    ]
    spec = VariableSpec("presence", Level.NOMINAL, ("absent", "present"), negative="absent")
    report = build_report(records, [spec], n_boot=50)
    pair = report.variable("presence").comparisons[0]
    kappa = pair.statistic("cohen_kappa")
    assert (kappa.ci_method, kappa.boot_method) == ("analytic-clustered", "bootstrap-patients")
    assert (kappa.n_units, kappa.n_patients, kappa.n_changed) == (12, 4, 8)
    assert pair.statistic("percent_agreement").ci_method == "wilson-clustered"
    assert pair.statistic("percent_agreement").landis_koch is None
    assert pair.indices is not None and (pair.indices.a, pair.indices.b, pair.indices.c, pair.indices.d) == (4, 0, 4, 4)
    assert pair.indices.bias_index == pytest.approx(-4 / 12)
    assert [t.name for t in pair.tests] == ["mcnemar"]
    assert {"positive_agreement", "negative_agreement", "pabak"} <= {s.name for s in pair.statistics}
    row = next(r for r in report.rows() if r["statistic"] == "cohen_kappa")
    assert (row["ci_method"], row["boot_method"], row["n_patients"], row["n_changed"]) == (
        "analytic-clustered",
        "bootstrap-patients",
        4,
        8,
    )
    json.dumps(report.to_mapping(), allow_nan=False)


def test_no_band_when_one_category_was_observed_and_brennan_prediger_names_q() -> None:
    # Every rating "none" on the 8-category type scale: AC1 is 1.0, but no band is printed.
    records = [RatingRecord(f"u{i}", r, "none", f"p{i}", "type") for i in range(6) for r in ("r1", "r2")]
    spec = VariableSpec("type", Level.NOMINAL, TYPE_LABELS, negative="none")
    pair = build_report(records, [spec], n_boot=20).variable("type").comparisons[0]
    ac1 = pair.statistic("gwet_ac1")
    assert ac1.value == 1.0 and ac1.landis_koch is None
    assert ac1.band_note is not None and "only 'none' was observed" in ac1.band_note
    assert ac1.n_changed == 0
    bp = pair.statistic("brennan_prediger")
    assert bp.q == 8
    assert "pabak" not in {s.name for s in pair.statistics}
    assert [t.name for t in pair.tests] == ["bowker"]
