"""Agreement statistics on a units × raters ratings matrix (docs/contract.md#python-api).

Notation (Gwet 2014, *Handbook of Inter-Rater Reliability*, 4th ed., ch. 2–5): ``r[i, k]`` raters put
unit ``i`` in category ``k``; ``r_i`` ratings on unit ``i``; ``w`` the q × q agreement weights on
category positions. Missing ratings are handled per statistic and never become a category:

- percent agreement, Fleiss' kappa, AC1/AC2 and Brennan–Prediger use the multi-rater form with missing
  ratings of Gwet (2014): observed agreement over the units rated at least twice, category propensities
  ``π_k`` over the units rated at least once;
- Cohen's kappa uses the units rated by both raters;
- Krippendorff's alpha uses the pairable values (units rated at least twice), Krippendorff (2011).

Analytic standard errors: Fleiss, Cohen & Everitt (1969) for Cohen's kappa; Gwet's linearisation
(Gwet 2008, Br J Math Stat Psychol 61:29–48; Gwet 2014) for the others, with units as independent
draws and no finite-population correction. The cluster bootstrap (``clusters=``) is in
:mod:`grading.agreement.result`.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from grading.agreement.ratings import (
    AgreementInputError,
    Clusters,
    Label,
    ParsedClusters,
    RatingsMatrix,
    int_array_counts,
    int_array_pairs,
    is_first_appearance_numbering,
    parse_clusters,
    parse_ratings,
)
from grading.agreement.result import (
    AgreementResult,
    ClusterResampler,
    FloatArray,
    PatternGrouping,
    PatternSums,
    SEMethod,
    pattern_grouping,
    pattern_sums,
)
from grading.agreement.weights import agreement_weights

_EPS = 1e-12


class Level(enum.StrEnum):
    """Measurement level of Krippendorff's alpha (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability")."""

    NOMINAL = "nominal"
    """Categories without order: distance 0 for equal, 1 for different values."""
    ORDINAL = "ordinal"
    """Ordered categories: distance from the marginal frequencies of the values between the two ranks."""


def _matrix(ratings: object, categories: Sequence[object] | None) -> RatingsMatrix:
    if isinstance(ratings, RatingsMatrix):
        if categories is not None and tuple(categories) != ratings.categories:
            raise AgreementInputError(
                f"categories {list(categories)!r} differ from the parsed matrix's {list(ratings.categories)!r}"
            )
        return ratings
    return parse_ratings(ratings, categories)


def _kept_clusters(clusters: Clusters, n_units: int, kept: npt.NDArray[np.bool_] | None) -> npt.NDArray[np.intp]:
    """Dense cluster index (``0..G-1``, :func:`dense_index`) of the kept units; remembered by
    :class:`ParsedClusters` for each set of kept units."""
    if not isinstance(clusters, ParsedClusters):
        index = parse_clusters(clusters, n_units)
        return dense_index(index if kept is None else index[kept])
    key = ("dense", n_units, None if kept is None else kept.tobytes())
    found = clusters.memo.get(key)
    if found is None:
        index = parse_clusters(clusters, n_units)
        found = dense_index(index if kept is None else index[kept])
        if found is index:
            found = found.copy()
        found.setflags(write=False)
        clusters.memo[key] = found
    dense: npt.NDArray[np.intp] = found
    return dense


def _kept_grouping(
    clusters: Clusters, n_units: int, kept: npt.NDArray[np.bool_] | None, patterns: npt.NDArray[np.intp]
) -> PatternGrouping | None:
    """The :class:`PatternGrouping` of the kept units, remembered by :class:`ParsedClusters` for read-only
    ``patterns`` (a parsed matrix's :attr:`RatingsMatrix.row_patterns`); None for other clusters."""
    if not isinstance(clusters, ParsedClusters) or patterns.flags.writeable:
        return None
    key = ("grouping", n_units, None if kept is None else kept.tobytes(), id(patterns))
    found = clusters.memo.get(key)
    if found is None or found[0] is not patterns:
        kept_patterns = patterns if kept is None else patterns[kept]
        found = (patterns, pattern_grouping(_kept_clusters(clusters, n_units, kept), kept_patterns))
        clusters.memo[key] = found
    grouping: PatternGrouping = found[1]
    return grouping


