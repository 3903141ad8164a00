"""Prevalence, bias and symmetry of two raters' tables: what a kappa alone hides.

For a binary variable (2 × 2 table ``a`` both positive, ``b`` first only, ``c`` second only, ``d`` both
negative, ``n`` units):

- prevalence index ``PI = (a - d) / n`` and bias index ``BI = (b - c) / n``, and PABAK ``= 2 p_o - 1``
  (Byrt, Bishop & Carlin 1993, J Clin Epidemiol 46:423–429);
- specific positive agreement ``2a / (2a + b + c)`` and negative agreement ``2d / (2d + b + c)``
  (Cicchetti & Feinstein 1990, J Clin Epidemiol 43:551–558) with the delta-method SE of Graham & Bull
  (1998, J Clin Epidemiol 51:763–771), cluster-robust when units are clustered in patients;
- McNemar's test of marginal homogeneity (McNemar 1947), chi-square and exact binomial.

For a q × q table (q > 2): Bowker's (1948, JASA 43:572–574) test of symmetry. Chi-square tail
probabilities use the closed forms for integer degrees of freedom (no scipy in ``grading``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from grading.agreement.ratings import AgreementInputError, Clusters, Label
from grading.agreement.result import AgreementResult, ClusterResampler, FloatArray, SEMethod
from grading.agreement.statistics import _cluster_builder, _cluster_index, _n_clusters, _pairs, _row_patterns


def chi2_sf(x: float, df: int) -> float:
    """``P(X > x)`` for a chi-square variable with integer ``df`` (closed forms, Abramowitz & Stegun 26.4.4–5)."""
    if df < 1:
        raise AgreementInputError(f"degrees of freedom {df!r} must be a positive integer")
    if x <= 0:
        return 1.0
    half = x / 2
    if df % 2 == 0:
        return math.exp(-half) * math.fsum(half**k / math.factorial(k) for k in range(df // 2))
    tail = math.erfc(math.sqrt(half))
    return tail + math.exp(-half) * math.fsum(
        half ** (k - 0.5) / math.gamma(k + 0.5) for k in range(1, (df - 1) // 2 + 1)
    )


@dataclass(frozen=True)
class SymmetryTest:
    """A test that the off-diagonal cells of two raters' table are symmetric (no systematic bias)."""

    name: str
    statistic: float
    df: int
    p_value: float
    exact_p_value: float | None
    n_discordant: int


@dataclass(frozen=True)
class PrevalenceBias:
    """The 2 × 2 table of two raters on a binary scale, with Byrt et al.'s indices and PABAK."""

    positive: Label
    a: int
    b: int
    c: int
    d: int

    @property
    def n(self) -> int:
        """Units rated by both raters."""
        return self.a + self.b + self.c + self.d

    @property
    def prevalence_index(self) -> float:
        """``(a - d) / n``: 0 when both categories are equally common in the agreements."""
        return (self.a - self.d) / self.n if self.n else math.nan

    @property
    def bias_index(self) -> float:
        """``(b - c) / n``: 0 when the raters' disagreements go both ways equally."""
        return (self.b - self.c) / self.n if self.n else math.nan

    @property
    def pabak(self) -> float:
        """Prevalence-adjusted bias-adjusted kappa, ``2 p_o - 1``."""
        return 2 * (self.a + self.d) / self.n - 1 if self.n else math.nan


def _binary_table(
    ratings: object, positive: object, categories: Sequence[object] | None, name: str
) -> tuple[FloatArray, tuple[Label, ...], int]:
    table, cats, _, _ = _pairs(ratings, categories, name)
    if len(cats) != 2:
        raise AgreementInputError(f"{name} needs a binary scale (2 categories), got {list(cats)!r}")
    if positive not in cats:
        raise AgreementInputError(f"positive category {positive!r} is not on the scale; allowed: {list(cats)!r}")
    return table, cats, cats.index(positive)


def prevalence_bias(ratings: object, positive: object, categories: Sequence[object] | None = None) -> PrevalenceBias:
    """The 2 × 2 table with ``positive`` first, its prevalence and bias indices and PABAK (Byrt et al. 1993)."""
    table, cats, k = _binary_table(ratings, positive, categories, "prevalence_bias")
    other = 1 - k
    return PrevalenceBias(
        positive=cats[k],
        a=int(table[k, k]),
        b=int(table[k, other]),
        c=int(table[other, k]),
        d=int(table[other, other]),
    )


