"""An agreement report from long-format ratings: per variable, pairwise and across all raters.

For each variable (conventions in ``docs/agreement.md#variables``): prevalence, percent agreement (Wilson
interval), Cohen's kappa (and weighted kappa on an ordinal scale), Gwet's AC1, PABAK on a binary scale
or Brennan–Prediger with its ``q`` otherwise, each with an analytic interval (cluster-robust when units
are clustered in patients) and a cluster-bootstrap interval, both naming their method; the
Landis–Koch band only where at least two categories were observed; the confusion matrix of every rater
pair with, on a binary scale, the prevalence and bias indices, specific positive and negative agreement
and McNemar's test, and on a larger scale Bowker's test of symmetry; Fleiss' kappa and Krippendorff's
alpha across all raters. Every statistic carries n units, n patients (clusters) and n changed (units
with a rating other than the variable's ``negative`` category).
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

import numpy as np
import numpy.typing as npt

from grading.agreement import statistics as stats
from grading.agreement.binary import PrevalenceBias, SymmetryTest, bowker, mcnemar, prevalence_bias, specific_agreement
from grading.agreement.interpretation import LandisKoch
from grading.agreement.ratings import (
    AgreementInputError,
    Clusters,
    Label,
    ParsedClusters,
    RatingsMatrix,
    Vocabulary,
    parse_categories,
    parse_clusters,
    parse_ratings,
)
from grading.agreement.result import AgreementResult

DEFAULT_VARIABLE = "value"
"""The variable name of records that do not name one."""


@dataclass(frozen=True)
class RatingRecord:
    """One rating in long format: ``unit``, ``rater``, ``value`` (None when missing), its cluster and variable."""

    unit: str
    rater: str
    value: Label | None
    cluster: str | None = None
    variable: str = DEFAULT_VARIABLE


@dataclass
class RatingColumns:
    """One variable's long-format ratings column by column, the fast input of :func:`build_report`:
    rating ``i`` is ``values[i]`` given by ``raters[i]`` to ``units[i]``, in cluster ``clusters[i]``."""

    units: list[str] = field(default_factory=list)
    raters: list[str] = field(default_factory=list)
    values: list[Label | None] = field(default_factory=list)
    clusters: list[str] = field(default_factory=list)

    def add(self, unit: str, rater: str, value: Label | None, cluster: str | None = None) -> None:
        """Append one rating; without a cluster the unit is its own cluster."""
        self.units.append(unit)
        self.raters.append(rater)
        self.values.append(value)
        self.clusters.append(unit if cluster is None else cluster)


@dataclass(frozen=True)
class VariableSpec:
    """How to analyse one variable: its level of measurement and, optionally, its full ordered scale."""

    name: str
    level: stats.Level = stats.Level.NOMINAL
    categories: tuple[Label, ...] | None = None
    negative: Label | None = None
    """The category meaning "no finding" (``none``, ``absent``, ``no``): ``n_changed`` counts the units
    with any other rating, and on a binary scale the other category is the positive one."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise AgreementInputError(f"variable name {self.name!r} must be a non-empty string")
        object.__setattr__(self, "level", stats.Level(self.level))
        if self.categories is not None:
            object.__setattr__(self, "categories", parse_categories(self.categories))
            if self.negative is not None and self.negative not in self.categories:
                scale = list(self.categories)
                raise AgreementInputError(
                    f"negative category {self.negative!r} of {self.name!r} is not on its scale {scale!r}"
                )


class ComparisonKind(enum.StrEnum):
    """Which raters a comparison covers."""

    PAIR = "pair"
    """Two raters (or two reads of one rater): Cohen's kappa and the confusion matrix."""
    ALL = "all"
    """Every rater of the variable: Fleiss' kappa and Krippendorff's alpha."""


UNBANDED = frozenset({"percent_agreement", "positive_agreement", "negative_agreement"})
"""Statistics without chance correction: no Landis–Koch band."""


@dataclass(frozen=True)
class Counts:
    """What a comparison stands on: units rated, changed units and the categories observed."""

    n_units: int
    n_changed: int | None
    observed: tuple[Label, ...]