def _cluster_builder(
    features: Callable[[], FloatArray],
    clusters: Clusters | None,
    n_units: int,
    kept: npt.NDArray[np.bool_] | None,
    patterns: npt.NDArray[np.intp] | None = None,
) -> Callable[[], FloatArray | PatternSums]:
    """A lazy builder of per-cluster feature sums over the kept units (clusters re-indexed to 0..G-1),
    factored through the units' rating patterns (``patterns``, one number per unit) or else their
    distinct feature rows when there are few (:func:`pattern_sums`)."""

    def build() -> FloatArray | PatternSums:
        unit_features = features()
        kept_patterns = None if patterns is None or kept is None else patterns[kept]
        if clusters is None:
            return pattern_sums(unit_features, np.arange(unit_features.shape[0], dtype=np.intp), kept_patterns)
        grouping = None if patterns is None else _kept_grouping(clusters, n_units, kept, patterns)
        return pattern_sums(unit_features, _kept_clusters(clusters, n_units, kept), kept_patterns, grouping)

    return build


def _row_patterns(ratings: object) -> npt.NDArray[np.intp] | None:
    """The rating patterns of a parsed matrix (:attr:`RatingsMatrix.row_patterns`), None for other forms."""
    return ratings.row_patterns if isinstance(ratings, RatingsMatrix) else None


def _memo(ratings: object) -> dict[object, Any] | None:
    """What the statistics on a parsed matrix share (:attr:`RatingsMatrix.memo`), None for other forms."""
    return ratings.memo if isinstance(ratings, RatingsMatrix) else None


def _cluster_index(
    clusters: Clusters | None, n_units: int, kept: npt.NDArray[np.bool_] | None
) -> npt.NDArray[np.intp] | None:
    """Dense cluster index (0..G-1) of the kept units, or None when every kept unit is its own cluster."""
    if clusters is None:
        return None
    dense = _kept_clusters(clusters, n_units, kept)
    if dense.size == 0 or int(dense.max()) + 1 == dense.size:
        return None
    return dense


def dense_index(index: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.intp]:
    """Cluster indices renumbered ``0..G-1`` by value (``np.unique``'s inverse), without the sort when
    they are numbered so already."""
    if is_first_appearance_numbering(index):
        return index.astype(np.intp, copy=False)
    _, dense = np.unique(index, return_inverse=True)
    renumbered: npt.NDArray[np.intp] = dense.reshape(-1).astype(np.intp)
    return renumbered


def robust_se(influence: FloatArray, clusters: npt.NDArray[np.intp] | None) -> float:
    """Standard error of a mean of unit influences, ``IF_i`` with mean zero over ``n`` units.

    Without clusters: ``sqrt(Σ IF_i² / (n (n - 1)))`` (Gwet 2014, eq. 5.6 form). With clusters
    (patients): the cluster-robust (sandwich) variance of a ratio estimator,
    ``G / (G - 1) · Σ_g (Σ_{i∈g} IF_i)² / n²`` (Williams 2000, Biometrics 56:645–646; for kappa on
    clustered data Yang & Zhou 2014, Stat Med 33:2612–2633). Each unit its own cluster gives back the
    unclustered formula.
    """
    n = influence.size
    if clusters is None:
        if n < 2:
            return math.nan
        return math.sqrt(float(influence @ influence) / (n * (n - 1)))
    g = int(clusters.max()) + 1
    if g < 2:
        return math.nan
    totals = np.bincount(clusters, weights=influence, minlength=g)
    return math.sqrt(g / (g - 1) * float(totals @ totals)) / n


def _n_clusters(clusters: Clusters | None, n_units: int, kept: npt.NDArray[np.bool_] | None) -> int:
    """Number of clusters among the kept units (each unit its own cluster when none are given)."""
    if clusters is None:
        return n_units if kept is None else int(kept.sum())
    dense = _kept_clusters(clusters, n_units, kept)
    return int(dense.max()) + 1 if dense.size else 0


def _one_category_reason(totals: FloatArray, categories: tuple[Label, ...], name: str) -> str:
    used = np.flatnonzero(totals)
    if used.size == 1:
        return (
            f"every rating is in category {categories[int(used[0])]!r}: chance agreement is 1, so {name} is undefined"
        )
    return f"chance agreement is 1 under these weights, so {name} is undefined"


def _counts(ratings: object, categories: Sequence[object] | None) -> tuple[FloatArray, tuple[Label, ...], int]:
    """``r[i, k]`` (units × q), the category list and the number of raters; integer arrays take a fast path."""
    fast = int_array_counts(ratings, categories)
    if fast is not None:
        return fast
    matrix = _matrix(ratings, categories)
    return matrix.counts(), matrix.categories, matrix.n_raters


# --- the multi-rater family: percent agreement, Fleiss, AC1/AC2, Brennan–Prediger -----------------


