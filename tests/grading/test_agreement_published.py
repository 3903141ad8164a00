"""Published worked examples, reproduced to 4 decimals; each case cites its source."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from grading import agreement

# Fleiss (1971), Psychol Bull 76:378–382, Table 1: 30 patients, 6 psychiatrists each, 5 diagnoses
# (1 depression, 2 personality disorder, 3 schizophrenia, 4 neurosis, 5 other). Fleiss printed only the
# per-category counts; this raw layout of the same table is the one in statsmodels'
# stats/tests/test_inter_rater.py (``diagnoses``). Kappa = 0.430 (Fleiss 1971, p. 380).
FLEISS_1971 = [
    [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5], [2, 2, 2, 4, 4, 4],
    [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4], [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5],
    [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4], [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5],
    [3, 3, 3, 3, 3, 5], [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4], [1, 4, 4, 4, 4, 5],
    [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4], [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
]  # fmt: skip


def pairs_from_table(table: list[list[int]], labels: list[str] | None = None) -> list[list[object]]:
    """Expand a two-rater contingency table (rows: rater 1) into one row per unit."""
    names = labels or list(range(len(table)))
    return [[names[i], names[j]] for i, row in enumerate(table) for j, n in enumerate(row) for _ in range(n)]


def test_fleiss_1971_kappa() -> None:
    # Fleiss (1971), p. 380: overall kappa 0.430 (= 0.4302 to 4 decimals).
    result = agreement.fleiss_kappa(FLEISS_1971)
    assert result.value == pytest.approx(0.4302, abs=5e-5)
    assert round(result.value, 3) == 0.430
    assert (result.n_units, result.n_raters) == (30, 6)


def test_fleiss_1971_observed_and_chance_agreement() -> None:
    # Fleiss (1971), p. 380: P-bar = .556 and P-bar_e = .220 (his eqs. 6 and 7 on this table).
    result = agreement.fleiss_kappa(FLEISS_1971)
    assert round(result.p_observed, 3) == 0.556
    assert round(result.p_chance, 3) == 0.220


# SAS/STAT PROC FREQ, AGREE option: the 3 × 3 table [[0, 4, 1], [0, 8, 0], [0, 1, 5]] and its SAS
# printout as kept in statsmodels' stats/tests/test_inter_rater.py (TestUnweightedCohens and
# TestWeightedCohens, "comparison to printout of a SAS example"); SAS weighted kappa uses
# Cicchetti–Allison (linear) weights by default and the ASE of Fleiss, Cohen & Everitt (1969).
SAS_TABLE = [[0, 4, 1], [0, 8, 0], [0, 1, 5]]


@pytest.mark.parametrize(
    ("weights", "kappa", "ase", "low", "high"),
    [
        (None, 0.4842, 0.1380, 0.2137, 0.7547),  # SAS "Simple Kappa Coefficient"
        ("linear", 0.4701, 0.1457, 0.1845, 0.7558),  # SAS "Weighted Kappa Coefficient" (CA weights)
    ],
)
def test_sas_proc_freq_kappa(weights: str | None, kappa: float, ase: float, low: float, high: float) -> None:
    result = agreement.cohen_kappa(pairs_from_table(SAS_TABLE), weights=weights)
    assert round(result.value, 4) == kappa
    assert round(result.se, 4) == ase
    ci = result.ci(0.95)
    assert (round(ci[0], 4), round(ci[1], 4)) == (low, high)


# vcd (R), ``data(SexualFun)``: Hout, Duncan & Sobel (1987) via Agresti (1990): husband (rows) and wife
# (columns) answer "Sex is fun for me and my partner": Never Fun, Fairly Often, Very Often, Always fun.
# ``Kappa(SexualFun)`` prints Unweighted 0.1293 (ASE 0.06860) and Weighted (Equal-Spacing) 0.2374 (ASE
# 0.07832); the Fleiss-Cohen (quadratic) line is from ``Kappa(SexualFun, weights = "Fleiss-Cohen")``,
# which our offline copy could not re-print, so that row checks against vcd's own formula (Kappa.R:
# the FCE 1969 ASE with W = 1 - (|i-j|/(r-1))^2) evaluated by hand on the same table.
SEXUAL_FUN = [[7, 7, 2, 3], [2, 8, 3, 7], [1, 5, 4, 9], [2, 8, 9, 14]]
FUN = ["Never Fun", "Fairly Often", "Very Often", "Always fun"]


@pytest.mark.parametrize(
    ("weights", "kappa", "ase"),
    [
        (None, 0.1293, 0.0686),  # vcd "Unweighted"
        ("linear", 0.2374, 0.0783),  # vcd "Weighted", Equal-Spacing weights
        ("quadratic", 0.3320, 0.0973),  # vcd Fleiss-Cohen weights
    ],
)
def test_vcd_sexualfun(weights: str | None, kappa: float, ase: float) -> None:
    result = agreement.cohen_kappa(pairs_from_table(SEXUAL_FUN, FUN), weights=weights, categories=FUN)
    assert round(result.value, 4) == kappa
    assert round(result.se, 4) == ase
    assert result.n_units == 91


# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", Annenberg School for Communication,
# section "C. Nominal data, any number of observers, missing data": observers A–D × units 1–12 (rows
# here are units). Nominal α = 0.743 (p. 4); the same data as ordinal gives α = 0.815 (the krippendorff
# package's documented reproduction of this example).
KRIPPENDORFF_2011 = [
    [1, 1, None, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2], [1, 2, 3, 4],
    [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [None, 5, 5, 5], [None, None, 1, 1], [None, 3, None, None],
]  # fmt: skip


@pytest.mark.parametrize(
    ("level", "alpha"),
    [
        ("nominal", 0.7434),  # Krippendorff 2011: 0.743
        ("ordinal", 0.8154),  # Krippendorff 2011 data as ordinal: 0.815
    ],
)
def test_krippendorff_2011(level: str, alpha: float) -> None:
    result = agreement.krippendorff_alpha(KRIPPENDORFF_2011, level=level)
    assert round(result.value, 4) == alpha
    # Unit 12 has a single value: not pairable, so 11 units enter.
    assert result.n_units == 11


def test_krippendorff_2011_string_labels_with_scale() -> None:
    # The same example with ordered word labels (the krippendorff package docs): still 0.815 ordinal.
    words = ["very low", "low", "mid", "high", "very high"]
    relabelled = [[None if v is None else words[v - 1] for v in row] for row in KRIPPENDORFF_2011]
    assert round(agreement.krippendorff_alpha(relabelled, "ordinal", categories=words).value, 3) == 0.815
    assert round(agreement.krippendorff_alpha(relabelled, "nominal").value, 3) == 0.743


# Gwet (2014), Handbook of Inter-Rater Reliability, 4th ed.: 100 pregnant women classified by two
# abstractors as Ectopic, AIU or NIU (the 3 × 3 table of ch. 2; irrCAC ``table_cont3x3abstractors``),
# AC1 = 0.8493 and AC2 (quadratic) = 0.9402; the 4 raters × 12 units data with missing ratings
# (irrCAC ``raw_4raters``), AC1 = 0.7754, Fleiss' generalised kappa = 0.7612, Brennan–Prediger (via
# percent agreement 0.8182 and q = 5). Printed values as reproduced in the irrCAC documentation.
ABSTRACTORS = [[13, 0, 0], [0, 20, 7], [0, 4, 56]]
PREGNANCY = ["Ectopic", "AIU", "NIU"]
GWET_4RATERS = [
    [1, 1, None, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2], [1, 2, 3, 4],
    [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [None, 5, 5, 5], [None, None, 1, 1], [None, None, 3, None],
]  # fmt: skip


def test_gwet_2014_abstractors_ac1() -> None:
    # Gwet (2014): AC1 = 0.8493, percent agreement 0.89, chance agreement 0.2699. (The book's SE 0.0432
    # is the two-rater table form with divisor n²; ``.se`` uses the raw-data form with n(n - 1).)
    result = agreement.gwet_ac1(pairs_from_table(ABSTRACTORS, PREGNANCY), categories=PREGNANCY)
    assert round(result.value, 4) == 0.8493
    assert result.se == pytest.approx(0.0432 * (100 / 99) ** 0.5, abs=1e-4)
    assert round(result.p_observed, 4) == 0.89
    assert round(result.p_chance, 4) == 0.2699


def test_gwet_2014_abstractors_ac2_quadratic() -> None:
    # Gwet (2014): AC2 with quadratic weights = 0.9402, SE 0.0179 (table form, divisor n²).
    result = agreement.gwet_ac1(pairs_from_table(ABSTRACTORS, PREGNANCY), weights="quadratic", categories=PREGNANCY)
    assert result.statistic == "gwet_ac2"
    assert round(result.value, 4) == 0.9402
    assert result.se == pytest.approx(0.0179 * (100 / 99) ** 0.5, abs=1e-4)


@pytest.mark.parametrize(
    ("function", "value", "se"),
    [
        (agreement.gwet_ac1, 0.7754, 0.14295),  # Gwet 2014: AC1 0.7754 (SE 0.14295)
        (agreement.fleiss_kappa, 0.7612, 0.15302),  # Gwet 2014: Fleiss' generalised kappa 0.7612 (SE 0.15302)
    ],
)
def test_gwet_2014_four_raters_missing(
    function: Callable[..., agreement.AgreementResult], value: float, se: float
) -> None:
    result = function(GWET_4RATERS)
    assert round(result.value, 4) == value
    assert round(result.se, 5) == se


def test_gwet_2014_four_raters_percent_agreement_and_bp() -> None:
    # Gwet 2014: p_a = 0.8182 over the 11 units rated at least twice; BP = (p_a - 1/5) / (1 - 1/5).
    assert round(agreement.percent_agreement(GWET_4RATERS).value, 4) == 0.8182
    assert round(agreement.pabak(GWET_4RATERS).value, 4) == round((9 / 11 - 0.2) / 0.8, 4)


def test_pabak_two_by_two_is_twice_agreement_minus_one() -> None:
    # Byrt, Bishop & Carlin (1993), J Clin Epidemiol 46:423: PABAK = 2 p_o - 1 for a 2 × 2 table.
    table = [[40, 9], [6, 45]]
    result = agreement.pabak(pairs_from_table(table, ["yes", "no"]), categories=["yes", "no"])
    assert result.value == pytest.approx(2 * 0.85 - 1, abs=1e-12)


def test_cohen_1960_definition_on_sas_table() -> None:
    # Cohen (1960): kappa = (p_o - p_e) / (1 - p_e), here p_o = 13/19 and p_e from the margins.
    table = np.array(SAS_TABLE, dtype=float)
    p = table / table.sum()
    po, pe = np.trace(p), p.sum(1) @ p.sum(0)
    assert agreement.cohen_kappa(pairs_from_table(SAS_TABLE)).value == pytest.approx((po - pe) / (1 - pe), abs=1e-12)
