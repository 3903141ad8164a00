"""The result of an agreement statistic, its confidence intervals and the cluster bootstrap.

The bootstrap resamples clusters (patients) with replacement: the 11 endplates of one patient are not
independent (docs/agreement.md#confidence-intervals).

Each statistic is a function of per-unit quantities that add up over
units, so a resample is a vector of cluster multiplicities and *all* resamples are one matrix product
(multiplicities, resamples × clusters) @ (per-cluster sums, clusters × features); the statistic is then
evaluated on every row at once. No Python loop runs over resamples.
"""

from __future__ import annotations

import collections
import enum
import functools
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from statistics import NormalDist
from typing import Any

import numpy as np
import numpy.typing as npt

from grading.agreement.interpretation import LandisKoch, landis_koch
from grading.agreement.ratings import AgreementInputError, Label, first_appearance_numbers

FloatArray = npt.NDArray[np.float64]

RealArray = npt.NDArray[np.floating[Any]]
"""A float array of any precision (the float32 products of :func:`_exact_product`)."""


class CIMethod(enum.StrEnum):
    """How :meth:`AgreementResult.ci` builds a confidence interval."""

    ANALYTIC = "analytic"
    """Normal approximation around the large-sample standard error ``.se`` (value ± z·se)."""
    BOOTSTRAP = "bootstrap"
    """Percentile interval of a seeded bootstrap that resamples clusters (units when no clusters)."""


class SEMethod(enum.StrEnum):
    """How the analytic interval of a result was computed (named in every report row)."""

    ANALYTIC = "analytic"
    """Large-sample SE with units as independent draws: value ± z·se."""
    ANALYTIC_CLUSTERED = "analytic-clustered"
    """Cluster-robust (sandwich) SE with patients as clusters: value ± z·se."""
    WILSON = "wilson"
    """Wilson score interval of a proportion (percent agreement), n = the units."""
    WILSON_CLUSTERED = "wilson-clustered"
    """Wilson score interval with the effective n = n / design effect (clustered over unclustered variance)."""


@dataclass(frozen=True)
class BootstrapInterval:
    """A percentile interval of the cluster bootstrap and how many resamples were left out as undefined."""

    low: float
    high: float
    n_boot: int
    dropped: int


@dataclass(frozen=True)
class PatternSums:
    """Per-cluster sums factored through the units' distinct feature rows (patterns).

    ``counts[g, p]`` units of cluster ``g`` have feature row ``features[p]``, so the cluster sums are
    ``counts @ features``. A resample's sums are then ``(m @ counts) @ features``: the first product
    depends only on how units fall into patterns, so the statistics of one comparison that share it
    share it (:func:`resampled_counts`), and with few patterns both products are small.
    """

    counts: FloatArray
    features: FloatArray


@dataclass(frozen=True, eq=False)
class PatternGrouping:
    """How units fall into rating patterns and clusters, shared by the statistics on the same units:
    each unit's pattern (``0..P-1`` in order of first appearance), where each pattern first appears,
    and how many units of each cluster have each pattern (clusters × patterns, read-only)."""

    pattern: npt.NDArray[np.intp]
    first: npt.NDArray[np.intp]
    counts: FloatArray


def pattern_grouping(clusters: npt.NDArray[np.intp], patterns: npt.NDArray[np.intp]) -> PatternGrouping:
    """The :class:`PatternGrouping` of units in ``clusters`` (``0..G-1``) with rating ``patterns``."""
    pattern, first = first_appearance_numbers(patterns)
    g = int(clusters.max()) + 1 if clusters.size else 0
    p = int(first.size)
    counts = np.bincount(clusters * p + pattern, minlength=g * p).reshape(g, p).astype(np.float64)
    for array in (pattern, first, counts):
        array.setflags(write=False)
    return PatternGrouping(pattern, first, counts)


