"""The fast paths of the agreement report give the results of the plain ones.

Rating columns instead of records, the bootstrap counted by rating pattern, distinct rows by a 1-D key,
the resample products in row blocks and the percentiles by partition (docs/agreement.md#confidence-intervals).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from grading.agreement import (
    AgreementInputError,
    RatingColumns,
    build_report,
    cohen_kappa,
    conger_kappa,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    pabak,
    parse_ratings,
    percent_agreement,
)
from grading.agreement.binary import specific_agreement
from grading.agreement.nordic_variables import add_nordic_ratings, nordic_records, nordic_specs
from grading.agreement.ratings import first_appearance_numbers
from grading.agreement.result import _exact_product, blocked_product, distinct_rows, multiplicities, percentiles
from grading.endplates import ENDPLATES
from grading.nordic import StudyGrading, all_none


def _grading(changes: dict[str, tuple[str, str]]) -> StudyGrading:
    return StudyGrading.from_pairs(
        (e.value, *changes.get(e.value, ("none", None)))
        for e in ENDPLATES  # type: ignore[arg-type]
    )


def test_rating_columns_give_the_report_of_the_records() -> None:
    sick = _grading({"L4_inf": ("I", "C"), "L5_sup": ("II/III", "B"), "L3_inf": ("I/II", "A")})
    other = _grading({"L4_inf": ("II", "B"), "L5_sup": ("II/III", "B")})
    records = []
    columns: dict[str, RatingColumns] = {}
    for case in range(12):
        for rater, grading in (("ann", sick if case % 2 else other), ("ben", sick if case % 3 else all_none())):
            records += nordic_records(f"c{case}", rater, grading, cluster=f"p{case // 2}")
            add_nordic_ratings(columns, f"c{case}", rater, grading, cluster=f"p{case // 2}")
    from_records = build_report(records, nordic_specs(), n_boot=200, seed=3).to_mapping()
    from_columns = build_report(columns, nordic_specs(), n_boot=200, seed=3).to_mapping()
    assert from_columns == from_records
    assert len(from_records["variables"]) == len(nordic_specs())


def test_rating_columns_are_checked_as_records_are() -> None:
    twice = RatingColumns()
    twice.add("u1", "r1", "a")
    twice.add("u1", "r1", "b")
    with pytest.raises(AgreementInputError, match=r"rater 'r1' rated unit 'u1' twice for variable 'x'"):
        build_report({"x": twice})
    moved = RatingColumns()
    moved.add("u1", "r1", "a", "p1")
    moved.add("u1", "r2", "a", "p2")
    with pytest.raises(AgreementInputError, match=r"unit 'u1' is in cluster 'p1' and in cluster 'p2'"):
        build_report({"x": moved})


def test_bootstrap_by_rating_pattern_matches_the_bootstrap_of_plain_ratings() -> None:
    rng = np.random.default_rng(7)
    truth = rng.integers(0, 4, 300)
    ratings = np.column_stack([truth, np.where(rng.random(300) < 0.7, truth, rng.integers(0, 4, 300))])
    matrix = parse_ratings(ratings)
    clusters = np.repeat(np.arange(60), 5)
    for statistic in (cohen_kappa, gwet_ac1):
        plain = statistic(ratings, clusters=clusters).bootstrap(500, seed=1)
        by_pattern = statistic(matrix, clusters=clusters).bootstrap(500, seed=1)
        assert np.allclose(by_pattern, plain, rtol=0, atol=1e-12)
    assert matrix.row_patterns.max() + 1 == len({tuple(row) for row in ratings.tolist()})


def test_first_appearance_numbers_and_distinct_rows() -> None:
    keys = np.array([40, 7, 40, 3, 7, 10**12, 3])
    numbers, first = first_appearance_numbers(keys)
    assert numbers.tolist() == [0, 1, 0, 2, 1, 3, 2]
    assert first.tolist() == [0, 1, 3, 5]
    features = np.array([[1.0, 0.5], [0.0, 2.0], [1.0, 0.5], [-0.0, 2.0]])
    distinct, pattern = distinct_rows(features)
    assert np.array_equal(distinct[pattern], features)
    assert distinct.shape[0] == np.unique(features, axis=0).shape[0] == 2


@pytest.mark.parametrize(
    "counts",
    [
        np.random.default_rng(3).integers(0, 12, (100, 7)).astype(np.float64),  # pattern counts: float32
        np.random.default_rng(4).integers(-30, 30, (100, 3)).astype(np.float64),  # integer sums: float32
        np.random.default_rng(5).random((100, 3)),  # fractional features: float64 throughout
        np.full((100, 2), float(1 << 20)),  # sums that could pass 2**24: float64 throughout
    ],
    ids=["pattern-counts", "integer-sums", "fractions", "large"],
)
def test_the_multiplicities_product_is_the_float64_one(counts: np.ndarray) -> None:
    """Computed in float32 only where every partial sum is an integer below 2**24, so it is exact."""
    got = _exact_product(100, 2000, 9, counts)
    assert got.dtype == np.float64
    assert np.array_equal(got, multiplicities(100, 2000, 9) @ counts)


def test_blocked_product_and_percentiles_are_the_plain_ones() -> None:
    rng = np.random.default_rng(2)
    left = rng.integers(0, 4, (2000, 100)).astype(np.float64)
    right = rng.integers(0, 6, (100, 40)).astype(np.float64)
    assert np.array_equal(blocked_product(left, right), left @ right)
    values = rng.normal(size=1999)
    for quantiles in ((0.025, 0.975), (0.0, 0.5, 1.0)):
        expected = tuple(float(x) for x in np.quantile(values, quantiles))
        assert percentiles(values, quantiles) == expected
    assert all(math.isfinite(x) for x in percentiles(values[:1], (0.025, 0.975)))


def _alone(name: str, rows: list[list[object]], cats: tuple[object, ...], clusters: list[str], positive: object) -> Any:
    """The statistic ``name`` of the report computed on its own from nested lists and cluster labels."""
    level = "ordinal" if name.endswith("ordinal") else "nominal"
    calls: dict[str, Any] = {
        "percent_agreement": lambda: percent_agreement(rows, cats, clusters=clusters),
        "cohen_kappa": lambda: cohen_kappa(rows, None, cats, clusters=clusters),
        "weighted_kappa_linear": lambda: cohen_kappa(rows, "linear", cats, clusters=clusters),
        "weighted_kappa_quadratic": lambda: cohen_kappa(rows, "quadratic", cats, clusters=clusters),
        "gwet_ac1": lambda: gwet_ac1(rows, None, cats, clusters=clusters),
        "gwet_ac2_quadratic": lambda: gwet_ac1(rows, "quadratic", cats, clusters=clusters),
        "pabak": lambda: pabak(rows, cats, clusters=clusters),
        "brennan_prediger": lambda: pabak(rows, cats, clusters=clusters),
        "positive_agreement": lambda: specific_agreement(rows, positive, cats, clusters=clusters),
        "negative_agreement": lambda: specific_agreement(rows, positive, cats, negative=True, clusters=clusters),
        "fleiss_kappa": lambda: fleiss_kappa(rows, cats, clusters=clusters),
        "fleiss_kappa_quadratic": lambda: fleiss_kappa(rows, cats, weights="quadratic", clusters=clusters),
        "conger_kappa": lambda: conger_kappa(rows, None, cats, clusters=clusters),
        "conger_kappa_quadratic": lambda: conger_kappa(rows, "quadratic", cats, clusters=clusters),
        f"krippendorff_alpha_{level}": lambda: krippendorff_alpha(rows, level, cats, clusters=clusters),
    }
    return calls[name]()


def _close(ours: float, alone: float) -> bool:
    if math.isnan(ours) or math.isnan(alone):
        return math.isnan(ours) and math.isnan(alone)
    return abs(ours - alone) <= 1e-12 * max(abs(ours), abs(alone), 1e-300)


def test_every_statistic_of_the_report_is_the_statistic_computed_alone() -> None:
    # The report shares parsed clusters, rating-pattern counts, per-unit quantities and resampled sums
    # between the statistics of a comparison; each must still equal the statistic computed on its own
    # from plain nested lists and cluster labels (Cohen's kappa then bootstraps by confusion cell).
    rng = np.random.default_rng(11)
    types = ("I", "II", "I/II", "II/III")
    sizes = ("A", "B", "C")
    columns: dict[str, RatingColumns] = {}
    for case in range(16):
        truth = {e.value: (types[rng.integers(4)], sizes[rng.integers(3)]) for e in ENDPLATES if rng.random() < 0.3}
        for rater in ("ann", "ben", "cid"):
            changes = {e: c for e, c in truth.items() if rng.random() < 0.85}
            if rng.random() < 0.3:
                changes[ENDPLATES[int(rng.integers(len(ENDPLATES)))].value] = ("I", "A")
            add_nordic_ratings(columns, f"c{case}", rater, _grading(changes), cluster=f"p{case // 2}")
    specs = {s.name: s for s in nordic_specs()}
    report = build_report(columns, nordic_specs(), n_boot=300, seed=5)
    checked: set[str] = set()
    for name in ("presence", "type", "size", "type|changed", "size|changed", "contains_I@L4_inf"):
        variable = report.variable(name)
        spec = specs[name]
        ratings = columns[name]
        units = list(dict.fromkeys(ratings.units))
        cluster_of = dict(zip(ratings.units, ratings.clusters, strict=True))
        value_of = {(u, r): v for u, r, v in zip(ratings.units, ratings.raters, ratings.values, strict=True)}
        cats = tuple(spec.categories or ())
        positive = next((c for c in cats if c != spec.negative), None) if len(cats) == 2 else None
        for comparison in variable.comparisons:
            rows = [[value_of.get((u, r)) for r in comparison.raters] for u in units]
            kept = [i for i, row in enumerate(rows) if any(v is not None for v in row)]
            rows = [rows[i] for i in kept]
            clusters = [cluster_of[units[i]] for i in kept]
            for summary in comparison.statistics:
                alone = _alone(summary.name, rows, cats, clusters, positive)
                boot = alone.ci(method="bootstrap", n_boot=300, seed=5)
                pairs = [
                    (summary.value, alone.value),
                    (summary.se, alone.se),
                    *zip(summary.ci_analytic, alone.ci(), strict=True),
                    *zip(summary.ci_bootstrap, boot, strict=True),
                ]
                assert all(_close(ours, theirs) for ours, theirs in pairs), (name, comparison.label, summary.name)
                checked.add(summary.name)
    assert checked == {
        "percent_agreement",
        "cohen_kappa",
        "weighted_kappa_linear",
        "weighted_kappa_quadratic",
        "gwet_ac1",
        "gwet_ac2_quadratic",
        "pabak",
        "brennan_prediger",
        "positive_agreement",
        "negative_agreement",
        "fleiss_kappa",
        "fleiss_kappa_quadratic",
        "conger_kappa",
        "conger_kappa_quadratic",
        "krippendorff_alpha_nominal",
        "krippendorff_alpha_ordinal",
    }
