"""Prevalence, bias, specific agreement, McNemar and Bowker (issue 10, item 3), and band limits (item 2)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2
from statsmodels.stats.contingency_tables import SquareTable
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from grading.agreement import AgreementInputError, LandisKoch, cohen_kappa, landis_koch, pabak
from grading.agreement.binary import bowker, chi2_sf, mcnemar, prevalence_bias, specific_agreement


def _rows(table: list[list[int]], labels: list[str]) -> list[list[str]]:
    """Units from a table of counts: rows the first rater's label, columns the second's."""
    return [[labels[i], labels[j]] for i, row in enumerate(table) for j, n in enumerate(row) for _ in range(n)]


# Feinstein & Cicchetti (1990), J Clin Epidemiol 43:543–549, Table 2: two tables with p_o = 0.85;
# (a) a=40, b=9, c=6, d=45 has kappa 0.70, (b) a=80, b=10, c=5, d=5 has kappa 0.32. Byrt, Bishop & Carlin
# (1993) use the same pair to show the prevalence effect; Cicchetti & Feinstein (1990, J Clin Epidemiol
# 43:551–558) give p_pos and p_neg for them.
TABLE_A = _rows([[40, 9], [6, 45]], ["yes", "no"])
TABLE_B = _rows([[80, 10], [5, 5]], ["yes", "no"])


@pytest.mark.parametrize(
    ("ratings", "kappa", "pi", "bi", "p_pos", "p_neg"),
    [
        (TABLE_A, 0.6995, -0.0500, 0.0300, 80 / 95, 90 / 105),
        (TABLE_B, 0.3182, 0.7500, 0.0500, 160 / 175, 10 / 25),
    ],
)
def test_feinstein_cicchetti_tables(
    ratings: list[list[str]], kappa: float, pi: float, bi: float, p_pos: float, p_neg: float
) -> None:
    assert cohen_kappa(ratings).value == pytest.approx(kappa, abs=5e-5)
    indices = prevalence_bias(ratings, "yes")
    assert indices.prevalence_index == pytest.approx(pi, abs=5e-5)
    assert indices.bias_index == pytest.approx(bi, abs=5e-5)
    assert indices.pabak == pytest.approx(0.7000, abs=5e-5)  # p_o = 0.85 in both: PABAK 0.70
    assert pabak(ratings).value == pytest.approx(indices.pabak, abs=1e-12)
    assert specific_agreement(ratings, "yes").value == pytest.approx(p_pos, abs=1e-12)
    assert specific_agreement(ratings, "yes", negative=True).value == pytest.approx(p_neg, abs=1e-12)
    assert round(specific_agreement(ratings, "yes").value, 2) == {0.6995: 0.84, 0.3182: 0.91}[kappa]


def test_specific_agreement_se_is_graham_and_bull() -> None:
    # Graham & Bull (1998), J Clin Epidemiol 51:763–771: SE(p_pos) = sqrt(4a(b+c)(a+b+c)) / (2a+b+c)²
    a, b, c, d = 80, 10, 5, 5
    result = specific_agreement(TABLE_B, "yes")
    assert result.se == pytest.approx(np.sqrt(4 * a * (b + c) * (a + b + c)) / (2 * a + b + c) ** 2, rel=1e-12)
    negative = specific_agreement(TABLE_B, "yes", negative=True)
    assert negative.se == pytest.approx(np.sqrt(4 * d * (b + c) * (d + b + c)) / (2 * d + b + c) ** 2, rel=1e-12)
    low, high = result.ci()
    assert (high - low) / 2 == pytest.approx(1.959963984540054 * result.se, abs=1e-12)


def test_specific_agreement_bootstrap_and_clusters() -> None:
    clusters = [i // 4 for i in range(len(TABLE_A))]
    result = specific_agreement(TABLE_A, "yes", clusters=clusters)
    assert result.se_method == "analytic-clustered"
    replicates = result.bootstrap(20, seed=2)
    draws = np.random.default_rng(2).integers(0, 25, size=(20, 25))
    by_patient = np.array(TABLE_A).reshape(25, 4, 2)
    for b in range(20):
        resample = by_patient[draws[b]].reshape(-1, 2).tolist()
        assert replicates[b] == pytest.approx(specific_agreement(resample, "yes").value, abs=1e-12)


def test_specific_agreement_undefined_without_the_category() -> None:
    result = specific_agreement([["no", "no"]] * 5, "yes", categories=["no", "yes"])
    assert np.isnan(result.value) and "no unit is rated 'yes'" in (result.reason or "")
    with pytest.raises(AgreementInputError, match=r"positive category 'maybe' is not on the scale"):
        specific_agreement(TABLE_A, "maybe")
    with pytest.raises(AgreementInputError, match=r"needs a binary scale"):
        prevalence_bias([["a", "b"], ["c", "a"]], "a")


def test_mcnemar_reproduces_agresti_presidential_approval() -> None:
    # Agresti (2007), An Introduction to Categorical Data Analysis, 2nd ed., Table 8.1: approval of the
    # President in two surveys, 794 / 150 / 86 / 570; z² = (86 - 150)² / (86 + 150) = 17.36, P < 0.0001.
    ratings = _rows([[794, 150], [86, 570]], ["approve", "disapprove"])
    test = mcnemar(ratings)
    assert test.statistic == pytest.approx(17.3559, abs=5e-5)
    assert test.df == 1 and test.n_discordant == 236
    peer = sm_mcnemar([[794, 150], [86, 570]], exact=False, correction=False)
    assert test.statistic == pytest.approx(peer.statistic, rel=1e-12)
    assert test.p_value == pytest.approx(peer.pvalue, rel=1e-9)
    exact = sm_mcnemar([[794, 150], [86, 570]], exact=True)
    assert test.exact_p_value == pytest.approx(exact.pvalue, rel=1e-9)


def test_bowker_reproduces_the_sas_dermatologist_example() -> None:
    # SAS/STAT PROC FREQ documentation, "Agreement Study" example: two dermatologists rate 88 patients
    # (Terrible, Poor, Marginal, Clear). Printed: simple kappa 0.3449 (ASE 0.0724); test of symmetry
    # S = 4.5354, DF 6, Pr > S 0.6046.
    table = [[10, 4, 1, 0], [5, 10, 12, 2], [2, 4, 12, 5], [0, 2, 6, 13]]
    labels = ["terrible", "poor", "marginal", "clear"]
    ratings = _rows(table, labels)
    kappa = cohen_kappa(ratings, categories=labels)
    assert kappa.value == pytest.approx(0.3449, abs=5e-5)
    assert kappa.se == pytest.approx(0.0724, abs=5e-5)
    test = bowker(ratings, categories=labels)
    assert test.statistic == pytest.approx(4.5354, abs=5e-5)
    assert test.df == 6
    assert test.p_value == pytest.approx(0.6046, abs=5e-5)
    peer = SquareTable(np.array(table), shift_zeros=False).symmetry()
    assert test.statistic == pytest.approx(peer.statistic, rel=1e-12)
    assert test.p_value == pytest.approx(peer.pvalue, rel=1e-9)


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 6, 7, 10, 21, 28])
@pytest.mark.parametrize("x", [0.0, 0.3, 1.0, 3.84, 7.5, 17.36, 40.0])
def test_chi2_tail_equals_scipy(x: float, df: int) -> None:
    assert chi2_sf(x, df) == pytest.approx(float(chi2.sf(x, df)), rel=1e-9, abs=1e-15)


def test_kappa_on_a_band_limit_gets_the_lower_band() -> None:
    # The example: computed as 0.20000000000000018, kappa is 0.2, and 0.00–0.20 is "slight"
    # (Landis & Koch 1977, p. 165: the upper limits are inclusive).
    ratings = [list(pair) for pair in ["yy", "ny", "nn", "yy", "ny", "nn", "yn", "yy", "ny", "yy"]]
    kappa = cohen_kappa(ratings)
    assert kappa.value == pytest.approx(0.2, abs=1e-12)
    assert kappa.landis_koch is LandisKoch.SLIGHT
    assert landis_koch(0.4 + 3e-16) is LandisKoch.FAIR
    assert landis_koch(-1e-17) is LandisKoch.SLIGHT
    assert landis_koch(0.2001) is LandisKoch.FAIR