def pattern_sums(
    features: FloatArray,
    clusters: npt.NDArray[np.intp],
    patterns: npt.NDArray[np.intp] | None = None,
    grouping: PatternGrouping | None = None,
) -> FloatArray | PatternSums:
    """The per-cluster sums of unit ``features`` (units × d) over ``clusters`` (``0..G-1``), factored
    through the distinct feature rows when there are few of them (else the plain sums).

    ``patterns`` (optional) numbers the units by their ratings (:attr:`RatingsMatrix.row_patterns`),
    each unit's features being a function of its ratings: the units are then counted by that number,
    so every statistic on the same units resamples the same counts (one product, shared through
    :func:`resampled_counts`). ``grouping`` (optional) is :func:`pattern_grouping` of these clusters and
    patterns, computed once for the statistics on the same units."""
    n, d = features.shape
    g = int(clusters.max()) + 1 if clusters.size else 0
    if n == 0 or d == 0:
        return cluster_sums(features, clusters)
    if grouping is not None and grouping.first.size <= g:
        # what the general path below computes from the same patterns, without recounting them
        rows = features[grouping.first]
        if np.array_equal(rows[grouping.pattern], features):
            return PatternSums(grouping.counts, np.asarray(rows, dtype=np.float64))
    distinct, pattern = distinct_rows(features) if patterns is None else _rows_of_patterns(features, patterns)
    p = int(distinct.shape[0])
    # the factored products cost more than the plain one, unless the resampled counts are shared by the
    # statistics on the same ratings (rating patterns given) and there are no more patterns than clusters
    shared = patterns is not None and p <= g
    if not shared and p * (g + d) >= g * d:
        return cluster_sums(features, clusters)
    # patterns numbered by first appearance: statistics that group the units alike get equal counts
    first = np.full(p, n, dtype=np.intp)
    np.minimum.at(first, pattern.reshape(-1), np.arange(n, dtype=np.intp))
    order = np.argsort(first, kind="stable")
    rank = np.empty(p, dtype=np.intp)
    rank[order] = np.arange(p, dtype=np.intp)
    distinct = distinct[order]
    flat = clusters * p + rank[pattern.reshape(-1)]
    counts = np.bincount(flat, minlength=g * p).reshape(g, p).astype(np.float64)
    return PatternSums(counts, np.asarray(distinct, dtype=np.float64))


def distinct_rows(features: FloatArray) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    """The distinct rows of ``features`` and each row's number among them, as ``np.unique(features,
    axis=0, return_inverse=True)`` groups them (rows in another order).

    Rows are grouped by one number each, a fixed weighted sum of the row (the same arithmetic for every
    row, so equal rows give equal numbers), with a 1-D sort; the grouping is then checked row by row
    and, should two different rows share a number, the rows are grouped by ``np.unique`` itself.
    """
    d = features.shape[1]
    key = (features * _row_key_weights(d)).sum(axis=1)
    _, first, pattern = np.unique(key, return_index=True, return_inverse=True)
    pattern = pattern.reshape(-1)
    distinct = features[first]
    if np.array_equal(distinct[pattern], features):
        return distinct, pattern
    exact, inverse = np.unique(features, axis=0, return_inverse=True)
    return exact, inverse.reshape(-1)


def _rows_of_patterns(features: FloatArray, patterns: npt.NDArray[np.intp]) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    """The feature row of each unit pattern and each unit's pattern (``0..P-1``); the rows of a pattern
    are checked to be equal (else the distinct feature rows are taken, :func:`distinct_rows`)."""
    pattern, first = first_appearance_numbers(patterns)
    distinct = features[first]
    if np.array_equal(distinct[pattern], features):
        return distinct, pattern
    return distinct_rows(features)


@functools.lru_cache(maxsize=64)
def _row_key_weights(d: int) -> FloatArray:
    """``d`` fixed weights in [1, 2) for :func:`distinct_rows` (read-only)."""
    weights: FloatArray = 1.0 + np.random.default_rng(20_261_129).random(d)
    weights.setflags(write=False)
    return weights