@dataclass(frozen=True)
class StatisticSummary:
    """One statistic of a comparison with both confidence intervals, each naming its method."""

    name: str
    value: float
    se: float
    ci_analytic: tuple[float, float]
    ci_bootstrap: tuple[float, float]
    n_units: int
    landis_koch: str | None
    reason: str | None
    ci_method: str = "analytic"
    boot_method: str = "bootstrap-units"
    boot_dropped: int = 0
    n_patients: int = 0
    n_changed: int | None = None
    band_note: str | None = None
    q: int | None = None

    @classmethod
    def of(
        cls, name: str, result: AgreementResult, level: float, n_boot: int, seed: int, counts: Counts | None = None
    ) -> StatisticSummary:
        """Summarise ``result`` under ``name`` with its analytic and bootstrap intervals."""
        boot = result.bootstrap_interval(level, n_boot, seed)
        band, note = _band(name, result, counts)
        return cls(
            name=name,
            value=result.value,
            se=result.se,
            ci_analytic=result.ci(level),
            ci_bootstrap=(boot.low, boot.high),
            n_units=result.n_units,
            landis_koch=band,
            reason=result.reason,
            ci_method=result.interval_method.value,
            boot_method="bootstrap-units" if result.n_clusters >= result.n_units else "bootstrap-patients",
            boot_dropped=boot.dropped,
            n_patients=result.n_clusters,
            n_changed=None if counts is None else counts.n_changed,
            band_note=note,
            q=len(result.categories) if name == "brennan_prediger" else None,
        )

    def to_mapping(self) -> dict[str, Any]:
        """JSON-ready: NaN written as ``None``."""
        return {
            "name": self.name,
            "value": _clean(self.value),
            "se": _clean(self.se),
            "ci_analytic": [_clean(x) for x in self.ci_analytic],
            "ci_method": self.ci_method,
            "ci_bootstrap": [_clean(x) for x in self.ci_bootstrap],
            "boot_method": self.boot_method,
            "boot_dropped": self.boot_dropped,
            "n_units": self.n_units,
            "n_patients": self.n_patients,
            "n_changed": self.n_changed,
            "landis_koch": self.landis_koch,
            "band_note": self.band_note,
            "q": self.q,
            "reason": self.reason,
        }


def _band(name: str, result: AgreementResult, counts: Counts | None) -> tuple[str | None, str | None]:
    """The Landis–Koch band, or None with the reason it is not given."""
    if name in UNBANDED:
        return None, "not chance-corrected: no benchmark band"
    if not result.defined:
        return LandisKoch.UNDEFINED.value, result.reason
    if counts is not None and len(counts.observed) < 2:
        seen = f"only {counts.observed[0]!r} was observed" if counts.observed else "no rating was observed"
        return None, f"{seen}: fewer than two categories, so no band"
    return result.landis_koch.value, None


@dataclass(frozen=True)
class Comparison:
    """The statistics of one rater pair, or of all raters together."""

    kind: ComparisonKind
    raters: tuple[str, ...]
    prevalence: dict[Label, float]
    statistics: tuple[StatisticSummary, ...]
    confusion: tuple[tuple[int, ...], ...] = ()
    indices: PrevalenceBias | None = None
    tests: tuple[SymmetryTest, ...] = ()

    @property
    def label(self) -> str:
        """``a vs b`` for a pair, ``all raters`` otherwise."""
        return " vs ".join(self.raters) if self.kind is ComparisonKind.PAIR else "all raters"

    def statistic(self, name: str) -> StatisticSummary:
        """The summary named ``name``; the error lists the names present."""
        for summary in self.statistics:
            if summary.name == name:
                return summary
        raise KeyError(f"no statistic {name!r}; present: {', '.join(s.name for s in self.statistics)}")

    def to_mapping(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "kind": self.kind.value,
            "raters": list(self.raters),
            "label": self.label,
            "prevalence": {str(k): _clean(v) for k, v in self.prevalence.items()},
            "statistics": [s.to_mapping() for s in self.statistics],
            "confusion": [list(row) for row in self.confusion],
            "indices": None if self.indices is None else _indices(self.indices),
            "tests": [_test(t) for t in self.tests],
        }


def _indices(indices: PrevalenceBias) -> dict[str, Any]:
    return {
        "positive": indices.positive,
        "a": indices.a,
        "b": indices.b,
        "c": indices.c,
        "d": indices.d,
        "prevalence_index": _clean(indices.prevalence_index),
        "bias_index": _clean(indices.bias_index),
        "pabak": _clean(indices.pabak),
    }


def _test(test: SymmetryTest) -> dict[str, Any]:
    return {
        "name": test.name,
        "statistic": test.statistic,
        "df": test.df,
        "p_value": test.p_value,
        "exact_p_value": test.exact_p_value,
        "n_discordant": test.n_discordant,
    }


