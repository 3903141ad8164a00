"""Property-based cross-checks against statsmodels, scikit-learn, krippendorff and irrCAC on random data.

Each peer is run the way its documentation says; where a peer is wrong or undefined, a test below
documents the difference instead of hiding it.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grading.agreement import (
    Level,
    cohen_kappa,
    confusion_matrix,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    pabak,
    percent_agreement,
)
from grading.agreement.statistics import _distances

pd = pytest.importorskip("pandas", reason="pandas not installed")
sklearn_metrics = pytest.importorskip("sklearn.metrics", reason="scikit-learn not installed")
inter_rater = pytest.importorskip("statsmodels.stats.inter_rater", reason="statsmodels not installed")
krippendorff = pytest.importorskip("krippendorff", reason="krippendorff not installed")
irr_raw = pytest.importorskip("irrCAC.raw", reason="irrCAC not installed")

TOL = 1e-9
"""Agreement required with a peer that is right; standard errors are compared as variances."""
PEER_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def coded_ratings(
    draw: st.DrawFn, min_raters: int = 2, max_raters: int = 5, missing: bool = True
) -> tuple[np.ndarray, int]:
    """A units × raters matrix of category codes 0..q-1, with -1 for a missing rating."""
    q = draw(st.integers(2, 5))
    n_raters = draw(st.integers(min_raters, max_raters))
    n_units = draw(st.integers(4, 30))
    low = -1 if missing else 0
    codes = draw(hnp.arrays(np.int64, (n_units, n_raters), elements=st.integers(low, q - 1)))
    return codes, q


def with_nan(codes: np.ndarray) -> np.ndarray:
    """The float form peers read: NaN for missing."""
    return np.where(codes < 0, np.nan, codes.astype(float))


def irr(codes: np.ndarray, q: int, weights: object = "identity") -> object:
    """irrCAC's CAC on the same data, with the full scale and unrounded output."""
    frame = pd.DataFrame(with_nan(codes))
    return irr_raw.CAC(frame, weights=weights, categories=list(range(q)), digits=15)


def enough_pairs(codes: np.ndarray) -> bool:
    """At least two units rated twice (the peers' variance formulas divide by n - 1)."""
    return int(((codes >= 0).sum(axis=1) >= 2).sum()) >= 2


# --- Cohen's kappa ---------------------------------------------------------------------------------


