"""The fast paths of the agreement report give the results of the plain ones.

Rating columns instead of records, the bootstrap counted by rating pattern, distinct rows by a 1-D key,
the resample products in row blocks and the percentiles by partition (docs/agreement.md#confidence-intervals).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from grading.agreement import AgreementInputError, RatingColumns, build_report, cohen_kappa, gwet_ac1, parse_ratings
from grading.agreement.nordic_variables import add_nordic_ratings, nordic_records, nordic_specs
from grading.agreement.ratings import first_appearance_numbers
from grading.agreement.result import blocked_product, distinct_rows, percentiles
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