@dataclass(frozen=True)
class VariableReport:
    """Every comparison of one variable."""

    variable: str
    level: stats.Level
    categories: tuple[Label, ...]
    raters: tuple[str, ...]
    n_units: int
    n_clusters: int
    prevalence: dict[Label, float]
    comparisons: tuple[Comparison, ...]

    def to_mapping(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "variable": self.variable,
            "level": self.level.value,
            "categories": list(self.categories),
            "raters": list(self.raters),
            "n_units": self.n_units,
            "n_clusters": self.n_clusters,
            "prevalence": {str(k): _clean(v) for k, v in self.prevalence.items()},
            "comparisons": [c.to_mapping() for c in self.comparisons],
        }


@dataclass(frozen=True)
class AgreementReport:
    """The report over all variables, with the CI settings used."""

    variables: tuple[VariableReport, ...]
    level: float
    n_boot: int
    seed: int
    notes: tuple[str, ...] = field(default=())

    def variable(self, name: str) -> VariableReport:
        """The report of variable ``name``; the error lists the variables present."""
        for report in self.variables:
            if report.variable == name:
                return report
        raise KeyError(f"no variable {name!r}; present: {', '.join(v.variable for v in self.variables)}")

    def to_mapping(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "confidence_level": self.level,
            "bootstrap": {"n_boot": self.n_boot, "seed": self.seed, "resamples": "clusters"},
            "variables": [v.to_mapping() for v in self.variables],
            "notes": list(self.notes),
        }

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per (variable, comparison, statistic), for CSV and tables."""
        out: list[dict[str, Any]] = []
        for report in self.variables:
            for comparison in report.comparisons:
                shares = "; ".join(f"{k}={v:.3f}" for k, v in comparison.prevalence.items() if not math.isnan(v))
                for s in comparison.statistics:
                    out.append(
                        {
                            "variable": report.variable,
                            "comparison": comparison.label,
                            "statistic": s.name,
                            "value": _clean(s.value),
                            "se": _clean(s.se),
                            "ci_low": _clean(s.ci_analytic[0]),
                            "ci_high": _clean(s.ci_analytic[1]),
                            "ci_method": s.ci_method,
                            "boot_low": _clean(s.ci_bootstrap[0]),
                            "boot_high": _clean(s.ci_bootstrap[1]),
                            "boot_method": s.boot_method,
                            "boot_dropped": s.boot_dropped,
                            "n_units": s.n_units,
                            "n_patients": s.n_patients,
                            "n_changed": s.n_changed,
                            "q": s.q,
                            "landis_koch": s.landis_koch,
                            "band_note": s.band_note or "",
                            "prevalence": shares,
                            "reason": s.reason or "",
                        }
                    )
        return out


ROW_FIELDS: tuple[str, ...] = (
    "variable",
    "comparison",
    "statistic",
    "value",
    "se",
    "ci_low",
    "ci_high",
    "ci_method",
    "boot_low",
    "boot_high",
    "boot_method",
    "boot_dropped",
    "n_units",
    "n_patients",
    "n_changed",
    "q",
    "landis_koch",
    "band_note",
    "prevalence",
    "reason",
)
"""The columns of :meth:`AgreementReport.rows`, in order."""


def _clean(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


@dataclass(frozen=True)
class _Table:
    """One variable's ratings as a matrix with its unit, rater and cluster labels."""

    units: tuple[str, ...]
    raters: tuple[str, ...]
    clusters: npt.NDArray[np.intp]
    """Each unit's cluster, numbered ``0..G-1`` in order of first appearance over the units."""
    values: npt.NDArray[np.object_]
    """Units × raters, ``None`` where a rater gave no rating."""


def _numbered(labels: Iterable[object], count: int) -> tuple[npt.NDArray[np.intp], tuple[Any, ...]]:
    """Each label's number in order of first appearance, and the distinct labels in that order."""
    vocabulary = Vocabulary()
    codes = np.fromiter(map(vocabulary.__getitem__, labels), dtype=np.intp, count=count)
    return codes, tuple(vocabulary)