def specific_agreement(
    ratings: object,
    positive: object,
    categories: Sequence[object] | None = None,
    *,
    negative: bool = False,
    clusters: Clusters | None = None,
) -> AgreementResult:
    """Specific positive agreement ``2a / (2a + b + c)`` (``negative=True``: ``2d / (2d + b + c)``).

    The ratio of two sums over units, so its SE is the ratio estimator's: ``Σ (N_i - R D_i)² / (Σ D_i)²``
    with ``N_i`` twice an agreement on the category and ``D_i`` the unit's share of the denominator,
    which is Graham & Bull's (1998) formula; with clusters the residuals are summed within patients
    (``G / (G - 1)`` times). Undefined when no unit has the category from either rater.
    """
    name = "negative_agreement" if negative else "positive_agreement"
    table, cats, k = _binary_table(ratings, positive, categories, name)
    target = 1 - k if negative else k
    _, _, n_rows, unit_pairs = _pairs(ratings, categories, name)

    def features() -> FloatArray:
        _, pair = unit_pairs()
        first, second = pair // 2, pair % 2
        agree = (first == target) & (second == target)
        discordant = first != second
        return np.column_stack([2.0 * agree, 2.0 * agree + discordant]).astype(np.float64)

    def from_sums(sums: FloatArray) -> FloatArray:
        return np.asarray(np.where(sums[:, 1] > 0, sums[:, 0] / sums[:, 1], np.nan), dtype=np.float64)

    kept = unit_pairs()[0]
    agree_n = float(table[target, target])
    discordant_n = float(table[0, 1] + table[1, 0])
    n = int(table.sum())
    grouping = _cluster_index(clusters, n_rows, kept)
    base = AgreementResult(
        statistic=name,
        value=math.nan,
        n_units=n,
        n_raters=2,
        categories=cats,
        n_clusters=n if clusters is None else _n_clusters(clusters, n_rows, kept),
        resampler=ClusterResampler(
            _cluster_builder(features, clusters, n_rows, kept, _row_patterns(ratings)), from_sums
        ),
        se_method=SEMethod.ANALYTIC if grouping is None else SEMethod.ANALYTIC_CLUSTERED,
    )
    denominator = 2 * agree_n + discordant_n
    if denominator == 0:
        label = cats[target]
        return replace(base, reason=f"no unit is rated {label!r} by either rater, so {name} is undefined")
    value = 2 * agree_n / denominator

    def se(grouped: bool) -> float:
        unit = features()
        residual = unit[:, 0] - value * unit[:, 1]
        total = float(unit[:, 1].sum())
        if not grouped or grouping is None:
            return math.sqrt(float(residual @ residual)) / total
        g = int(grouping.max()) + 1
        sums = np.bincount(grouping, weights=residual, minlength=g)
        return math.sqrt(g / (g - 1) * float(sums @ sums)) / total

    return replace(base, value=value, standard_error=lambda: se(True), unclustered_standard_error=lambda: se(False))


def mcnemar(ratings: object, categories: Sequence[object] | None = None) -> SymmetryTest:
    """McNemar's test: ``(b - c)² / (b + c)`` on 1 df (no continuity correction) and the exact two-sided
    binomial p-value ``min(1, 2 P(X ≤ min(b, c)))``, ``X ~ Bin(b + c, 1/2)``."""
    table, cats, _, _ = _pairs(ratings, categories, "mcnemar")
    if len(cats) != 2:
        raise AgreementInputError(f"mcnemar needs a binary scale (2 categories), got {list(cats)!r}")
    b, c = int(table[0, 1]), int(table[1, 0])
    discordant = b + c
    if discordant == 0:
        return SymmetryTest("mcnemar", 0.0, 1, 1.0, 1.0, 0)
    statistic = (b - c) ** 2 / discordant
    low = min(b, c)
    exact = min(1.0, 2 * sum(math.comb(discordant, i) for i in range(low + 1)) / 2**discordant)
    return SymmetryTest("mcnemar", statistic, 1, chi2_sf(statistic, 1), exact, discordant)


def bowker(ratings: object, categories: Sequence[object] | None = None) -> SymmetryTest:
    """Bowker's test of symmetry: ``Σ_{i<j} (n_ij - n_ji)² / (n_ij + n_ji)`` over the pairs with
    ``n_ij + n_ji > 0``, on ``q (q - 1) / 2`` degrees of freedom as in SAS PROC FREQ and statsmodels."""
    table, cats, _, _ = _pairs(ratings, categories, "bowker")
    q = len(cats)
    if q < 2:
        raise AgreementInputError(f"bowker needs at least 2 categories on the scale, got {list(cats)!r}")
    upper = np.triu_indices(q, 1)
    above, below = table[upper], table.T[upper]
    total = above + below
    used = total > 0
    statistic = float((((above - below) ** 2)[used] / total[used]).sum())
    df = q * (q - 1) // 2
    return SymmetryTest("bowker", statistic, df, chi2_sf(statistic, df), None, int(total.sum()))