_RESAMPLED: collections.OrderedDict[tuple[bytes, int, int, int, int], FloatArray] = collections.OrderedDict()
_RESAMPLED_CELLS = 8_000_000
"""At most this many cached floats (64 MB) of resampled pattern counts; the oldest go first."""
_RESAMPLED_LOCK = threading.Lock()
_resampled_size = [0]


def resampled_counts(counts: FloatArray, n_boot: int, seed: int) -> FloatArray:
    """``multiplicities(G, n_boot, seed) @ counts``, cached by the counts' bytes: the statistics of one
    comparison that group its units alike reuse one product (read-only)."""
    g, p = counts.shape
    key = (counts.tobytes(), g, p, n_boot, seed)
    with _RESAMPLED_LOCK:
        found = _RESAMPLED.get(key)
        if found is not None:
            _RESAMPLED.move_to_end(key)
            return found
    product = _exact_product(g, n_boot, seed, counts)
    product.setflags(write=False)
    with _RESAMPLED_LOCK:
        if key not in _RESAMPLED:
            _RESAMPLED[key] = product
            _resampled_size[0] += product.size
        while _resampled_size[0] > _RESAMPLED_CELLS and len(_RESAMPLED) > 1:
            _, dropped = _RESAMPLED.popitem(last=False)
            _resampled_size[0] -= dropped.size
    return product


@dataclass(frozen=True, eq=False)
class ClusterResampler:
    """Per-cluster sums of a statistic's additive unit quantities and the map from sums to the statistic.

    ``build`` makes the clusters × features sums, or the same factored through the units' patterns
    (:class:`PatternSums`); it runs on the first bootstrap only, so a point estimate never pays for it.
    """

    build: Callable[[], FloatArray | PatternSums]
    statistic: Callable[[FloatArray], FloatArray]

    @cached_property
    def _built(self) -> FloatArray | PatternSums:
        return self.build()

    @cached_property
    def cluster_sums(self) -> FloatArray:
        """Sums of the unit features within each cluster (clusters × features)."""
        built = self._built
        if isinstance(built, PatternSums):
            return np.asarray(built.counts @ built.features, dtype=np.float64)
        return built

    @cached_property
    def _used_columns(self) -> npt.NDArray[np.intp]:
        """Features that are non-zero in some cluster (a resample's sum of the others is 0)."""
        return np.flatnonzero(np.any(self.cluster_sums != 0, axis=0))

    def replicates(self, n_boot: int, seed: int) -> FloatArray:
        """The statistic on ``n_boot`` cluster resamples (NaN where a resample leaves it undefined)."""
        built = self._built
        if isinstance(built, PatternSums):
            if built.counts.shape[0] == 0:
                return np.full(n_boot, math.nan)
            sums = _pattern_sums_product(built, n_boot, seed)
        else:
            g = int(built.shape[0])
            if g == 0:
                return np.full(n_boot, math.nan)
            used = self._used_columns
            sums = np.zeros((n_boot, built.shape[1]))
            sums[:, used] = resampled_counts(np.ascontiguousarray(built[:, used]), n_boot, seed)
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.statistic(sums)


_SUMS: collections.OrderedDict[tuple[int, int, int], tuple[PatternSums, FloatArray]] = collections.OrderedDict()
_SUMS_KEPT = 8
"""The resampled sums of the last few :class:`PatternSums`: statistics that share one (the same features
of the same units, e.g. percent agreement, AC1 and Brennan–Prediger) share its product."""


def _new_lock_in_child() -> None:
    """A forked child (a report's worker process) gets only the forking thread: the cache lock, which
    another thread may have held at the fork, is made anew (with the caches, which it guards)."""
    global _RESAMPLED_LOCK
    _RESAMPLED_LOCK = threading.Lock()
    _RESAMPLED.clear()
    _SUMS.clear()
    _resampled_size[0] = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_in_child)