class _Chance(enum.Enum):
    """Chance-agreement models of the multi-rater family (Gwet 2014, ch. 2 and 5)."""

    NONE = "none"
    """No chance correction: percent agreement."""
    FLEISS = "fleiss"
    """Fleiss (1971): ``p_e = Σ_kl w_kl π_k π_l``."""
    GWET = "gwet"
    """Gwet (2008): ``p_e = T_w / (q (q - 1)) Σ_k π_k (1 - π_k)``."""
    UNIFORM = "uniform"
    """Brennan & Prediger (1981): ``p_e = T_w / q²``."""


def _chance(kind: _Chance, pi: FloatArray, w: FloatArray) -> FloatArray:
    """Chance agreement for each row of ``pi`` (resamples × q)."""
    q = w.shape[0]
    total = float(w.sum())
    if kind is _Chance.NONE:
        return np.zeros(pi.shape[0])
    if kind is _Chance.FLEISS:
        weighted = pi if np.array_equal(w, np.eye(q)) else pi @ w
        return np.asarray((weighted * pi).sum(axis=1), dtype=np.float64)
    if kind is _Chance.GWET:
        return np.asarray(total / (q * (q - 1)) * (pi * (1 - pi)).sum(axis=1), dtype=np.float64)
    return np.full(pi.shape[0], total / q**2)


@dataclass(eq=False)
class _UnitAgreement:
    """The per-unit quantities of the multi-rater family under one weight matrix: ratings per unit
    ``r``, the units rated at least once and at least twice, each unit's pairwise agreement and ``1/r``.
    Percent agreement, Fleiss' kappa, AC1 and Brennan–Prediger under the same weights share them (and
    their cluster sums) on one parsed matrix."""

    counts: FloatArray
    r: FloatArray
    rated: npt.NDArray[np.bool_]
    two: npt.NDArray[np.bool_]
    pa_unit: FloatArray
    inv_r: FloatArray
    builders: dict[tuple[int, int], tuple[object, object, Callable[[], FloatArray | PatternSums]]] = field(
        default_factory=dict
    )

    @classmethod
    def of(cls, counts: FloatArray, w: FloatArray, memo: dict[object, Any] | None) -> _UnitAgreement:
        """Computed, or found in ``memo`` (a parsed matrix's, whose ``counts`` are read-only)."""
        key = ("multirater", w.shape, w.tobytes())
        if memo is not None:
            found = memo.get(key)
            if found is not None and found.counts is counts:
                shared: _UnitAgreement = found
                return shared
        q = counts.shape[1]
        ones = np.ones(q)
        r = counts @ ones  # row sums as a product: much faster than sum(axis=1) on a narrow matrix
        rated = r >= 1
        two = r >= 2
        identity = bool(np.array_equal(w, np.eye(q)))
        # unweighted: Σ_k r_ik² - r_i, without the matrix of squares
        squares = np.einsum("ij,ij->i", counts, counts) if identity else (counts * (counts @ w.T)) @ ones
        agreeing = squares - r
        with np.errstate(divide="ignore", invalid="ignore"):
            pa_unit = np.where(two, agreeing / (r * (r - 1)), 0.0)
            inv_r = np.where(rated, 1.0 / r, 0.0)
        units = cls(counts, r, rated, two, pa_unit, inv_r)
        if memo is not None and not counts.flags.writeable:
            memo[key] = units
        return units

    @functools.cached_property
    def features(self) -> FloatArray:
        """Per rated unit: rated twice, pairwise agreement, 1, and the shares ``r[i, k] / r_i``."""
        columns = [self.two, self.pa_unit, self.rated, self.counts * self.inv_r[:, None]]
        stacked: FloatArray = np.column_stack(columns)[self.rated]
        return stacked.astype(np.float64)

    def builder(
        self, clusters: Clusters | None, n_units: int, patterns: npt.NDArray[np.intp] | None
    ) -> Callable[[], FloatArray | PatternSums]:
        """The cluster sums' builder (:func:`_cluster_builder`), one for each parsed clusters (or none)."""
        build = _cluster_builder(lambda: self.features, clusters, n_units, self.rated, patterns)
        if clusters is not None and not isinstance(clusters, ParsedClusters):
            return build  # labels that may change between calls: not shared
        key = (id(clusters), id(patterns))
        found = self.builders.get(key)
        if found is None or found[0] is not clusters or found[1] is not patterns:
            found = (clusters, patterns, functools.cache(build))
            self.builders[key] = found
        return found[2]