class _Numberings:
    """:func:`_numbered` remembered over one report: variables rated on the same units by the same raters
    have equal unit, rater and cluster columns, numbered once (a list comparison instead)."""

    def __init__(self) -> None:
        self._seen: dict[int, list[tuple[list[Any], npt.NDArray[np.intp], tuple[Any, ...]]]] = {}

    def __call__(self, labels: list[Any], count: int) -> tuple[npt.NDArray[np.intp], tuple[Any, ...]]:
        seen = self._seen.setdefault(count, [])
        for known, codes, distinct in seen:
            if known is labels or known == labels:
                return codes, distinct
        codes, distinct = _numbered(labels, count)
        codes.setflags(write=False)
        if len(seen) < 8:
            seen.append((labels, codes, distinct))
        return codes, distinct


def _columns(records: Iterable[RatingRecord]) -> dict[str, RatingColumns]:
    """Records grouped by variable, column by column, in record order."""
    by_variable: dict[str, RatingColumns] = {}
    for record in records:
        if not isinstance(record, RatingRecord):
            raise AgreementInputError(f"expected RatingRecord, got {record!r}")
        columns = by_variable.get(record.variable)
        if columns is None:
            columns = by_variable[record.variable] = RatingColumns()
        columns.add(record.unit, record.rater, record.value, record.cluster)
    return by_variable


def _table(variable: str, columns: RatingColumns, numbered: _Numberings | None = None) -> _Table:
    """One variable's ratings as a matrix, refusing a second rating of a (unit, rater) and a unit in two
    clusters (each named at its first occurrence in rating order)."""
    n = len(columns.values)
    if not len(columns.units) == len(columns.raters) == len(columns.clusters) == n:
        raise AgreementInputError(f"the rating columns of variable {variable!r} differ in length")
    number = numbered or _Numberings()
    unit_codes, units = number(columns.units, n)
    rater_codes, seen_raters = number(columns.raters, n)
    cluster_codes, cluster_labels = number(columns.clusters, n)
    raters = tuple(sorted(seen_raters))
    rank = np.empty(len(seen_raters), dtype=np.intp)
    rank[[seen_raters.index(r) for r in raters]] = np.arange(len(raters))
    rater_codes = rank[rater_codes]
    cell = unit_codes * len(raters) + rater_codes
    first_of_cell = np.full(len(units) * len(raters), n, dtype=np.intp)
    np.minimum.at(first_of_cell, cell, np.arange(n))
    repeated = np.flatnonzero(first_of_cell[cell] != np.arange(n))
    if repeated.size:
        at = int(repeated[0])
        raise AgreementInputError(
            f"rater {columns.raters[at]!r} rated unit {columns.units[at]!r} twice for variable {variable!r}; "
            "give one rating per (unit, rater, variable)"
        )
    first_of_unit = np.full(len(units), n, dtype=np.intp)
    np.minimum.at(first_of_unit, unit_codes, np.arange(n))
    unit_cluster = cluster_codes[first_of_unit]
    moved = np.flatnonzero(unit_cluster[unit_codes] != cluster_codes)
    if moved.size:
        at = int(moved[0])
        known = cluster_labels[int(unit_cluster[unit_codes[at]])]
        raise AgreementInputError(
            f"unit {columns.units[at]!r} is in cluster {known!r} and in cluster {columns.clusters[at]!r} "
            f"for variable {variable!r}; a unit belongs to one cluster"
        )
    values = np.full((len(units), len(raters)), None, dtype=object)
    values[unit_codes, rater_codes] = np.fromiter(columns.values, dtype=object, count=n)
    # the clusters in order of first appearance over the units (the order of their first ratings, so
    # already so numbered: parse_clusters only checks it)
    return _Table(units, raters, parse_clusters(unit_cluster, len(units)), values)


def _chance_free_name(matrix: RatingsMatrix) -> str:
    """PABAK on a binary scale; Brennan–Prediger (with its ``q``) on a larger one."""
    return "pabak" if matrix.q == 2 else "brennan_prediger"


def _positive(spec: VariableSpec, matrix: RatingsMatrix) -> Label | None:
    """The positive category of a binary scale (the one that is not ``negative``), else None."""
    if matrix.q != 2 or spec.negative is None or spec.negative not in matrix.categories:
        return None
    return next(c for c in matrix.categories if c != spec.negative)