def _pattern_sums_product(built: PatternSums, n_boot: int, seed: int) -> FloatArray:
    """``resampled_counts(built.counts) @ built.features`` (read-only), remembered for the last few."""
    key = (id(built), n_boot, seed)
    with _RESAMPLED_LOCK:
        found = _SUMS.get(key)
        if found is not None and found[0] is built:
            return found[1]
    sums = blocked_product(resampled_counts(built.counts, n_boot, seed), built.features)
    sums.setflags(write=False)
    with _RESAMPLED_LOCK:
        _SUMS[key] = (built, sums)
        while len(_SUMS) > _SUMS_KEPT:
            _SUMS.popitem(last=False)
    return sums


_BLOCK_PRODUCTS = 1 << 17
"""Multiply-adds per block of :func:`blocked_product`: below OpenBLAS' threshold for threads (4 × 65536)."""


def blocked_product(left: RealArray, right: RealArray) -> RealArray:
    """``left @ right`` computed in blocks of rows small enough for BLAS to run each on the calling thread.

    These products are small (resamples × clusters × patterns); BLAS threads started for each of the
    thousands of them in a report cost more than they save, the more so on a machine shared with other
    work. Each block is the same product on fewer rows.
    """
    rows, inner = left.shape
    columns = right.shape[1]
    step = max(1, _BLOCK_PRODUCTS // max(1, inner * columns))
    if rows <= step:
        return np.asarray(left @ right)
    out = np.empty((rows, columns), dtype=np.result_type(left, right))
    for start in range(0, rows, step):
        np.matmul(left[start : start + step], right, out=out[start : start + step])
    return out


_FLOAT32_EXACT = float(1 << 24)
"""Integers below this are exact in float32, and so are sums that stay below it."""


def _exact_product(g: int, n_boot: int, seed: int, counts: FloatArray) -> FloatArray:
    """``multiplicities(g, n_boot, seed) @ counts`` in float64, computed in float32 when that is exact.

    A row of multiplicities sums to ``g``, so with integer ``counts`` every partial sum of the product is
    an integer of at most ``g · max|counts|``: below 2**24 each is exact in float32, and the float32
    product equals the float64 one. It reads half the memory, which is what such a product waits on.
    """
    largest = float(np.abs(counts).max()) if counts.size else 0.0
    if g * largest < _FLOAT32_EXACT and np.array_equal(counts, np.trunc(counts)):
        narrow = blocked_product(_multiplicities32(g, n_boot, seed), counts.astype(np.float32))
        return narrow.astype(np.float64)
    return blocked_product(multiplicities(g, n_boot, seed), counts)


@functools.lru_cache(maxsize=16)
def _multiplicities32(g: int, n_boot: int, seed: int) -> npt.NDArray[np.float32]:
    """:func:`multiplicities` in float32 (exact: each is at most ``g``, checked below 2**24 by the caller)."""
    matrix = multiplicities(g, n_boot, seed).astype(np.float32)
    matrix.setflags(write=False)
    return matrix


@functools.lru_cache(maxsize=16)
def multiplicities(g: int, n_boot: int, seed: int) -> FloatArray:
    """How often each of ``g`` clusters is drawn in each of ``n_boot`` resamples (``n_boot × g``).

    The draws depend only on ``(g, n_boot, seed)``, so every statistic of a report on the same patients
    shares them (cached, read-only): ``default_rng(seed).integers(0, g, (n_boot, g))``.
    """
    draws = np.random.default_rng(seed).integers(0, g, size=(n_boot, g))
    offsets = (np.arange(n_boot, dtype=np.intp) * g)[:, None]
    counts = np.bincount((draws + offsets).ravel(), minlength=n_boot * g).reshape(n_boot, g)
    matrix: FloatArray = counts.astype(np.float64)
    matrix.setflags(write=False)
    return matrix


def cluster_sums(features: FloatArray, clusters: npt.NDArray[np.intp]) -> FloatArray:
    """Sum unit features (units × d) within clusters (G × d); ``clusters`` holds indices ``0..G-1``."""
    n_clusters = int(clusters.max()) + 1 if clusters.size else 0
    if features.shape[1] == 0 or n_clusters == 0:
        return np.zeros((n_clusters, features.shape[1]))
    if n_clusters == clusters.size:  # one unit per cluster: the sums are the units, placed
        placed = np.empty((n_clusters, features.shape[1]))
        placed[clusters] = features
        return placed
    # the units of each cluster in their order (a stable sort), summed segment by segment in that order
    ordered = bool((clusters[1:] >= clusters[:-1]).all())
    order = np.arange(clusters.size) if ordered else np.argsort(clusters, kind="stable")
    starts = np.searchsorted(clusters[order], np.arange(n_clusters))
    sums: FloatArray = np.add.reduceat(features[order], starts, axis=0)
    return sums


def percentiles(values: FloatArray, quantiles: tuple[float, ...]) -> tuple[float, ...]:
    """``np.quantile(values, quantiles)`` (its default linear method, same arithmetic) on one partition.

    The ``k``-th quantile sits at ``(n - 1) q`` in the sorted values; between two values ``a ≤ b`` at
    fraction ``t`` it is ``a + (b - a) t``, or ``b - (b - a)(1 - t)`` when ``t ≥ 0.5``, as numpy does.
    Only those order statistics are placed (``np.partition``), not the whole sort.
    """
    last = values.size - 1
    places = []
    for q in quantiles:
        below = min(math.floor(last * q), last)
        places.append((below, min(below + 1, last), last * q - below))
    ordered = np.partition(values, sorted({k for below, above, _ in places for k in (below, above)}))
    out = []
    for below, above, t in places:
        a, b = float(ordered[below]), float(ordered[above])
        out.append(b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t)
    return tuple(out)


def wilson_interval(p: float, n: float, z: float) -> tuple[float, float]:
    """Wilson's (1927) score interval of a proportion ``p`` on ``n`` (possibly effective) trials.

    ``(p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)`` (Newcombe 1998, Stat Med 17:857–872,
    method 3); NaN when ``n`` is not positive.
    """
    if not n > 0 or math.isnan(p):
        return (math.nan, math.nan)
    z2 = z * z
    centre = p + z2 / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    scale = 1 + z2 / n
    return (max((centre - half) / scale, 0.0), min((centre + half) / scale, 1.0))


def _check_level(level: float) -> float:
    if isinstance(level, bool) or not isinstance(level, int | float) or not 0 < level < 1:
        raise AgreementInputError(
            f"confidence level {level!r} is out of range; allowed: a number strictly between 0 and 1"
        )
    return float(level)


@dataclass(frozen=True)
class AgreementResult:
    """One agreement statistic computed on a ratings matrix.

    ``value`` is NaN when the statistic is undefined on these data, and ``reason`` then says why
    (e.g. every rating in one category makes chance agreement 1). ``se`` is the analytic standard
    error named in the function's docstring (NaN when not available), computed on first use.
    """

    statistic: str
    value: float
    n_units: int
    n_raters: int
    categories: tuple[Label, ...]
    p_observed: float = math.nan
    p_chance: float = math.nan
    weights: str = "unweighted"
    reason: str | None = None
    n_clusters: int = 0
    resampler: ClusterResampler | None = field(default=None, repr=False, compare=False)
    standard_error: Callable[[], float] | None = field(default=None, repr=False, compare=False)
    unclustered_standard_error: Callable[[], float] | None = field(default=None, repr=False, compare=False)
    se_method: SEMethod = SEMethod.ANALYTIC

    @property
    def interval_method(self) -> SEMethod:
        """The name of the analytic interval: Wilson for percent agreement, else the SE's method."""
        if self.statistic != "percent_agreement":
            return self.se_method
        return SEMethod.WILSON if self.se_method is SEMethod.ANALYTIC else SEMethod.WILSON_CLUSTERED

    @property
    def effective_n(self) -> float:
        """Units divided by the design effect (clustered over unclustered variance); ``n_units`` unclustered."""
        if self.se_method is SEMethod.ANALYTIC or self.unclustered_standard_error is None:
            return float(self.n_units)
        plain = float(self.unclustered_standard_error())
        if not plain > 0 or not self.se > 0:
            return float(self.n_units)
        return float(self.n_units) * (plain / self.se) ** 2

    @cached_property
    def se(self) -> float:
        """The analytic standard error (computed on first use; NaN when not available)."""
        return math.nan if self.standard_error is None or not self.defined else float(self.standard_error())

    @property
    def defined(self) -> bool:
        """False when ``value`` is NaN."""
        return not math.isnan(self.value)

    @property
    def landis_koch(self) -> LandisKoch:
        """The Landis & Koch (1977) band of ``value``."""
        return landis_koch(self.value)

    def bootstrap(self, n_boot: int = 2000, seed: int = 0) -> FloatArray:
        """The statistic on ``n_boot`` seeded cluster resamples (same seed, same replicates).

        Resample ``b`` draws ``G`` cluster indices with ``numpy.random.default_rng(seed).integers(0, G,
        (n_boot, G))``, the ``G`` clusters that hold a unit the statistic uses being numbered in order
        of first appearance, so a replicate can be recomputed from the data by hand.
        """
        if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
            raise AgreementInputError(f"n_boot {n_boot!r} must be a positive integer")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise AgreementInputError(f"seed {seed!r} must be an integer")
        if self.resampler is None or self.n_clusters == 0:
            return np.full(n_boot, math.nan)
        return self.resampler.replicates(n_boot, seed)

    def ci(
        self, level: float = 0.95, method: str | CIMethod = CIMethod.ANALYTIC, *, n_boot: int = 2000, seed: int = 0
    ) -> tuple[float, float]:
        """A two-sided confidence interval ``(low, high)``; ``(nan, nan)`` when the value is undefined.

        ``analytic``: ``value ± z·se``, cut at 1 (no statistic here exceeds it; percent agreement is
        also cut at 0). ``bootstrap``: percentile interval of ``n_boot`` seeded
        resamples of the clusters given as ``clusters=`` (of the units otherwise); resamples on which
        the statistic is undefined are left out.
        """
        level = _check_level(level)
        try:
            chosen = CIMethod(method)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in CIMethod)
            raise AgreementInputError(f"ci method {method!r} is unknown; allowed: {allowed}") from None
        if not self.defined:
            return (math.nan, math.nan)
        if chosen is CIMethod.ANALYTIC:
            z = NormalDist().inv_cdf(0.5 + level / 2)
            if self.statistic == "percent_agreement":
                return wilson_interval(self.value, self.effective_n, z)
            if math.isnan(self.se):
                return (math.nan, math.nan)
            return (self.value - z * self.se, min(self.value + z * self.se, 1.0))
        interval = self.bootstrap_interval(level, n_boot, seed)
        return (interval.low, interval.high)

    def bootstrap_interval(self, level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> BootstrapInterval:
        """The percentile interval of the seeded cluster bootstrap, with the count of undefined resamples."""
        level = _check_level(level)
        if not self.defined:
            return BootstrapInterval(math.nan, math.nan, n_boot, n_boot)
        replicates = self.bootstrap(n_boot, seed)
        finite = replicates[np.isfinite(replicates)]
        dropped = int(n_boot - finite.size)
        if finite.size == 0:
            return BootstrapInterval(math.nan, math.nan, n_boot, dropped)
        low, high = percentiles(finite, ((1 - level) / 2, (1 + level) / 2))
        return BootstrapInterval(low, high, n_boot, dropped)

    def to_mapping(self) -> dict[str, Any]:
        """A JSON-ready summary (NaN written as ``None``)."""

        def clean(x: float) -> float | None:
            return None if math.isnan(x) else x

        return {
            "statistic": self.statistic,
            "value": clean(self.value),
            "se": clean(self.se),
            "n_units": self.n_units,
            "n_raters": self.n_raters,
            "weights": self.weights,
            "p_observed": clean(self.p_observed),
            "p_chance": clean(self.p_chance),
            "landis_koch": self.landis_koch.value,
            "se_method": self.se_method.value,
            "reason": self.reason,
        }