@PEER_SETTINGS
@given(coded_ratings(2, 2, missing=False), st.sampled_from([None, "linear", "quadratic"]))
def test_cohen_matches_sklearn(data: tuple[np.ndarray, int], weights: str | None) -> None:
    codes, q = data
    ours = cohen_kappa(codes, weights=weights, categories=list(range(q)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = sklearn_metrics.cohen_kappa_score(codes[:, 0], codes[:, 1], labels=list(range(q)), weights=weights)
    if ours.defined:
        assert ours.value == pytest.approx(peer, abs=TOL)
    else:
        assert math.isnan(peer)


@PEER_SETTINGS
@given(coded_ratings(2, 2, missing=True), st.sampled_from([None, "linear", "quadratic"]))
def test_cohen_and_fce_se_match_statsmodels(data: tuple[np.ndarray, int], weights: str | None) -> None:
    codes, q = data
    ours = cohen_kappa(with_nan(codes), weights=weights, categories=list(range(q)))
    assume(ours.defined and ours.n_units >= 2)
    table = confusion_matrix(with_nan(codes), categories=list(range(q)))
    if weights is None:
        peer = inter_rater.cohens_kappa(table)
    else:
        peer = inter_rater.cohens_kappa(table, weights=np.arange(q), wt=weights)
    assert ours.value == pytest.approx(peer.kappa, abs=TOL)
    # Compare variances: where the true variance is 0, both sides hold rounding noise near 1e-14
    # and its square root (~1e-7) would differ far beyond the tolerance.
    assert ours.se**2 == pytest.approx(max(peer.var_kappa, 0.0), abs=TOL)


# --- Fleiss' kappa ---------------------------------------------------------------------------------


@PEER_SETTINGS
@given(coded_ratings(2, 6, missing=False))
def test_fleiss_matches_statsmodels_on_complete_data(data: tuple[np.ndarray, int]) -> None:
    codes, q = data
    ours = fleiss_kappa(codes, categories=list(range(q)))
    table, _ = inter_rater.aggregate_raters(codes, n_cat=q)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = inter_rater.fleiss_kappa(table)
    if ours.defined:
        assert ours.value == pytest.approx(peer, abs=TOL)
    else:
        assert math.isnan(peer)


@PEER_SETTINGS
@given(coded_ratings(2, 5, missing=True))
def test_multirater_family_matches_irrcac_with_missing(data: tuple[np.ndarray, int]) -> None:
    codes, q = data
    assume(enough_pairs(codes))
    peer = irr(codes, q)
    cats = list(range(q))
    for ours, method in (
        (fleiss_kappa(with_nan(codes), categories=cats), "fleiss"),
        (gwet_ac1(with_nan(codes), categories=cats), "gwet"),
        (pabak(with_nan(codes), categories=cats), "bp"),
    ):
        if not ours.defined:
            continue
        est = getattr(peer, method)()["est"]
        assert ours.value == pytest.approx(est["coefficient_value"], abs=TOL), method
        assert ours.se**2 == pytest.approx(est["se"] ** 2, abs=TOL), method
        assert ours.p_observed == pytest.approx(est["pa"], abs=TOL), method


@PEER_SETTINGS
@given(coded_ratings(2, 5, missing=True))
def test_percent_agreement_matches_irrcac(data: tuple[np.ndarray, int]) -> None:
    codes, q = data
    assume(enough_pairs(codes))
    ours = percent_agreement(with_nan(codes), categories=list(range(q)))
    assert ours.value == pytest.approx(irr(codes, q).bp()["est"]["pa"], abs=TOL)


@PEER_SETTINGS
@given(coded_ratings(2, 5, missing=True), st.sampled_from(["linear", "quadratic"]))
def test_ac2_matches_irrcac(data: tuple[np.ndarray, int], weights: str) -> None:
    codes, q = data
    assume(enough_pairs(codes))
    ours = gwet_ac1(with_nan(codes), weights=weights, categories=list(range(q)))
    assume(ours.defined)
    est = irr(codes, q, weights).gwet()["est"]
    assert ours.value == pytest.approx(est["coefficient_value"], abs=TOL)
    assert ours.se**2 == pytest.approx(est["se"] ** 2, abs=TOL)


# --- Krippendorff's alpha --------------------------------------------------------------------------


@PEER_SETTINGS
@given(coded_ratings(2, 5, missing=True), st.sampled_from(["nominal", "ordinal"]))
def test_alpha_matches_krippendorff_package(data: tuple[np.ndarray, int], level: str) -> None:
    codes, q = data
    ours = krippendorff_alpha(with_nan(codes), level=level, categories=list(range(q)))
    assume(ours.defined)
    peer = krippendorff.alpha(with_nan(codes).T, value_domain=list(range(q)), level_of_measurement=level)
    assert ours.value == pytest.approx(peer, abs=TOL)


@PEER_SETTINGS
@given(coded_ratings(2, 5, missing=True), st.sampled_from(["nominal", "ordinal"]))
def test_alpha_and_se_match_irrcac(data: tuple[np.ndarray, int], level: str) -> None:
    codes, q = data
    ours = krippendorff_alpha(with_nan(codes), level=level, categories=list(range(q)))
    assume(ours.defined and ours.n_units >= 2)
    # irrCAC takes agreement weights; Krippendorff's ordinal distances depend on the value
    # frequencies, so hand it 1 - δ²/max δ² from the same coincidence margins.
    counts = np.stack([(codes == k).sum(axis=1) for k in range(q)], axis=1).astype(float)
    m = counts.sum(axis=1)
    pairable = counts[m >= 2]
    n_c = pairable.sum(axis=0)  # the coincidence matrix's margins are the pairable values' counts
    delta = _distances(Level(level), n_c[None, :])[0]
    est = irr(codes, q, 1 - delta / delta.max()).krippendorff()["est"]
    assert ours.value == pytest.approx(est["coefficient_value"], abs=TOL)
    assert ours.se**2 == pytest.approx(est["se"] ** 2, abs=TOL)


# --- where the peers are wrong or undefined ----------------------------------------------------------


def test_unused_category_changes_weighted_kappa_and_sklearn_drops_it_without_labels() -> None:
    # Scale 0..3, category 2 never used. sklearn without ``labels`` computes linear weights on the
    # observed labels [0, 1, 3] as if they were adjacent; with ``labels`` it agrees with us.
    a = np.array([0, 0, 1, 1, 3, 3, 1, 0])
    b = np.array([0, 1, 1, 3, 3, 3, 0, 0])
    full = cohen_kappa(np.c_[a, b], "linear", categories=[0, 1, 2, 3]).value
    dropped = sklearn_metrics.cohen_kappa_score(a, b, weights="linear")
    assert full == pytest.approx(sklearn_metrics.cohen_kappa_score(a, b, weights="linear", labels=[0, 1, 2, 3]))
    assert full == pytest.approx(0.627907, abs=1e-6)
    assert dropped == pytest.approx(0.586207, abs=1e-6)
    # Without categories= the scale is the observed labels, which is what sklearn assumes.
    assert cohen_kappa(np.c_[a, b], "linear").value == pytest.approx(dropped, abs=TOL)


def test_irrcac_weights_on_values_not_positions() -> None:
    # irrCAC builds linear/quadratic weights from numeric category *values* (1, 2, 5): the gap 2→5
    # counts three steps. Ours are on positions (docs/contract.md#python-api), equal to irrCAC on relabelled 0, 1, 2.
    codes = np.array([[1, 1], [1, 2], [2, 2], [1, 2], [5, 5], [5, 5], [2, 1], [2, 2]])
    ours = gwet_ac1(codes, weights="quadratic", categories=[1, 2, 5]).value
    on_values = irr_raw.CAC(pd.DataFrame(codes.astype(float)), weights="quadratic", digits=15).gwet()["est"]
    relabelled = np.vectorize({1: 0, 2: 1, 5: 2}.get)(codes)
    on_positions = irr(relabelled, 3, "quadratic").gwet()["est"]
    assert ours == pytest.approx(on_positions["coefficient_value"], abs=TOL)
    assert ours != pytest.approx(on_values["coefficient_value"], abs=1e-3)


def test_single_category_table_peers_disagree_ours_is_nan_with_reason() -> None:
    # Every rating is category 1. Kappa-type statistics are 0/0 here.
    same = np.ones((10, 2), dtype=int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert math.isnan(sklearn_metrics.cohen_kappa_score(same[:, 0], same[:, 1]))
        assert math.isnan(inter_rater.fleiss_kappa(inter_rater.aggregate_raters(same)[0]))
        peer = irr_raw.CAC(pd.DataFrame(same.astype(float)), digits=15)
        # irrCAC: AC1 and Brennan–Prediger come out as 1.0; Fleiss divides by zero; alpha is 1.0 up
        # to irrCAC 0.4.3 and divides by zero from 0.4.4 on.
        assert peer.gwet()["est"]["coefficient_value"] == 1.0
        assert peer.bp()["est"]["coefficient_value"] == 1.0
        try:
            alpha = peer.krippendorff()["est"]["coefficient_value"]
        except ZeroDivisionError:
            alpha = None
        assert alpha in (1.0, None)
        with pytest.raises(ZeroDivisionError):
            peer.fleiss()
    with pytest.raises(ValueError, match="more than one value"):
        krippendorff.alpha(same.T.astype(float), level_of_measurement="nominal")
    for result in (
        cohen_kappa(same),
        fleiss_kappa(same),
        krippendorff_alpha(same),
        gwet_ac1(same),
        pabak(same),
    ):
        assert math.isnan(result.value)
        assert result.reason is not None and "1" in result.reason