def _pair_statistics(
    matrix: RatingsMatrix, spec: VariableSpec, clusters: Clusters
) -> list[tuple[str, AgreementResult]]:
    out: list[tuple[str, AgreementResult]] = [
        ("percent_agreement", stats.percent_agreement(matrix, clusters=clusters)),
        ("cohen_kappa", stats.cohen_kappa(matrix, clusters=clusters)),
    ]
    if spec.level is stats.Level.ORDINAL:
        out.append(("weighted_kappa_linear", stats.cohen_kappa(matrix, "linear", clusters=clusters)))
        out.append(("weighted_kappa_quadratic", stats.cohen_kappa(matrix, "quadratic", clusters=clusters)))
    out.append(("gwet_ac1", stats.gwet_ac1(matrix, clusters=clusters)))
    if spec.level is stats.Level.ORDINAL:
        out.append(("gwet_ac2_quadratic", stats.gwet_ac1(matrix, "quadratic", clusters=clusters)))
    out.append((_chance_free_name(matrix), stats.pabak(matrix, clusters=clusters)))
    positive = _positive(spec, matrix)
    if positive is not None:
        out.append(("positive_agreement", specific_agreement(matrix, positive, clusters=clusters)))
        out.append(("negative_agreement", specific_agreement(matrix, positive, negative=True, clusters=clusters)))
    return out


def _all_statistics(matrix: RatingsMatrix, spec: VariableSpec, clusters: Clusters) -> list[tuple[str, AgreementResult]]:
    out: list[tuple[str, AgreementResult]] = [
        ("percent_agreement", stats.percent_agreement(matrix, clusters=clusters)),
        ("fleiss_kappa", stats.fleiss_kappa(matrix, clusters=clusters)),
        ("conger_kappa", stats.conger_kappa(matrix, clusters=clusters)),
        (f"krippendorff_alpha_{spec.level.value}", stats.krippendorff_alpha(matrix, spec.level, clusters=clusters)),
        ("gwet_ac1", stats.gwet_ac1(matrix, clusters=clusters)),
        (_chance_free_name(matrix), stats.pabak(matrix, clusters=clusters)),
    ]
    if spec.level is stats.Level.ORDINAL:
        out += [
            ("fleiss_kappa_quadratic", stats.fleiss_kappa(matrix, weights="quadratic", clusters=clusters)),
            ("conger_kappa_quadratic", stats.conger_kappa(matrix, "quadratic", clusters=clusters)),
            ("gwet_ac2_quadratic", stats.gwet_ac1(matrix, "quadratic", clusters=clusters)),
        ]
    return out


def _counts(matrix: RatingsMatrix, spec: VariableSpec) -> Counts:
    codes = matrix.codes
    rated = (codes >= 0).any(axis=1)
    observed = tuple(matrix.categories[int(k)] for k in np.unique(codes[codes >= 0]))
    changed: int | None = None
    if spec.negative is not None and spec.negative in matrix.categories:
        negative = matrix.categories.index(spec.negative)
        changed = int(((codes >= 0) & (codes != negative)).any(axis=1).sum())
    return Counts(int(rated.sum()), changed, observed)


def _symmetry_tests(matrix: RatingsMatrix) -> tuple[SymmetryTest, ...]:
    if matrix.q == 2:
        return (mcnemar(matrix),)
    return (bowker(matrix),) if matrix.q > 2 else ()


class ReportOptions(TypedDict, total=False):
    """The options of :func:`build_report` beyond its records and specs (defaults: :func:`start_report`)."""

    pairs: Sequence[tuple[str, str]] | None
    include_all: bool
    level: float
    n_boot: int
    seed: int
    executor: Executor | None


def build_report(
    records: Iterable[RatingRecord] | Mapping[str, RatingColumns],
    specs: Iterable[VariableSpec] = (),
    **options: Unpack[ReportOptions],
) -> AgreementReport:
    """The agreement report of long-format ``records``: :class:`RatingRecord` objects, or each variable's
    :class:`RatingColumns` (the same ratings without an object per rating).

    ``specs`` give a variable's level and full ordered scale (unlisted variables are nominal on their
    observed labels). ``pairs`` restricts the pairwise comparisons (default: every pair of raters of
    the variable, sorted by name); ``include_all`` (default true) adds the all-raters comparison (Fleiss,
    Krippendorff) when a variable has at least two raters. Intervals are at ``level`` (0.95). Bootstrap
    CIs resample clusters (a record without a cluster is its own cluster), ``n_boot`` times (2000) with
    ``seed`` (0).

    Each variable is computed on its own (its comparisons, statistics and bootstraps), so with an
    ``executor`` the variables are submitted to it and gathered in order: a pool of processes spreads a
    large report over the cores, with the same result as without it (:func:`start_report` submits
    several reports before waiting for any).
    """
    return start_report(records, specs, **options).result()


