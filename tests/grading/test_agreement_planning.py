"""Sample size for a kappa interval (Donner & Rotondi 2010, Int J Biostat 6(1):31).

Checked four ways:

- against the paper's Table 2 (one-sided lower limit, α = 0.05, prevalence 0.1/0.3/0.5 by 2–5 raters,
  four pairs κ0/κL): the 48 published sizes, read in a transcription of the table (the paper itself
  was not at hand), are reproduced cell for cell with the critical value as the paper printed it
  (2.71); with the exact quantile (2.7055) a size is never larger and at most one smaller;
- against the algorithm of the R package that implements the paper (kappaSize 1.2 by M. A. Rotondi,
  ``R/CIBinary.R``): its cell polynomials ``P0`` … ``P6`` for 2 to 6 raters, and its upward search for
  the sample size, both re-written here from that source;
- with two raters, against the large-sample variance of the intraclass kappa of Bloch & Kraemer
  (1989, Biometrics 45:269–287, eq. 3.4), ``Var = (1 − κ)/n · [(1 − κ)(1 − 2κ) + κ(2 − κ)/(2π(1 − π))]``,
  whose Wald sample size ``z² Var / h²`` the goodness-of-fit answer approaches for narrow intervals;
- by simulation: studies of the planned size drawn from the model give Fleiss' kappas whose spread
  (1.96 standard deviations) is the half-width asked for, within 10 %.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from grading.agreement import AgreementInputError, fleiss_kappa
from grading.agreement.planning import Interval, cell_probabilities, kappa_sample_size, patients_needed

# Donner A, Rotondi MA (2010), Int J Biostat 6(1):31, Table 2: patients needed for the expected lower
# limit κL of a one-sided 95 % interval of κ (α = 0.05). Each row: κ0, κL, then the sizes at prevalence
# 0.1, 0.3 and 0.5, each for 2, 3, 4 and 5 raters.
DONNER_ROTONDI_TABLE_2 = [
    (0.50, 0.40, [559, 373, 301, 255, 264, 146, 112, 95, 228, 120, 89, 76]),
    (0.60, 0.40, [140, 94, 76, 64, 66, 37, 28, 24, 57, 30, 23, 19]),
    (0.70, 0.60, [463, 311, 247, 207, 205, 124, 99, 87, 174, 102, 81, 73]),
    (0.80, 0.60, [116, 78, 62, 52, 52, 31, 25, 22, 44, 26, 21, 19]),
]
TABLE_2_CELLS = [(p, m) for p in (0.1, 0.3, 0.5) for m in (2, 3, 4, 5)]
TABLE_2_CRITICAL = 2.71
"""The chi-square critical value (1 df, upper 10 %) as the paper printed it and computed its tables with."""


def _kappasize_cells(r: float, p: float, raters: int) -> list[float]:
    """The cell probabilities as kappaSize 1.2 (R/CIBinary.R) writes them for 2 … 6 raters."""
    if raters == 2:
        return [(1 - p) ** 2 + r * p * (1 - p), 2 * (1 - r) * p * (1 - p), p**2 + r * p * (1 - p)]
    if raters == 3:
        return [
            (1 - p) ** 3 + p * r * ((1 - p) ** 2 + (1 - p)),
            3 * p * (1 - r) * (1 - p) ** 2,
            3 * p**2 * (1 - p) * (1 - r),
            p**3 + r * p * (1 - p**2),
        ]
    if raters == 4:
        return [
            p**4 - r * p**4 - 4 * p**3 + 4 * r * p**3 + 6 * p**2 - 6 * r * p**2 - 4 * p + 3 * r * p + 1,
            (4 * (1 - 3 * p - r + 3 * r * p + 3 * p**2 - 3 * r * p**2 - p**3 + r * p**3)) * p,
            -(6 * (-1 + r + 2 * p - 2 * r * p - p**2 + r * p**2)) * p**2,
            (4 * (1 - r - p + r * p)) * p**3,
            -(-(p**3) - r + r * p**3) * p,
        ]
    if raters == 5:
        return [
            -(p**5)
            + r * p**5
            + 5 * p**4
            - 5 * r * p**4
            + 10 * r * p**3
            - 10 * p**3
            - 10 * r * p**2
            + 10 * p**2
            + 4 * r * p
            - 5 * p
            + 1,
            -(5 * (-1 + 4 * p + r - 4 * r * p - 6 * p**2 + 6 * r * p**2 + 4 * p**3 - 4 * r * p**3 - p**4 + r * p**4))
            * p,
            (10 * (1 - r - 3 * p + 3 * r * p + 3 * p**2 - 3 * r * p**2 - p**3 + r * p**3)) * p**2,
            -(10 * (-1 + r + 2 * p - 2 * r * p - p**2 + r * p**2)) * p**3,
            (5 * (1 - r - p + r * p)) * p**4,
            -(-(p**4) - r + r * p**4) * p,
        ]
    return [
        p**6
        - r * p**6
        + 6 * r * p**5
        - 6 * p**5
        - 15 * r * p**4
        + 15 * p**4
        + 20 * r * p**3
        - 20 * p**3
        - 15 * r * p**2
        + 15 * p**2
        + 5 * r * p
        - 6 * p
        + 1,
        (
            6
            * (
                1
                - 5 * p
                - r
                + 5 * r * p
                + 10 * p**2
                - 10 * r * p**2
                - 10 * p**3
                + 10 * r * p**3
                + 5 * p**4
                - 5 * r * p**4
                - p**5
                + r * p**5
            )
        )
        * p,
        -(15 * (-1 + r + 4 * p - 4 * r * p - 6 * p**2 + 6 * r * p**2 + 4 * p**3 - 4 * r * p**3 - p**4 + r * p**4))
        * p**2,
        (20 * (1 - r - 3 * p + 3 * r * p + 3 * p**2 - 3 * r * p**2 - p**3 + r * p**3)) * p**3,
        -(15 * (-1 + r + 2 * p - 2 * r * p - p**2 + r * p**2)) * p**4,
        (6 * (1 - r - p + r * p)) * p**5,
        -(-(p**5) - r + r * p**5) * p,
    ]


@pytest.mark.parametrize("raters", [2, 3, 4, 5, 6])
@pytest.mark.parametrize(("kappa", "prevalence"), [(0.4, 0.3), (0.6, 0.1), (0.85, 0.25), (0.2, 0.5)])
def test_cell_probabilities_match_kappasize(raters: int, kappa: float, prevalence: float) -> None:
    ours = cell_probabilities(kappa, prevalence, raters)
    assert ours == pytest.approx(_kappasize_cells(kappa, prevalence, raters), abs=1e-12)
    assert sum(ours) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(("kappa0", "kappa_low", "published"), DONNER_ROTONDI_TABLE_2)
def test_the_published_table_is_reproduced_with_its_critical_value(
    kappa0: float, kappa_low: float, published: list[int]
) -> None:
    ours = [patients_needed(TABLE_2_CRITICAL, kappa0, (kappa_low,), p, m) for p, m in TABLE_2_CELLS]
    assert ours == published


@pytest.mark.parametrize(("kappa0", "kappa_low", "published"), DONNER_ROTONDI_TABLE_2)
def test_the_exact_quantile_is_at_most_one_patient_below_the_published_table(
    kappa0: float, kappa_low: float, published: list[int]
) -> None:
    for (p, m), table in zip(TABLE_2_CELLS, published, strict=True):
        plan = kappa_sample_size(kappa0, kappa0 - kappa_low, p, m, interval="lower")
        assert plan.kappa_low == pytest.approx(kappa_low)
        assert plan.kappa_high is None
        assert plan.chi2_critical == pytest.approx(2.705543454095404)
        assert table - 1 <= plan.n_patients <= table, (p, m)


def _kappasize_ci_binary(
    kappa0: float, kappa_low: float, kappa_high: float | None, props: float, raters: int, alpha: float
) -> int:
    """kappaSize 1.2 ``CIBinary`` as its source (``R/CIBinary.R``) computes it: ``ChiCrit`` is
    ``qchisq(1 - alpha, 1)`` for two limits and ``qchisq(1 - 2 * alpha, 1)`` for the lower limit alone;
    ``.CalcIT`` sums ``(n P(κ0) − n P(κ1))² / (n P(κ1))`` over the cells (``na.rm``, an infinite sum
    counting as 0); ``n`` starts at 10 and grows while ``|result − 0.001| < ChiCrit`` at either limit."""

    def chi_crit(q: float) -> float:
        return NormalDist().inv_cdf(0.5 + q / 2) ** 2

    def calc_it(rho1: float, n: int) -> float:
        pairs = zip(_kappasize_cells(kappa0, props, raters), _kappasize_cells(rho1, props, raters), strict=True)
        terms = [(n * a - n * b) ** 2 / (n * b) if b != 0 else (math.nan if a == b else math.inf) for a, b in pairs]
        total = sum(t for t in terms if not math.isnan(t))
        return 0.0 if math.isinf(total) else total

    crit = chi_crit(1 - alpha) if kappa_high is not None else chi_crit(1 - 2 * alpha)
    n, low, high = 10, 0.0, 0.0
    while abs(low - 0.001) < crit or (kappa_high is not None and abs(high - 0.001) < crit):
        n += 1
        low = calc_it(kappa_low, n)
        high = calc_it(kappa_high, n) if kappa_high is not None else high
    return n


KAPPASIZE_CASES = [
    # the example of kappaSize's manual page: CIBinary(kappa0=0.4, kappaL=0.3, kappaU=0.5, props=0.30)
    (0.4, 0.1, 0.30, 2, Interval.TWO_SIDED),
    (0.6, 0.1, 0.2, 3, Interval.TWO_SIDED),
    (0.7, 0.15, 0.1, 4, Interval.TWO_SIDED),
    (0.8, 0.1, 0.5, 5, Interval.TWO_SIDED),
    (0.5, 0.2, 0.25, 6, Interval.TWO_SIDED),
    (0.8, 0.2, 0.3, 3, Interval.LOWER),
    (0.6, 0.2, 0.1, 5, Interval.LOWER),
    (0.9, 0.05, 0.4, 6, Interval.LOWER),
    # kappaSize answers one more here (the statistic at 791 exceeds the critical value by less than 0.001)
    (0.4, 0.1, 0.1, 2, Interval.TWO_SIDED),
    # and 11 here, where the closed form answers 3
    (0.8, 0.5, 0.5, 6, Interval.LOWER),
]


@pytest.mark.parametrize(("kappa0", "half_width", "prevalence", "raters", "interval"), KAPPASIZE_CASES)
def test_the_kappasize_search_gives_the_closed_form_with_its_tolerance(
    kappa0: float, half_width: float, prevalence: float, raters: int, interval: Interval
) -> None:
    plan = kappa_sample_size(kappa0, half_width, prevalence, raters, interval=interval)
    high = plan.kappa_high
    theirs = _kappasize_ci_binary(kappa0, plan.kappa_low, high, prevalence, raters, alpha=0.05)
    limits = (plan.kappa_low,) if high is None else (plan.kappa_low, high)
    # the search stops at the first n ≥ 11 whose statistic exceeds the critical value by 0.001
    assert theirs == max(11, patients_needed(plan.chi2_critical + 0.001, kappa0, limits, prevalence, raters))
    assert plan.n_patients <= theirs <= max(11, plan.n_patients + 1)


@pytest.mark.parametrize(("kappa0", "prevalence"), [(0.4, 0.3), (0.6, 0.2), (0.8, 0.15)])
def test_two_raters_approach_the_bloch_kraemer_wald_size(kappa0: float, prevalence: float) -> None:
    half_width = 0.02
    variance = (1 - kappa0) * (
        (1 - kappa0) * (1 - 2 * kappa0) + kappa0 * (2 - kappa0) / (2 * prevalence * (1 - prevalence))
    )
    wald = 1.959963984540054**2 * variance / half_width**2
    plan = kappa_sample_size(kappa0, half_width, prevalence, raters=2)
    assert plan.n_patients == pytest.approx(wald, rel=0.06)


@pytest.mark.parametrize(("kappa0", "half_width", "prevalence", "raters"), [(0.6, 0.1, 0.3, 3), (0.7, 0.1, 0.25, 4)])
def test_a_study_of_the_planned_size_gives_the_interval_asked_for(
    kappa0: float, half_width: float, prevalence: float, raters: int
) -> None:
    n = kappa_sample_size(kappa0, half_width, prevalence, raters).n_patients
    rng = np.random.default_rng(7)
    values = []
    for _ in range(400):
        all_agree = rng.random(n) < kappa0
        truth = rng.random(n) < prevalence
        independent = rng.random((n, raters)) < prevalence
        ratings = np.where(all_agree[:, None], truth[:, None], independent).astype(int)
        values.append(fleiss_kappa(ratings).value)
    assert float(np.mean(values)) == pytest.approx(kappa0, abs=0.02)
    assert 1.959963984540054 * float(np.std(values)) == pytest.approx(half_width, rel=0.10)


def test_the_closed_form_and_its_trends() -> None:
    plan = kappa_sample_size(0.6, 0.1, 0.2, raters=3)
    assert (plan.kappa_low, plan.kappa_high) == pytest.approx((0.5, 0.7))
    assert plan.chi2_critical == pytest.approx(3.841458820694124)
    # the smallest n whose expected goodness-of-fit statistic reaches the critical value at the nearer limit
    assert plan.n_patients == 267
    assert kappa_sample_size(0.6, 0.1, 0.2, raters=2).n_patients > plan.n_patients
    assert kappa_sample_size(0.6, 0.1, 0.2, raters=4).n_patients < plan.n_patients
    assert kappa_sample_size(0.6, 0.15, 0.2, raters=3).n_patients < plan.n_patients
    assert kappa_sample_size(0.6, 0.1, 0.4, raters=3).n_patients < plan.n_patients
    # the size scales with the critical value: z² of 99 % over z² of 95 %
    stricter = kappa_sample_size(0.6, 0.1, 0.2, raters=3, level=0.99)
    assert stricter.n_patients == pytest.approx(plan.n_patients * stricter.chi2_critical / plan.chi2_critical, abs=1)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kappa0": 1.2}, "kappa0"),
        ({"half_width": 0.0}, "half_width"),
        ({"half_width": 0.7}, "half_width"),
        ({"half_width": 0.6, "interval": "lower"}, "half_width"),
        ({"interval": "upper"}, "interval"),
        ({"prevalence": 1.0}, "prevalence"),
        ({"raters": 1}, "raters"),
        ({"raters": True}, "raters"),
        ({"level": 95}, "level"),
    ],
)
def test_bad_values_are_refused_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    arguments: dict[str, object] = {"kappa0": 0.6, "half_width": 0.1, "prevalence": 0.2, "raters": 3, **kwargs}
    with pytest.raises(AgreementInputError) as caught:
        kappa_sample_size(**arguments)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert "allowed" in caught.value.message
