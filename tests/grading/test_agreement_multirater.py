"""Multi-rater weighted statistics (issue 10, item 4): Conger's kappa and weighted Fleiss / AC2."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from grading.agreement import cohen_kappa, conger_kappa, fleiss_kappa, gwet_ac1

irr_raw = pytest.importorskip("irrCAC.raw", reason="irrCAC not installed")

# Gwet (2014), Handbook of Inter-Rater Reliability, 4th ed.: 4 raters × 12 units with missing ratings
# (irrCAC ``raw_4raters``). Printed (irrCAC documentation, conger on cac.raw4raters): Conger's kappa
# 0.76282, SE 0.14917, p_a 0.81818, p_e 0.23343.
GWET_4RATERS = [
    [1, 1, None, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2], [1, 2, 3, 4],
    [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [None, 5, 5, 5], [None, None, 1, 1], [None, None, 3, None],
]  # fmt: skip


def test_conger_reproduces_gwet_2014_four_raters() -> None:
    result = conger_kappa(GWET_4RATERS)
    assert round(result.value, 4) == 0.7628
    assert result.value == pytest.approx(0.76282, abs=5e-6)
    assert result.n_units == 11


def test_conger_with_two_raters_is_cohen() -> None:
    pairs = np.random.default_rng(4).integers(0, 4, size=(60, 2))
    assert conger_kappa(pairs).value == pytest.approx(cohen_kappa(pairs).value, abs=1e-12)
    assert conger_kappa(pairs, "quadratic").value == pytest.approx(cohen_kappa(pairs, "quadratic").value, abs=1e-12)


def _irrcac(codes: np.ndarray, weights: str) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return irr_raw.CAC(pd.DataFrame(codes), weights=weights, categories=[0, 1, 2, 3, 4], digits=15)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_weighted_multirater_statistics_match_irrcac(seed: int, weights: str | None) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 5, size=(40, 1))
    codes = np.where(rng.random((40, 5)) < 0.6, truth, rng.integers(0, 5, size=(40, 5))).astype(float)
    codes[rng.random(codes.shape) < 0.1] = np.nan
    scale = [0, 1, 2, 3, 4]
    peer = _irrcac(codes, weights or "identity")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        conger, fleiss, gwet = peer.conger()["est"], peer.fleiss()["est"], peer.gwet()["est"]  # type: ignore[attr-defined]
    assert conger_kappa(codes, weights, scale).value == pytest.approx(conger["coefficient_value"], abs=1e-12)
    ours_fleiss = fleiss_kappa(codes, scale, weights=weights)
    assert ours_fleiss.value == pytest.approx(fleiss["coefficient_value"], abs=1e-12)
    assert ours_fleiss.se == pytest.approx(fleiss["se"], abs=1e-12)
    assert gwet_ac1(codes, weights, scale).value == pytest.approx(gwet["coefficient_value"], abs=1e-12)


def test_conger_bootstrap_equals_recomputing_each_resample() -> None:
    rng = np.random.default_rng(8)
    codes = rng.integers(0, 3, size=(12 * 5, 3))
    clusters = [i // 5 for i in range(60)]
    result = conger_kappa(codes, "linear", clusters=clusters)
    replicates = result.bootstrap(15, seed=4)
    draws = np.random.default_rng(4).integers(0, 12, size=(15, 12))
    by_patient = codes.reshape(12, 5, 3)
    for b in range(15):
        resample = by_patient[draws[b]].reshape(-1, 3)
        assert replicates[b] == pytest.approx(conger_kappa(resample, "linear", [0, 1, 2]).value, abs=1e-12)
    assert result.statistic == "weighted_conger_kappa" and np.isnan(result.se)