@dataclass(frozen=True)
class PendingReport:
    """A report whose variables are being computed by an executor (:func:`start_report`)."""

    variables: tuple[Future[VariableReport], ...]
    level: float
    n_boot: int
    seed: int

    def result(self) -> AgreementReport:
        """The report, once every variable is computed (a variable's error is raised here)."""
        return AgreementReport(tuple(f.result() for f in self.variables), self.level, self.n_boot, self.seed)


def start_report(
    records: Iterable[RatingRecord] | Mapping[str, RatingColumns],
    specs: Iterable[VariableSpec] = (),
    *,
    pairs: Sequence[tuple[str, str]] | None = None,
    include_all: bool = True,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
    executor: Executor | None = None,
) -> PendingReport:
    """:func:`build_report`'s variables submitted to ``executor`` (computed here, now, without one), to
    be gathered with :meth:`PendingReport.result`."""
    by_name: dict[str, VariableSpec] = {}
    for spec in specs:
        by_name[spec.name] = spec
    columns = records if isinstance(records, Mapping) else _columns(records)
    numbered = _Numberings()
    tables = {variable: _table(variable, ratings, numbered) for variable, ratings in columns.items()}
    ordered = [name for name in by_name if name in tables] + sorted(n for n in tables if n not in by_name)
    jobs = [
        (name, by_name.get(name, VariableSpec(name)), tables[name], pairs, include_all, level, n_boot, seed)
        for name in ordered
    ]
    if executor is None:
        futures = [_done(_variable_report(*job)) for job in jobs]
    else:
        futures = [executor.submit(_variable_report, *job) for job in jobs]
    return PendingReport(tuple(futures), level, n_boot, seed)


def _done(report: VariableReport) -> Future[VariableReport]:
    """A variable computed here, as the future an executor would have given."""
    future: Future[VariableReport] = Future()
    future.set_result(report)
    return future


def _variable_report(
    name: str,
    spec: VariableSpec,
    table: _Table,
    pairs: Sequence[tuple[str, str]] | None,
    include_all: bool,
    level: float,
    n_boot: int,
    seed: int,
) -> VariableReport:
    """The report of one variable from its table (one job of :func:`start_report`): its ratings parsed
    onto the spec's scale, then every comparison."""
    try:
        matrix = parse_ratings(table.values, spec.categories)
    except AgreementInputError as exc:
        raise AgreementInputError(f"variable {name!r}: {exc.message}") from None
    position = {rater: i for i, rater in enumerate(table.raters)}
    cluster_codes = table.clusters
    wanted = list(itertools.combinations(table.raters, 2)) if pairs is None else list(pairs)
    comparisons: list[Comparison] = []

    def summarise(results: list[tuple[str, AgreementResult]], counts: Counts) -> tuple[StatisticSummary, ...]:
        return tuple(StatisticSummary.of(n, r, level, n_boot, seed, counts) for n, r in results)

    for a, b in wanted:
        if a not in position or b not in position:
            continue
        columns = [position[a], position[b]]
        rated = (matrix.codes[:, columns] >= 0).any(axis=1)
        sub = RatingsMatrix(matrix.codes[np.ix_(rated, columns)], matrix.categories)
        clusters = ParsedClusters(cluster_codes[rated], int(rated.sum()))
        positive = _positive(spec, sub)
        comparisons.append(
            Comparison(
                kind=ComparisonKind.PAIR,
                raters=(a, b),
                prevalence=stats.prevalence(sub),
                statistics=summarise(_pair_statistics(sub, spec, clusters), _counts(sub, spec)),
                confusion=tuple(tuple(int(x) for x in row) for row in stats.confusion_matrix(sub)),
                indices=None if positive is None else prevalence_bias(sub, positive),
                tests=_symmetry_tests(sub),
            )
        )
    if include_all and len(table.raters) >= 2:
        comparisons.append(
            Comparison(
                kind=ComparisonKind.ALL,
                raters=table.raters,
                prevalence=stats.prevalence(matrix),
                statistics=summarise(
                    _all_statistics(matrix, spec, ParsedClusters(cluster_codes, len(cluster_codes))),
                    _counts(matrix, spec),
                ),
            )
        )
    return VariableReport(
        variable=name,
        level=spec.level,
        categories=matrix.categories,
        raters=table.raters,
        n_units=len(table.units),
        n_clusters=int(cluster_codes.max()) + 1 if cluster_codes.size else 0,
        prevalence=stats.prevalence(matrix),
        comparisons=tuple(comparisons),
    )
