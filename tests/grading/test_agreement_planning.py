"""Sample size for a kappa interval (Donner & Rotondi 2010, Int J Biostat 6(1):31).

The published tables of the paper were not at hand, so the method is checked three ways:

- its cell probabilities against the polynomials written out, rater number by rater number, in the R
  package that implements the paper (kappaSize 1.2 by M. A. Rotondi, ``R/CIBinary.R``, functions
  ``P0`` … ``P6`` for 2 to 6 raters), an independent expansion of the same model;
- with two raters, against the large-sample variance of the intraclass kappa of Bloch & Kraemer
  (1989, Biometrics 45:269–287, eq. 3.4), ``Var = (1 − κ)/n · [(1 − κ)(1 − 2κ) + κ(2 − κ)/(2π(1 − π))]``,
  whose Wald sample size ``z² Var / h²`` the goodness-of-fit answer approaches for narrow intervals;
- by simulation: studies of the planned size drawn from the model give Fleiss' kappas whose spread
  (1.96 standard deviations) is the half-width asked for, within 10 %.
"""

from __future__ import annotations

import numpy as np
import pytest

from grading.agreement import AgreementInputError, fleiss_kappa
from grading.agreement.planning import cell_probabilities, kappa_sample_size


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