def _multirater(
    name: str,
    counted: tuple[FloatArray, tuple[Label, ...], int],
    w: FloatArray,
    weights_name: str,
    kind: _Chance,
    clusters: Clusters | None,
    patterns: npt.NDArray[np.intp] | None = None,
    memo: dict[object, Any] | None = None,
) -> AgreementResult:
    counts, categories, n_raters = counted
    q = len(categories)
    n_units = counts.shape[0]
    units = _UnitAgreement.of(counts, w, memo)
    r, rated, two, pa_unit, inv_r = units.r, units.rated, units.two, units.pa_unit, units.inv_r

    def from_sums(sums: FloatArray) -> FloatArray:
        n2, n1 = sums[:, 0], sums[:, 2]
        pa = sums[:, 1] / n2
        pi = sums[:, 3:] / n1[:, None]
        pe = _chance(kind, pi, w)
        value = pa if kind is _Chance.NONE else (pa - pe) / (1 - pe)
        return np.asarray(np.where((n2 > 0) & (1 - pe > _EPS), value, np.nan), dtype=np.float64)

    n1, n2 = int(rated.sum()), int(two.sum())
    base = AgreementResult(
        value=math.nan,
        statistic=name,
        n_units=n2,
        n_raters=n_raters,
        categories=categories,
        weights=weights_name,
        n_clusters=_n_clusters(clusters, n_units, rated),
        resampler=ClusterResampler(units.builder(clusters, n_units, patterns), from_sums),
    )
    if n2 == 0:
        return replace(base, value=math.nan, reason="no unit has ratings from two raters")
    if kind in (_Chance.GWET, _Chance.UNIFORM) and q < 2:
        return replace(
            base,
            value=math.nan,
            reason=f"only one category ({categories[0]!r}) on the scale, so {name} is undefined; "
            "give the full scale with categories=",
        )
    pa = float(pa_unit @ np.ones(n_units) / n2)
    pi = (inv_r @ counts) / n1
    pe = float(_chance(kind, pi[None, :], w)[0])
    if kind is not _Chance.NONE and 1 - pe <= _EPS:
        return replace(
            base,
            value=math.nan,
            p_observed=pa,
            p_chance=pe,
            reason=_one_category_reason(counts.sum(axis=0), categories, name),
        )
    value = pa if kind is _Chance.NONE else (pa - pe) / (1 - pe)
    grouping = _cluster_index(clusters, n_units, rated)

    @functools.cache
    def deviations() -> FloatArray:
        # Gwet's linearised variance: per-unit contributions κ*_i, deviations κ*_i - κ.
        everyone = bool(rated.all())
        c, rr, pu, tw = (counts, r, pa_unit, two) if everyone else (counts[rated], r[rated], pa_unit[rated], two[rated])
        unit_value = (n1 / n2) * (pu - pe * tw) / (1 - pe)
        if kind is _Chance.FLEISS:
            pi_w = (w @ pi + w.T @ pi) / 2
            pe_unit = (c @ pi_w) / rr
        elif kind is _Chance.GWET:
            pe_unit = float(w.sum()) / (q * (q - 1)) * (c @ (1 - pi)) / rr
        else:
            pe_unit = np.full(n1, pe)
        linearised = unit_value - 2 * (1 - value) * (pe_unit - pe) / (1 - pe)
        return np.asarray(linearised - value, dtype=np.float64)

    return replace(
        base,
        value=float(value),
        standard_error=lambda: robust_se(deviations(), grouping),
        unclustered_standard_error=lambda: robust_se(deviations(), None),
        se_method=SEMethod.ANALYTIC if grouping is None else SEMethod.ANALYTIC_CLUSTERED,
        p_observed=pa,
        p_chance=pe,
    )


def percent_agreement(
    ratings: object, categories: Sequence[object] | None = None, *, clusters: Clusters | None = None
) -> AgreementResult:
    """Proportion of agreeing rater pairs, averaged over the units rated at least twice.

    With two raters: the share of units (rated by both) on which they agree. No chance correction,
    so it is defined (1.0) even when every rating is the same category. ``se``: Gwet (2014), the
    linearised variance with chance agreement 0.
    """
    counted = _counts(ratings, categories)
    return _multirater(
        "percent_agreement",
        counted,
        np.eye(len(counted[1])),
        "unweighted",
        _Chance.NONE,
        clusters,
        _row_patterns(ratings),
        _memo(ratings),
    )


def fleiss_kappa(
    ratings: object,
    categories: Sequence[object] | None = None,
    *,
    weights: object = None,
    clusters: Clusters | None = None,
) -> AgreementResult:
    """Fleiss' kappa (Fleiss 1971, Psychol Bull 76:378–382) for any number of raters.

    On complete data this is Fleiss' 1971 statistic; with missing ratings it is the generalisation of
    Gwet (2014, §2.4); with ``weights`` the weighted form of Gwet (2014, ch. 3), chance agreement
    ``Σ_kl w_kl π_k π_l``. ``se``: Gwet's linearised variance (2014, eq. 5.6), not Fleiss' variance
    under the null hypothesis.
    """
    counted = _counts(ratings, categories)
    w, name = agreement_weights(weights, counted[1])
    statistic = "fleiss_kappa" if name == "unweighted" else "weighted_fleiss_kappa"
    return _multirater(statistic, counted, w, name, _Chance.FLEISS, clusters, _row_patterns(ratings), _memo(ratings))


