"""Honest intervals (issue 10, item 1): cluster-robust analytic SEs, Wilson for percent agreement, the
bootstrap's dropped resamples and the method named on every interval."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.stats.proportion import proportion_confint

from grading.agreement import (
    AgreementResult,
    cohen_kappa,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    pabak,
    percent_agreement,
)
from grading.agreement.result import wilson_interval
from grading.nordic import TYPE_LABELS

Z95 = 1.959963984540054


def modic_study(seed: int, prevalence: float, patients: int = 100, endplates: int = 11) -> tuple[np.ndarray, list[int]]:
    """Two reads of Modic type labels on ``patients`` × ``endplates``, changes clustered within patients.

    A patient's propensity is Beta-distributed with mean ``prevalence`` (Modic changes come several to a
    spine), one type per patient; a read misses on average 12 % of the changes and calls 3 % of the normal
    endplates changed, at rates that vary between patients (Beta), so disagreements cluster too.
    """
    rng = np.random.default_rng(seed)
    propensity = rng.beta(prevalence * 2, (1 - prevalence) * 2, size=patients)
    changed = rng.random((patients, endplates)) < propensity[:, None]
    kind = rng.choice(np.arange(1, 8), p=[0.3, 0.3, 0.05, 0.2, 0.05, 0.05, 0.05], size=(patients, 1))
    truth = np.where(changed, kind, 0)

    miss = rng.beta(0.6, 4.4, size=(patients, 1))  # hard spines: readers' errors cluster in patients
    invent = rng.beta(0.3, 9.7, size=(patients, 1))

    def read() -> np.ndarray:
        missed = (truth > 0) & (rng.random(truth.shape) < miss)
        invented = (truth == 0) & (rng.random(truth.shape) < invent)
        out = np.where(missed, 0, truth)
        return np.where(invented, rng.integers(1, 8, truth.shape), out).ravel()

    labels = np.array(TYPE_LABELS)
    ratings = np.column_stack([labels[read()], labels[read()]])
    return ratings, np.repeat(np.arange(patients), endplates).tolist()


def _presence(ratings: np.ndarray) -> np.ndarray:
    return np.where(ratings == "none", "absent", "present")


STATISTICS: list[tuple[str, Callable[[np.ndarray, list[int]], AgreementResult]]] = [
    ("presence cohen", lambda r, c: cohen_kappa(_presence(r), clusters=c)),
    ("type cohen", lambda r, c: cohen_kappa(r, categories=TYPE_LABELS, clusters=c)),
    ("presence ac1", lambda r, c: gwet_ac1(_presence(r), clusters=c)),
    ("presence percent agreement", lambda r, c: percent_agreement(_presence(r), clusters=c)),
    ("type fleiss", lambda r, c: fleiss_kappa(r, clusters=c)),
    ("type brennan-prediger", lambda r, c: pabak(r, categories=TYPE_LABELS, clusters=c)),
    ("presence alpha", lambda r, c: krippendorff_alpha(_presence(r), clusters=c)),
]


@pytest.mark.parametrize("prevalence", [0.1, 0.2, 0.3])
@pytest.mark.parametrize(("name", "statistic"), STATISTICS, ids=[n for n, _ in STATISTICS])
def test_clustered_analytic_width_is_within_15_percent_of_the_patient_bootstrap(
    name: str, statistic: Callable[[np.ndarray, list[int]], AgreementResult], prevalence: float
) -> None:
    ratings, clusters = modic_study(2026, prevalence)
    share = float((ratings != "none").mean())
    assert prevalence / 2 < share < 0.4  # Modic-shaped: a minority of endplates changed
    result = statistic(ratings, clusters)
    assert result.interval_method in ("analytic-clustered", "wilson-clustered")
    low, high = result.ci()
    boot = result.bootstrap_interval(0.95, n_boot=2000, seed=1)
    ratio = (high - low) / (boot.high - boot.low)
    assert 0.85 <= ratio <= 1.15, (name, ratio)


def test_the_unclustered_interval_is_too_narrow_on_the_same_data() -> None:
    ratings, clusters = modic_study(2026, 0.2)
    clustered = cohen_kappa(_presence(ratings), clusters=clusters)
    naive = cohen_kappa(_presence(ratings))
    assert naive.se_method == "analytic" and clustered.se_method == "analytic-clustered"
    assert clustered.se > 1.3 * naive.se


def test_each_unit_its_own_cluster_is_the_unclustered_formula() -> None:
    ratings, _ = modic_study(5, 0.2, patients=30)
    own = list(range(len(ratings)))
    for function in (cohen_kappa, fleiss_kappa, gwet_ac1, krippendorff_alpha):
        alone, plain = function(ratings, clusters=own), function(ratings)
        assert alone.se_method == "analytic"
        assert alone.se == pytest.approx(plain.se, rel=1e-12)


def test_clustered_kappa_se_is_the_sandwich_of_the_fleiss_cohen_everitt_influences() -> None:
    # Each patient carries two identical endplates: the cluster totals are twice the unit influences,
    # so the clustered SE is the Fleiss-Cohen-Everitt SE of one endplate per patient times sqrt(G/(G-1)).
    ratings, _ = modic_study(6, 0.2, patients=20)
    single = cohen_kappa(ratings, categories=TYPE_LABELS)
    doubled = np.repeat(ratings, 2, axis=0)
    same = cohen_kappa(doubled, categories=TYPE_LABELS, clusters=[i // 2 for i in range(len(doubled))])
    assert same.se_method == "analytic-clustered"
    assert same.value == pytest.approx(single.value, abs=1e-12)
    g = len(ratings)
    assert same.se == pytest.approx(single.se * np.sqrt(g / (g - 1)), rel=1e-10)


def test_clustered_percent_agreement_se_equals_statsmodels_cluster_robust_mean() -> None:
    # Two raters, every unit rated: percent agreement is the mean of the agreement indicators, and its
    # clustered SE is the cluster-robust SE of an intercept-only regression (statsmodels, CR1).
    ratings, clusters = modic_study(7, 0.25)
    agree = (ratings[:, 0] == ratings[:, 1]).astype(float)
    fit = sm.OLS(agree, np.ones((len(agree), 1))).fit(cov_type="cluster", cov_kwds={"groups": np.array(clusters)})
    result = percent_agreement(ratings, clusters=clusters)
    assert result.se == pytest.approx(float(fit.bse[0]), rel=1e-10)


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        # Newcombe (1998), Stat Med 17:857–872, Table I, method 3 (score, no continuity correction)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
        (29, 29, 0.8830, 1.0000),
    ],
)
def test_wilson_interval_reproduces_newcombe_table_1(successes: int, n: int, low: float, high: float) -> None:
    ours = wilson_interval(successes / n, n, Z95)
    assert ours == pytest.approx((low, high), abs=5e-5)
    assert ours == pytest.approx(proportion_confint(successes, n, method="wilson"), abs=1e-12)


def test_percent_agreement_interval_is_wilson_on_the_units() -> None:
    ratings = [["a", "a"]] * 81 + [["a", "b"]] * 182  # 81 agreements in 263 units
    result = percent_agreement(ratings)
    assert result.interval_method == "wilson"
    assert result.ci() == pytest.approx((0.2553, 0.3662), abs=5e-5)
    everyone = percent_agreement([["none", "none"]] * 20)
    assert everyone.ci()[1] == 1.0 and everyone.ci()[0] == pytest.approx(0.8389, abs=5e-5)


def test_bootstrap_reports_the_resamples_left_out() -> None:
    # One patient disagrees, the others rate everything "none": resamples without that patient have one
    # category, so kappa is undefined on them and they are dropped (and counted).
    ratings = [["none", "I"]] + [["none", "none"]] * 9
    result = cohen_kappa(ratings, clusters=list(range(10)))
    boot = result.bootstrap_interval(0.95, n_boot=1000, seed=0)
    replicates = result.bootstrap(1000, seed=0)
    assert boot.dropped == int(np.isnan(replicates).sum()) > 0
    assert boot.n_boot == 1000
