"""Agreement on extension_pct (issue 10, item 4): ICC(A,1) with CI and Bland–Altman."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from grading.agreement import AgreementInputError
from grading.agreement.continuous import beta_cdf, bland_altman, f_quantile, icc_agreement, t_quantile

# Shrout & Fleiss (1979), Psychol Bull 86:420–428, Table 2: 6 targets × 4 judges. Table 3 gives the
# mean squares BMS 11.24, JMS 32.49, EMS 1.02 and ICC(2,1) = .29; pingouin 0.7.0 ``intraclass_corr``
# on the same data (ICC(A,1)) prints 0.2898, CI95 [0.02, 0.76].
SHROUT_FLEISS = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]


def test_icc_reproduces_shrout_fleiss_table_2() -> None:
    result = icc_agreement(SHROUT_FLEISS)
    assert (round(result.ms_rows, 2), round(result.ms_columns, 2), round(result.ms_error, 2)) == (11.24, 32.49, 1.02)
    assert round(result.value, 2) == 0.29
    assert round(result.value, 4) == 0.2898
    assert (round(result.ci[0], 2), round(result.ci[1], 2)) == (0.02, 0.76)


def test_icc_interval_is_mcgraw_wong_with_scipy_quantiles() -> None:
    # McGraw & Wong (1996), Psychol Methods 1:30–46, Table 7 case 2A, with scipy's F quantiles.
    data = np.random.default_rng(3).normal(size=(25, 1)) * 3 + np.random.default_rng(4).normal(size=(25, 3))
    data[:, 1] += 0.8  # a rater bias: absolute agreement is lower than consistency
    result = icc_agreement(data)
    n, k = data.shape
    msr, msc, mse, icc = result.ms_rows, result.ms_columns, result.ms_error, result.value
    a = k * icc / (n * (1 - icc))
    b = 1 + k * icc * (n - 1) / (n * (1 - icc))
    v = (a * msc + b * mse) ** 2 / ((a * msc) ** 2 / (k - 1) + (b * mse) ** 2 / ((n - 1) * (k - 1)))
    f1, f2 = stats.f.ppf(0.975, n - 1, v), stats.f.ppf(0.975, v, n - 1)
    low = n * (msr - f1 * mse) / (f1 * (k * msc + (k * n - k - n) * mse) + n * msr)
    high = n * (f2 * msr - mse) / (k * msc + (k * n - k - n) * mse + n * f2 * msr)
    assert result.ci == pytest.approx((low, high), abs=1e-9)


def test_icc_leaves_out_incomplete_units_and_refuses_bad_input() -> None:
    rows = [[*row[:2], None, row[3]] if i == 0 else row for i, row in enumerate(SHROUT_FLEISS)]
    result = icc_agreement(rows)
    assert (result.n_units, result.n_left_out) == (5, 1)
    assert math.isnan(icc_agreement([[1, 2], [None, 3]]).value)
    with pytest.raises(AgreementInputError, match="at least 2 raters"):
        icc_agreement([[1], [2]])
    with pytest.raises(AgreementInputError, match="units × raters matrix of numbers"):
        icc_agreement([["a", "b"]])


# Bland & Altman (1986), Lancet i:307–310, Table 1: peak expiratory flow (l/min) of 17 subjects, first
# measurement with the Wright and the mini Wright meter. Printed: mean difference (large minus mini)
# -2.1, SD 38.8, limits of agreement -79.7 to 75.5 (mean ± 2 SD, from the rounded -2.1 and 38.8).
WRIGHT = [494, 395, 516, 434, 476, 557, 413, 442, 650, 433, 417, 656, 267, 478, 178, 423, 427]
MINI = [512, 430, 520, 428, 500, 600, 364, 380, 658, 445, 432, 626, 260, 477, 259, 350, 451]


def test_bland_altman_reproduces_the_lancet_example() -> None:
    result = bland_altman(list(zip(MINI, WRIGHT, strict=True)))  # second column minus first
    assert round(result.bias, 1) == -2.1 and round(result.sd, 1) == 38.8
    assert round(result.bias, 4) == round(-36 / 17, 4)
    assert (round(result.bias - 2 * result.sd, 1), round(result.bias + 2 * result.sd, 1)) == (-79.6, 75.4)
    assert (result.lower, result.upper) == pytest.approx(
        (result.bias - 1.96 * result.sd, result.bias + 1.96 * result.sd)
    )
    differences = np.array(WRIGHT) - np.array(MINI)
    assert result.bias_ci == pytest.approx(
        stats.t.interval(0.95, 16, loc=differences.mean(), scale=stats.sem(differences)), abs=1e-8
    )


@pytest.mark.parametrize(("a", "b"), [(0.5, 0.5), (2.5, 7.1), (10.0, 3.0), (40.0, 40.0)])
def test_distribution_functions_equal_scipy(a: float, b: float) -> None:
    for x in (0.01, 0.3, 0.5, 0.9):
        assert beta_cdf(x, a, b) == pytest.approx(float(stats.beta.cdf(x, a, b)), abs=1e-12)
    assert f_quantile(0.975, a, b) == pytest.approx(float(stats.f.ppf(0.975, a, b)), rel=1e-9)
    # scipy's own t.ppf and sqrt(f.ppf(., 1, df)) differ by a few 1e-9
    assert t_quantile(0.975, b) == pytest.approx(float(stats.t.ppf(0.975, b)), rel=1e-8)