def conger_kappa(
    ratings: object,
    weights: object = None,
    categories: Sequence[object] | None = None,
    *,
    clusters: Clusters | None = None,
) -> AgreementResult:
    """Conger's (1980, Psychol Bull 88:322–328) kappa for any number of raters, optionally weighted.

    Observed agreement as Fleiss'; chance agreement from each rater's own marginals,
    ``p_e = Σ_kl w_kl (π̄_k π̄_l - s²_kl / r)`` with ``p_gk`` rater g's share of category k among the
    units g rated, ``π̄_k`` their mean over raters and ``s²_kl`` their covariance (Gwet 2014, §3.4). With
    two raters it is Cohen's kappa. Interval: the cluster bootstrap (no analytic SE is computed).
    """
    matrix = _matrix(ratings, categories)
    w, weights_name = agreement_weights(weights, matrix.categories)
    q, r, n_units = matrix.q, matrix.n_raters, matrix.n_units
    counts = matrix.counts()
    per_unit = counts.sum(axis=1)
    rated, two = per_unit >= 1, per_unit >= 2
    agreeing = (counts * (counts @ w.T - 1)).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        pa_unit = np.where(two, agreeing / (per_unit * (per_unit - 1)), 0.0)

    def features() -> FloatArray:
        present = matrix.codes >= 0
        one_hot = np.zeros((n_units, r * q))
        units, raters = np.nonzero(present)
        one_hot[units, raters * q + matrix.codes[present]] = 1.0
        stacked: FloatArray = np.column_stack([two, pa_unit, one_hot])[rated].astype(np.float64)
        return stacked

    def from_sums(sums: FloatArray) -> FloatArray:
        n2 = sums[:, 0]
        pa = sums[:, 1] / n2
        classified = sums[:, 2:].reshape(-1, r, q)
        p = classified / classified.sum(axis=2, keepdims=True)
        mean = p.mean(axis=1)
        outer = mean[:, :, None] * mean[:, None, :]
        s2 = (np.einsum("bak,bal->bkl", p, p) - r * outer) / (r - 1)
        pe = (w[None] * (outer - s2 / r)).sum(axis=(1, 2))
        value = (pa - pe) / (1 - pe)
        return np.asarray(np.where((n2 > 0) & (1 - pe > _EPS), value, np.nan), dtype=np.float64)

    statistic = "conger_kappa" if weights_name == "unweighted" else "weighted_conger_kappa"
    base = AgreementResult(
        value=math.nan,
        statistic=statistic,
        n_units=int(two.sum()),
        n_raters=r,
        categories=matrix.categories,
        weights=weights_name,
        n_clusters=_n_clusters(clusters, n_units, rated),
        resampler=ClusterResampler(
            _cluster_builder(features, clusters, n_units, rated, matrix.row_patterns), from_sums
        ),
    )
    if not two.any():
        return replace(base, reason="no unit has ratings from two raters")
    if r < 2:
        return replace(base, reason="conger_kappa needs at least 2 raters")
    with np.errstate(divide="ignore", invalid="ignore"):
        value = float(from_sums(features().sum(axis=0)[None, :])[0])
    if math.isnan(value):
        return replace(base, reason=_one_category_reason(counts.sum(axis=0), matrix.categories, statistic))
    return replace(base, value=value)


def gwet_ac1(
    ratings: object,
    weights: object = None,
    categories: Sequence[object] | None = None,
    *,
    clusters: Clusters | None = None,
) -> AgreementResult:
    """Gwet's AC1 (Gwet 2008), and AC2 when weighted (Gwet 2014, ch. 4), for any number of raters.

    Paradox-resistant: chance agreement is ``T_w/(q(q-1)) Σ π_k(1-π_k)``, so with q ≥ 2 categories on
    the scale and every rating in one of them AC1 is 1. Undefined with a single category on the scale.
    """
    counted = _counts(ratings, categories)
    w, name = agreement_weights(weights, counted[1])
    statistic = "gwet_ac1" if name == "unweighted" else "gwet_ac2"
    return _multirater(statistic, counted, w, name, _Chance.GWET, clusters, _row_patterns(ratings), _memo(ratings))


