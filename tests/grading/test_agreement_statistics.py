"""Behaviour of grading.agreement: input validation, undefined values, categories, CIs and the bootstrap."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grading.agreement import (
    AgreementInputError,
    AgreementResult,
    LandisKoch,
    cohen_kappa,
    confusion_matrix,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    landis_koch,
    pabak,
    parse_ratings,
    percent_agreement,
    prevalence,
)
from grading.errors import GradingError

ALL_STATISTICS: list[Callable[..., AgreementResult]] = [
    percent_agreement,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    gwet_ac1,
    pabak,
]

TWO_RATERS = [["I", "I"], ["none", "none"], ["II", "I"], ["none", "I"], ["II", "II"], ["none", "none"]]


# --- input validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratings", "categories", "message"),
    [
        # a label outside the given scale names the value, its place and the allowed ones
        (
            [["A", "B"], ["A", "E"]],
            ["A", "B", "C", "D"],
            r"rating 'E' at unit 1, rater 1 is not a category; allowed: \['A'",
        ),
        # ragged rows
        ([["A", "B"], ["A"]], None, r"unit 1 has 1 ratings but unit 0 has 2"),
        # bools are not labels
        ([[True, False]], None, r"rating True at unit 0, rater 0 is a bool"),
        # non-integral floats are not labels
        (np.array([[1.0, 2.5]]), None, r"rating 2.5 at unit 0, rater 1 is not a category label"),
        # mixed label kinds cannot be ordered
        ([["A", 1]], None, r"mix str and int labels \('A' and 1\)"),
        # duplicate category
        ([["A", "B"]], ["A", "B", "A"], r"category 'A' appears twice"),
        # empty category list
        ([["A", "B"]], [], r"categories is empty"),
        # a unit that is not a row
        (["AB"], None, r"unit 0 is 'AB', not a sequence"),
        # an int array has no missing code: -1 is a rating outside the scale
        (np.array([[0, -1]]), [0, 1], r"rating -1 at unit 0, rater 1 is not a category; allowed: \[0, 1\]"),
        # a 3-D array
        (np.zeros((2, 2, 2)), None, r"must be 2-D"),
        # an int label against str categories
        ([[1, 2]], ["1", "2"], r"rating 1 at unit 0, rater 0 is not a category; allowed: \['1', '2'\]"),
    ],
)
def test_bad_ratings_are_refused_with_the_value(ratings: object, categories: list[object] | None, message: str) -> None:
    with pytest.raises(AgreementInputError, match=message):
        parse_ratings(ratings, categories)


def test_errors_belong_to_the_grading_family() -> None:
    with pytest.raises(GradingError):
        fleiss_kappa("not a matrix")


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ("cubic", r"weights 'cubic' is unknown; allowed: None, 'linear', 'quadratic' or a 3×3"),  # unknown name
        (np.eye(2), r"weights matrix has shape \(2, 2\) but there are 3 categories"),  # wrong size
        (np.full((3, 3), 2.0), r"entries must lie in \[0, 1\]"),  # out of range
        (np.zeros((3, 3)), r"diagonal must be 1"),  # diagonal not full agreement
    ],
)
def test_bad_weights_are_refused(weights: object, message: str) -> None:
    with pytest.raises(AgreementInputError, match=message):
        cohen_kappa([[0, 1], [2, 2]], weights=weights, categories=[0, 1, 2])


def test_cohen_needs_two_raters() -> None:
    with pytest.raises(AgreementInputError, match="cohen_kappa needs exactly 2 raters \\(columns\\), got 3"):
        cohen_kappa([[1, 1, 1], [2, 2, 1]])


def test_bad_level_and_ci_arguments() -> None:
    with pytest.raises(AgreementInputError, match="level 'interval' is unknown; allowed: 'nominal', 'ordinal'"):
        krippendorff_alpha(TWO_RATERS, level="interval")
    result = cohen_kappa(TWO_RATERS)
    with pytest.raises(AgreementInputError, match="confidence level 95 is out of range"):
        result.ci(95)
    with pytest.raises(AgreementInputError, match="ci method 'jackknife' is unknown; allowed: 'analytic', 'bootstrap'"):
        result.ci(method="jackknife")
    with pytest.raises(AgreementInputError, match="n_boot 0 must be a positive integer"):
        result.ci(method="bootstrap", n_boot=0)


def test_bad_clusters_are_refused() -> None:
    with pytest.raises(AgreementInputError, match="clusters has 2 labels but ratings have 6 units"):
        cohen_kappa(TWO_RATERS, clusters=["p1", "p2"])
    with pytest.raises(AgreementInputError, match="cluster of unit 1 is missing"):
        cohen_kappa(TWO_RATERS, clusters=["p1", None, "p2", "p2", "p3", "p3"])


# --- input forms ---------------------------------------------------------------------------------


def test_none_nan_and_float_labels_are_the_same_data() -> None:
    with_none = [[1, 2], [2, 2], [None, 1], [3, 3], [1, 1]]
    with_nan = np.array([[1.0, 2.0], [2.0, 2.0], [np.nan, 1.0], [3.0, 3.0], [1.0, 1.0]])
    as_ints = np.array([[1, 2], [2, 2], [3, 3], [1, 1]])
    for function in (fleiss_kappa, gwet_ac1, krippendorff_alpha, percent_agreement, pabak):
        assert function(with_none).value == pytest.approx(function(with_nan).value, abs=1e-15)
    assert cohen_kappa(with_none).value == pytest.approx(cohen_kappa(as_ints).value, abs=1e-15)
    assert cohen_kappa(with_none).n_units == 4


def test_missing_ratings_never_become_a_category() -> None:
    ratings = [["A", None], ["B", "B"], [None, "A"], ["A", "A"]]
    assert parse_ratings(ratings).categories == ("A", "B")
    assert prevalence(ratings) == pytest.approx({"A": 4 / 6, "B": 2 / 6})


# --- categories: the full scale, unused categories kept ---------------------------------------------


def test_unused_category_stays_on_the_scale_for_weighted_kappa() -> None:
    # Size none < A < B < C < D; nobody used C. Linear weights are on positions of the full scale.
    ratings = [["none", "none"], ["A", "B"], ["B", "D"], ["D", "D"], ["none", "A"], ["B", "B"]]
    scale = ["none", "A", "B", "C", "D"]
    full = cohen_kappa(ratings, "linear", categories=scale)
    observed = cohen_kappa(ratings, "linear", categories=["none", "A", "B", "D"])
    assert full.categories == tuple(scale)
    assert full.value != pytest.approx(observed.value, abs=1e-6)
    # by hand: B vs D is 2 of 4 steps apart on the full scale, so weight 0.5
    w = 1 - np.abs(np.subtract.outer(np.arange(5), np.arange(5))) / 4
    table = confusion_matrix(ratings, categories=scale) / 6
    po, pe = (w * table).sum(), table.sum(1) @ w @ table.sum(0)
    assert full.value == pytest.approx((po - pe) / (1 - pe), abs=1e-12)


def test_unused_category_changes_pabak_through_q() -> None:
    # Brennan–Prediger chance agreement is 1/q: the declared scale matters.
    ratings = [["yes", "yes"], ["no", "no"], ["no", "yes"], ["no", "no"]]
    assert pabak(ratings).value == pytest.approx(2 * 0.75 - 1)
    assert pabak(ratings, categories=["yes", "no", "unsure"]).value == pytest.approx((0.75 - 1 / 3) / (2 / 3))


def test_prevalence_keeps_unused_categories() -> None:
    assert prevalence([["I", "none"], ["none", "none"]], categories=["none", "I", "II"]) == {
        "none": 0.75,
        "I": 0.25,
        "II": 0.0,
    }


# --- undefined values: NaN with a reason, never an exception, never 1.0 -------------------------------


@pytest.mark.parametrize("function", ALL_STATISTICS)
def test_single_category_table(function: Callable[..., AgreementResult]) -> None:
    # Every rating is "none" and the scale is the observed labels: only percent agreement is defined.
    result = function([["none", "none"]] * 8)
    if function is percent_agreement:
        assert result.value == 1.0
        return
    assert math.isnan(result.value)
    assert result.reason is not None and "'none'" in result.reason
    assert result.ci() == (math.nan, math.nan) or all(math.isnan(x) for x in result.ci())
    assert all(math.isnan(x) for x in result.ci(method="bootstrap", n_boot=50))
    assert result.landis_koch is LandisKoch.UNDEFINED


@pytest.mark.parametrize(
    ("function", "value"),
    [
        (cohen_kappa, math.nan),  # kappa: chance agreement 1, undefined
        (fleiss_kappa, math.nan),  # same for Fleiss
        (krippendorff_alpha, math.nan),  # no disagreement is possible by chance: undefined
        (gwet_ac1, 1.0),  # AC1 chance agreement is 0 on a declared 2-category scale (Gwet 2008)
        (pabak, 1.0),  # free-marginal chance agreement is 1/2
    ],
)
def test_single_used_category_on_a_declared_scale(function: Callable[..., AgreementResult], value: float) -> None:
    result = function([["none", "none"]] * 8, categories=["none", "present"])
    if math.isnan(value):
        assert math.isnan(result.value) and result.reason
    else:
        assert result.value == value and result.reason is None


@pytest.mark.parametrize("function", ALL_STATISTICS)
def test_no_pairs_is_undefined(function: Callable[..., AgreementResult]) -> None:
    result = function([["A", None], [None, "B"]])
    assert math.isnan(result.value)
    assert result.reason is not None and "no unit" in result.reason


@pytest.mark.parametrize("function", ALL_STATISTICS)
def test_empty_matrix_is_undefined(function: Callable[..., AgreementResult]) -> None:
    result = function(np.empty((0, 2)))
    assert math.isnan(result.value)
    assert result.n_units == 0


# --- results ---------------------------------------------------------------------------------------


def test_result_is_frozen_and_summarises_itself() -> None:
    result = cohen_kappa(TWO_RATERS)
    with pytest.raises(AttributeError):
        result.value = 1.0  # type: ignore[misc]
    summary = result.to_mapping()
    assert summary["statistic"] == "cohen_kappa"
    assert summary["n_units"] == 6 and summary["n_raters"] == 2
    assert summary["landis_koch"] == result.landis_koch.value


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (-0.1, LandisKoch.POOR),  # below 0
        (0.0, LandisKoch.SLIGHT),  # 0.00–0.20
        (0.20, LandisKoch.SLIGHT),  # upper limit inclusive
        (0.21, LandisKoch.FAIR),  # 0.21–0.40
        (0.55, LandisKoch.MODERATE),  # 0.41–0.60
        (0.80, LandisKoch.SUBSTANTIAL),  # 0.61–0.80
        (0.81, LandisKoch.ALMOST_PERFECT),  # 0.81–1.00
        (math.nan, LandisKoch.UNDEFINED),  # undefined statistic
    ],
)
def test_landis_koch_bands(value: float, band: LandisKoch) -> None:
    assert landis_koch(value) is band


def test_analytic_ci_is_value_plus_minus_z_se() -> None:
    result = fleiss_kappa([[1, 1, 2], [2, 2, 2], [1, 2, 1], [3, 3, 3], [1, 1, 1], [2, 3, 3]])
    low, high = result.ci(0.90)
    assert (high - low) / 2 == pytest.approx(1.6448536269514722 * result.se, abs=1e-12)
    assert (low + high) / 2 == pytest.approx(result.value, abs=1e-12)


# --- the cluster bootstrap -------------------------------------------------------------------------


def _random_study(seed: int, patients: int = 12, endplates: int = 11) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, size=(patients, endplates))
    noise = rng.random((patients, endplates, 2)) < 0.2
    ratings = np.where(noise, rng.integers(0, 3, size=(patients, endplates, 2)), truth[:, :, None])
    clusters = [f"p{p}" for p in range(patients) for _ in range(endplates)]
    return ratings.reshape(-1, 2), clusters


@pytest.mark.parametrize(
    ("function", "kwargs"),
    [
        (cohen_kappa, {}),  # table-based statistic
        (cohen_kappa, {"weights": "quadratic"}),  # weighted table statistic
        (fleiss_kappa, {}),  # multi-rater family, Fleiss chance
        (gwet_ac1, {"weights": "linear"}),  # multi-rater family, Gwet chance, AC2
        (pabak, {}),  # multi-rater family, uniform chance
        (percent_agreement, {}),  # no chance correction
        (krippendorff_alpha, {"level": "ordinal"}),  # coincidence-matrix statistic
    ],
)
def test_vectorised_bootstrap_equals_recomputing_each_resample(
    function: Callable[..., AgreementResult], kwargs: dict[str, object]
) -> None:
    # Replicate b is the statistic on the patients drawn in resample b (same generator, same draws).
    ratings, clusters = _random_study(7)
    result = function(ratings, clusters=clusters, categories=[0, 1, 2], **kwargs)
    replicates = result.bootstrap(n_boot=25, seed=3)
    draws = np.random.default_rng(3).integers(0, 12, size=(25, 12))
    by_patient = ratings.reshape(12, 11, 2)
    for b in range(25):
        resample = by_patient[draws[b]].reshape(-1, 2)
        expected = function(resample, categories=[0, 1, 2], **kwargs).value
        assert replicates[b] == pytest.approx(expected, abs=1e-12, nan_ok=True)


def test_bootstrap_is_seeded() -> None:
    ratings, clusters = _random_study(1)
    result = cohen_kappa(ratings, clusters=clusters)
    assert result.ci(method="bootstrap", seed=5) == result.ci(method="bootstrap", seed=5)
    assert result.ci(method="bootstrap", seed=5) != result.ci(method="bootstrap", seed=6)
    assert result.n_clusters == 12


def test_cluster_bootstrap_is_wider_when_units_repeat_within_patients() -> None:
    # Each patient's 11 endplates carry the same ratings: 11 copies of one observation. Resampling
    # endplates as if independent understates the uncertainty; resampling patients does not.
    rng = np.random.default_rng(11)
    per_patient = np.where(rng.random((40, 2)) < 0.8, 1, 0)
    ratings = np.repeat(per_patient, 11, axis=0)
    clusters = np.repeat(np.arange(40), 11).tolist()
    by_unit = cohen_kappa(ratings).ci(method="bootstrap", n_boot=2000, seed=1)
    by_patient = cohen_kappa(ratings, clusters=clusters).ci(method="bootstrap", n_boot=2000, seed=1)
    assert (by_patient[1] - by_patient[0]) > 2.5 * (by_unit[1] - by_unit[0])


@pytest.mark.parametrize("function", ALL_STATISTICS)
@pytest.mark.parametrize(
    "categories",
    [
        None,  # scale from the observed values
        [-3, 0, 1, 2, 5, 9],  # a wider declared scale with unused values
    ],
)
def test_integer_fast_path_equals_the_general_path(
    function: Callable[..., AgreementResult], categories: list[int] | None
) -> None:
    rng = np.random.default_rng(4)
    ints = rng.choice([0, 2, 5, 9], size=(40, 2))
    as_objects = ints.astype(object)  # the same data through the per-label parser
    fast = function(ints, categories=categories)
    slow = function(as_objects, categories=categories)
    assert fast.categories == slow.categories
    assert fast.value == pytest.approx(slow.value, abs=1e-15)
    assert fast.se == pytest.approx(slow.se, abs=1e-15)
    assert fast.bootstrap(20, 1) == pytest.approx(slow.bootstrap(20, 1), abs=1e-15)


def test_integer_fast_path_refuses_a_value_off_the_scale() -> None:
    with pytest.raises(AgreementInputError, match=r"rating 7 at unit 1, rater 0 is not a category; allowed: \[1, 2\]"):
        fleiss_kappa(np.array([[1, 2], [7, 1]]), categories=[1, 2])
    with pytest.raises(AgreementInputError, match=r"rating 7 at unit 1, rater 0 is not a category"):
        cohen_kappa(np.array([[1, 2], [7, 1]]), categories=[1, 2])


def test_bootstrap_skips_clusters_without_usable_units() -> None:
    # Patient p0's units all miss a rating: Cohen's kappa never sees p0, so its bootstrap draws
    # among the 3 other patients only (a drawn empty cluster would bias the resamples).
    ratings = [[1, None], [None, 2], [1, 1], [2, 2], [1, 2], [2, 2], [1, 1], [2, 1]]
    clusters = ["p0", "p0", "p1", "p1", "p2", "p2", "p3", "p3"]
    result = cohen_kappa(ratings, clusters=clusters)
    assert result.n_clusters == 3
    draws = np.random.default_rng(9).integers(0, 3, size=(30, 3))
    pairs = np.array(ratings[2:], dtype=int).reshape(3, 2, 2)
    expected = [cohen_kappa(pairs[d].reshape(-1, 2)).value for d in draws]
    assert result.bootstrap(30, 9) == pytest.approx(expected, abs=1e-12, nan_ok=True)


# what each statistic keeps: units with at least this many ratings (Cohen: both raters)
_KEPT_AT_LEAST = {
    percent_agreement: 1,
    fleiss_kappa: 1,
    gwet_ac1: 1,
    pabak: 1,
    krippendorff_alpha: 2,
    cohen_kappa: 2,
}


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from(ALL_STATISTICS),
    st.integers(2, 4),
)
def test_cluster_bootstrap_equals_recomputation_with_missing_ratings(
    seed: int, function: Callable[..., AgreementResult], n_raters: int
) -> None:
    # Random ratings with missing values and uneven clusters: replicate b is the statistic on the units
    # of the clusters drawn in resample b, the draws being among the clusters that keep a usable unit.
    rng = np.random.default_rng(seed)
    if function is cohen_kappa:
        n_raters = 2
    n_units = int(rng.integers(6, 25))
    codes = rng.integers(0, 3, size=(n_units, n_raters)).astype(float)
    codes[rng.random(codes.shape) < 0.25] = np.nan
    clusters = [f"p{c}" for c in rng.integers(0, 6, size=n_units)]
    result = function(codes, categories=[0, 1, 2], clusters=clusters)
    present = (~np.isnan(codes)).sum(axis=1)
    kept = present >= (n_raters if function is cohen_kappa else _KEPT_AT_LEAST[function])
    usable = {c for c, k in zip(clusters, kept, strict=True) if k}
    order = [c for c in dict.fromkeys(clusters) if c in usable]  # clusters in order of first appearance
    replicates = result.bootstrap(15, 7)
    if not order:
        assert np.isnan(replicates).all()
        return
    assert result.n_clusters == len(order)
    draws = np.random.default_rng(7).integers(0, len(order), size=(15, len(order)))
    by_cluster = {c: codes[[i for i, x in enumerate(clusters) if x == c]] for c in order}
    for b in range(15):
        resample = np.concatenate([by_cluster[order[d]] for d in draws[b]])
        expected = function(resample, categories=[0, 1, 2]).value
        assert replicates[b] == pytest.approx(expected, abs=1e-10, nan_ok=True)