def pabak(
    ratings: object, categories: Sequence[object] | None = None, *, clusters: Clusters | None = None
) -> AgreementResult:
    """Brennan–Prediger (1981) free-marginal kappa, ``(p_a - 1/q) / (1 - 1/q)`` over q categories.

    For two raters and two categories this is PABAK, ``2 p_o - 1`` (Byrt, Bishop & Carlin 1993). q is
    the length of ``categories`` (unused categories count), so give the scale explicitly.
    """
    counted = _counts(ratings, categories)
    identity = np.eye(len(counted[1]))
    return _multirater(
        "pabak", counted, identity, "unweighted", _Chance.UNIFORM, clusters, _row_patterns(ratings), _memo(ratings)
    )


# --- Cohen's kappa --------------------------------------------------------------------------------


def cohen_kappa(
    ratings: object,
    weights: object = None,
    categories: Sequence[object] | None = None,
    *,
    clusters: Clusters | None = None,
) -> AgreementResult:
    """Cohen's kappa (Cohen 1960) or weighted kappa (Cohen 1968) for exactly two raters.

    Units missing either rating are left out. ``weights``: ``None``, ``"linear"`` (Cicchetti–Allison),
    ``"quadratic"`` (Fleiss–Cohen) or a q × q agreement matrix, on category positions. ``se`` is the
    large-sample standard error of Fleiss, Cohen & Everitt (1969), Psychol Bull 72:323–327, as printed
    by SAS PROC FREQ (ASE) and vcd::Kappa.
    """
    table, cats, n_units, unit_pairs = _pairs(ratings, categories, "cohen_kappa")
    w, weights_name = agreement_weights(weights, cats)
    q = len(cats)
    n = int(table.sum())
    statistic = "cohen_kappa" if weights_name == "unweighted" else "weighted_kappa"

    # A unit in cell (a, b) adds 1 to the count, w[a, b] to the weighted agreements, 1 to the first
    # rater's category a and 1 to the second's b: kappa needs only these 2 + 2q sums, not the q² cells.
    cell_features = _cohen_cell_features(w)
    unweighted = bool(np.array_equal(w, np.eye(q)))

    def from_sums(sums: FloatArray) -> FloatArray:
        total = sums[:, 0]
        po = sums[:, 1] / total
        row = sums[:, 2 : 2 + q] / total[:, None]
        col = sums[:, 2 + q :] / total[:, None]
        pe = ((row if unweighted else row @ w) * col).sum(axis=1)  # row @ I is row, exactly
        return np.asarray(np.where((total > 0) & (1 - pe > _EPS), (po - pe) / (1 - pe), np.nan), dtype=np.float64)

    def features() -> FloatArray:
        _, pair = unit_pairs()
        return cell_features[pair]

    def by_cell() -> FloatArray:
        kept, pair = unit_pairs()
        if clusters is None:
            return features()
        dense = _kept_clusters(clusters, n_units, kept)
        g = int(dense.max()) + 1 if dense.size else 0
        flat = dense * q * q + pair
        cells = np.bincount(flat, minlength=g * q * q).reshape(g, q * q).astype(np.float64)
        return np.asarray(cells @ cell_features, dtype=np.float64)

    patterns = _row_patterns(ratings)
    # a parsed matrix: counted by rating pattern, as the other statistics on the same ratings
    build: Callable[[], FloatArray | PatternSums] = (
        by_cell if patterns is None else _cluster_builder(features, clusters, n_units, unit_pairs()[0], patterns)
    )
    base = AgreementResult(
        value=math.nan,
        statistic=statistic,
        n_units=n,
        n_raters=2,
        categories=cats,
        weights=weights_name,
        n_clusters=n if clusters is None else _n_clusters(clusters, n_units, unit_pairs()[0]),
        resampler=ClusterResampler(build, from_sums),
    )
    if n == 0:
        return replace(base, value=math.nan, reason="no unit is rated by both raters")
    p = table / n
    row, col = p.sum(axis=1), p.sum(axis=0)
    po = float((w * p).sum())
    pe = float(row @ w @ col)
    if 1 - pe <= _EPS:
        return replace(
            base,
            value=math.nan,
            p_observed=po,
            p_chance=pe,
            reason=_one_category_reason(table.sum(axis=0) + table.sum(axis=1), cats, statistic),
        )
    kappa = (po - pe) / (1 - pe)
    w_row = w @ col
    w_col = row @ w

    def standard_error() -> float:
        term = (p * (w - (w_row[:, None] + w_col[None, :]) * (1 - kappa)) ** 2).sum()
        variance = (term - (kappa - pe * (1 - kappa)) ** 2) / (n * (1 - pe) ** 2)
        return math.sqrt(max(float(variance), 0.0))

    def clustered_standard_error() -> float:
        # The influence of a unit in cell (a, b): its delta-method term, whose mean square is the
        # Fleiss-Cohen-Everitt variance; summed within patients for the cluster-robust variance.
        kept, pair = unit_pairs()
        cell = (w - (w_row[:, None] + w_col[None, :]) * (1 - kappa)).ravel()[pair]
        influence = (cell - (kappa - pe * (1 - kappa))) / (1 - pe)
        return robust_se(influence, _cluster_index(clusters, n_units, kept))

    clustered = clusters is not None and _cluster_index(clusters, n_units, unit_pairs()[0]) is not None
    return replace(
        base,
        value=float(kappa),
        standard_error=clustered_standard_error if clustered else standard_error,
        unclustered_standard_error=standard_error,
        se_method=SEMethod.ANALYTIC_CLUSTERED if clustered else SEMethod.ANALYTIC,
        p_observed=po,
        p_chance=pe,
    )


def _cohen_cell_features(w: FloatArray) -> FloatArray:
    """The additive features of a unit in each cell ``a * q + b`` (rows): 1, ``w[a, b]``, the one-hot
    of ``a`` and the one-hot of ``b`` (q² × (2 + 2q))."""
    q = w.shape[0]
    cells = np.arange(q * q)
    out = np.zeros((q * q, 2 + 2 * q))
    out[:, 0] = 1.0
    out[:, 1] = w.ravel()
    out[cells, 2 + cells // q] = 1.0
    out[cells, 2 + q + cells % q] = 1.0
    return out


def confusion_matrix(ratings: object, categories: Sequence[object] | None = None) -> npt.NDArray[np.int64]:
    """The q × q table of two raters (rows: first rater, columns: second) over units rated by both."""
    table, _, _, _ = _pairs(ratings, categories, "a confusion matrix")
    return table.astype(np.int64)


def _pairs(
    ratings: object, categories: Sequence[object] | None, name: str
) -> tuple[FloatArray, tuple[Label, ...], int, Callable[[], tuple[npt.NDArray[np.bool_], npt.NDArray[np.intp]]]]:
    """Two raters: the q × q table, the scale, the number of rows, and (lazily) the rows rated by both
    with each one's cell index ``first * q + second``."""
    fast = int_array_pairs(ratings, categories)
    if fast is not None:
        table, cats, cells = fast
        n_rows = int(np.asarray(ratings).shape[0])
        return table, cats, n_rows, lambda: (np.ones(n_rows, dtype=bool), cells())
    matrix = _matrix(ratings, categories)
    if matrix.n_raters != 2:
        raise AgreementInputError(
            f"{name} needs exactly 2 raters (columns), got {matrix.n_raters}; "
            "use fleiss_kappa or krippendorff_alpha for more"
        )
    found = matrix.memo.get("pairs")
    if found is None:
        q = matrix.q
        both = (matrix.codes >= 0).all(axis=1)
        pair = (matrix.codes[both, 0] * q + matrix.codes[both, 1]).astype(np.intp)
        table = np.bincount(pair, minlength=q * q).reshape(q, q).astype(np.float64)
        for array in (both, pair, table):
            array.setflags(write=False)
        # the statistics, the confusion matrix and the tests of one pair share the table
        found = matrix.memo["pairs"] = (table, both, pair)
    table, both, pair = found
    return table, matrix.categories, matrix.n_units, lambda: (both, pair)


# --- Krippendorff's alpha ------------------------------------------------------------------------


def _distances(level: Level, n_c: FloatArray) -> FloatArray:
    """Squared distances δ²_ck for each row of value frequencies ``n_c`` (resamples × q)."""
    b, q = n_c.shape
    if level is Level.NOMINAL:
        return np.broadcast_to(1.0 - np.eye(q), (b, q, q))
    cum = np.cumsum(n_c, axis=1)
    lo = np.minimum.outer(np.arange(q), np.arange(q))
    hi = np.maximum.outer(np.arange(q), np.arange(q))
    between = cum[:, hi] - cum[:, lo] + n_c[:, lo]
    return np.asarray((between - (n_c[:, :, None] + n_c[:, None, :]) / 2) ** 2, dtype=np.float64)


def krippendorff_alpha(
    ratings: object,
    level: str | Level = Level.NOMINAL,
    categories: Sequence[object] | None = None,
    *,
    clusters: Clusters | None = None,
) -> AgreementResult:
    """Krippendorff's alpha, nominal or ordinal, with missing ratings (Krippendorff 2011).

    ``α = 1 - (n.. - 1) Σ o_ck δ²_ck / Σ n_c n_k δ²_ck`` over the coincidence matrix of pairable
    values (units with at least two ratings). Ordinal distances come from the value frequencies, so an
    unused category does not change them. ``se``: Gwet's (2014, §2.5) linearised variance with the
    distances held at their observed values.
    """
    try:
        chosen = Level(level)
    except ValueError:
        allowed = ", ".join(repr(x.value) for x in Level)
        raise AgreementInputError(f"level {level!r} is unknown; allowed: {allowed}") from None
    counts, cats, n_raters = _counts(ratings, categories)
    q = len(cats)
    n_units = counts.shape[0]
    m = counts.sum(axis=1)
    pairable = m >= 2
    c = counts[pairable]
    mp = m[pairable]
    diag = np.zeros((c.shape[0], q, q))
    diag[:, np.arange(q), np.arange(q)] = c
    coincidence = (c[:, :, None] * c[:, None, :] - diag) / (mp - 1)[:, None, None]
    features = coincidence.reshape(c.shape[0], q * q)

    def from_sums(sums: FloatArray) -> FloatArray:
        o = sums.reshape(-1, q, q)
        n_c = o.sum(axis=2)
        total = n_c.sum(axis=1)
        delta = _distances(chosen, n_c)
        observed = (o * delta).sum(axis=(1, 2))
        expected = np.einsum("bc,bck,bk->b", n_c, delta, n_c)
        return np.asarray(
            np.where((total > 1) & (expected > _EPS), 1 - (total - 1) * observed / expected, np.nan), dtype=np.float64
        )

    n = int(pairable.sum())
    base = AgreementResult(
        value=math.nan,
        statistic="krippendorff_alpha",
        n_units=n,
        n_raters=n_raters,
        categories=cats,
        weights=chosen.value,
        n_clusters=_n_clusters(clusters, n_units, pairable),
        resampler=ClusterResampler(
            _cluster_builder(lambda: features, clusters, n_units, pairable, _row_patterns(ratings)), from_sums
        ),
    )
    if n == 0:
        return replace(base, value=math.nan, reason="no unit has ratings from two raters")
    with np.errstate(divide="ignore", invalid="ignore"):
        value = float(from_sums(features.sum(axis=0)[None, :])[0])
    if math.isnan(value):
        return replace(
            base, value=math.nan, reason=_one_category_reason(counts.sum(axis=0), cats, "krippendorff_alpha")
        )
    n_c = coincidence.sum(axis=0).sum(axis=1)
    delta = _distances(chosen, n_c[None, :])[0]
    w = 1 - delta / delta.max()
    grouping = _cluster_index(clusters, n_units, pairable)
    return replace(
        base,
        value=value,
        standard_error=lambda: robust_se(_krippendorff_deviations(c, w), grouping),
        unclustered_standard_error=lambda: robust_se(_krippendorff_deviations(c, w), None),
        se_method=SEMethod.ANALYTIC if grouping is None else SEMethod.ANALYTIC_CLUSTERED,
    )


def _krippendorff_deviations(c: FloatArray, w: FloatArray) -> FloatArray:
    """Per-unit deviations of Gwet's (2014, §2.5) linearised alpha with agreement weights ``w``."""
    n = c.shape[0]
    m = c.sum(axis=1)
    m_bar = float(m.mean())
    eps = 1 / float(m.sum())
    sum_q = (c * (c @ w.T - 1)).sum(axis=1)
    pa_prime = float((sum_q / (m_bar * (m - 1))).sum() / n)
    pa = (1 - eps) * pa_prime + eps
    pi = (c / m_bar).sum(axis=0) / n
    pe = float(pi @ w @ pi)
    alpha_prime = (pa_prime - pe) / (1 - pe)
    pa_unit = sum_q / (m_bar * (m - 1)) - pa * (m - m_bar) / m_bar
    unit_value = (pa_unit - pe) / (1 - pe)
    pi_w = (w @ pi + w.T @ pi) / 2
    pe_unit = (c @ pi_w) / m_bar - pe * (m - m_bar) / m_bar
    linearised = unit_value - 2 * (1 - alpha_prime) * (pe_unit - pe) / (1 - pe)
    return np.asarray(linearised - alpha_prime, dtype=np.float64)


# --- prevalence ------------------------------------------------------------------------------------


def prevalence(ratings: object, categories: Sequence[object] | None = None) -> dict[Label, float]:
    """Share of the non-missing ratings in each category, in scale order (unused categories at 0)."""
    counts, cats, _ = _counts(ratings, categories)
    totals = counts.sum(axis=0)
    total = totals.sum()
    shares = totals / total if total else np.full(len(cats), math.nan)
    return {label: float(share) for label, share in zip(cats, shares, strict=True)}
