"""An agreement report from long-format ratings: per variable, pairwise and across all raters.

For each variable (docs/agreement.md#variables): prevalence, percent agreement, Cohen's kappa (and weighted kappa on
an ordinal scale) with analytic and cluster-bootstrap CIs, Gwet's AC1, PABAK, the Landis–Koch label
and the confusion matrix of every rater pair; Fleiss' kappa and Krippendorff's alpha across all raters.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grading.agreement.ratings import AgreementInputError, Label, RatingsMatrix, parse_categories, parse_ratings
from grading.agreement.result import AgreementResult, CIMethod
from grading.agreement.statistics import (
    Level,
    cohen_kappa,
    confusion_matrix,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    pabak,
    percent_agreement,
    prevalence,
)

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


@dataclass(frozen=True)
class VariableSpec:
    """How to analyse one variable: its level of measurement and, optionally, its full ordered scale."""

    name: str
    level: Level = Level.NOMINAL
    categories: tuple[Label, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise AgreementInputError(f"variable name {self.name!r} must be a non-empty string")
        object.__setattr__(self, "level", Level(self.level))
        if self.categories is not None:
            object.__setattr__(self, "categories", parse_categories(self.categories))


class ComparisonKind(enum.StrEnum):
    """Which raters a comparison covers."""

    PAIR = "pair"
    """Two raters (or two reads of one rater): Cohen's kappa and the confusion matrix."""
    ALL = "all"
    """Every rater of the variable: Fleiss' kappa and Krippendorff's alpha."""


@dataclass(frozen=True)
class StatisticSummary:
    """One statistic of a comparison with both confidence intervals (no Landis–Koch band for percent agreement)."""

    name: str
    value: float
    se: float
    ci_analytic: tuple[float, float]
    ci_bootstrap: tuple[float, float]
    n_units: int
    landis_koch: str | None
    reason: str | None

    @classmethod
    def of(cls, name: str, result: AgreementResult, level: float, n_boot: int, seed: int) -> StatisticSummary:
        """Summarise ``result`` under ``name`` with its analytic and bootstrap intervals."""
        return cls(
            name=name,
            value=result.value,
            se=result.se,
            ci_analytic=result.ci(level, CIMethod.ANALYTIC),
            ci_bootstrap=result.ci(level, CIMethod.BOOTSTRAP, n_boot=n_boot, seed=seed),
            n_units=result.n_units,
            landis_koch=None if name == "percent_agreement" else result.landis_koch.value,
            reason=result.reason,
        )

    def to_mapping(self) -> dict[str, Any]:
        """JSON-ready: NaN written as ``None``."""
        return {
            "name": self.name,
            "value": _clean(self.value),
            "se": _clean(self.se),
            "ci_analytic": [_clean(x) for x in self.ci_analytic],
            "ci_bootstrap": [_clean(x) for x in self.ci_bootstrap],
            "n_units": self.n_units,
            "landis_koch": self.landis_koch,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Comparison:
    """The statistics of one rater pair, or of all raters together."""

    kind: ComparisonKind
    raters: tuple[str, ...]
    prevalence: dict[Label, float]
    statistics: tuple[StatisticSummary, ...]
    confusion: tuple[tuple[int, ...], ...] = ()

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
        }


@dataclass(frozen=True)
class VariableReport:
    """Every comparison of one variable."""

    variable: str
    level: Level
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
                            "boot_low": _clean(s.ci_bootstrap[0]),
                            "boot_high": _clean(s.ci_bootstrap[1]),
                            "n_units": s.n_units,
                            "landis_koch": s.landis_koch,
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
    "boot_low",
    "boot_high",
    "n_units",
    "landis_koch",
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
    clusters: tuple[str, ...]
    values: list[list[Label | None]]


def _tables(records: Iterable[RatingRecord]) -> dict[str, _Table]:
    cells: dict[str, dict[tuple[str, str], Label | None]] = {}
    unit_cluster: dict[str, dict[str, str]] = {}
    unit_order: dict[str, dict[str, None]] = {}
    rater_set: dict[str, set[str]] = {}
    for record in records:
        if not isinstance(record, RatingRecord):
            raise AgreementInputError(f"expected RatingRecord, got {record!r}")
        variable = record.variable
        key = (record.unit, record.rater)
        bucket = cells.setdefault(variable, {})
        if key in bucket:
            raise AgreementInputError(
                f"rater {record.rater!r} rated unit {record.unit!r} twice for variable {variable!r}; "
                "give one rating per (unit, rater, variable)"
            )
        bucket[key] = record.value
        unit_order.setdefault(variable, {})[record.unit] = None
        rater_set.setdefault(variable, set()).add(record.rater)
        cluster = record.unit if record.cluster is None else record.cluster
        known = unit_cluster.setdefault(variable, {}).setdefault(record.unit, cluster)
        if known != cluster:
            raise AgreementInputError(
                f"unit {record.unit!r} is in cluster {known!r} and in cluster {cluster!r} for variable {variable!r}; "
                "a unit belongs to one cluster"
            )
    tables: dict[str, _Table] = {}
    for variable, bucket in cells.items():
        units = tuple(unit_order[variable])
        raters = tuple(sorted(rater_set[variable]))
        values = [[bucket.get((u, r)) for r in raters] for u in units]
        clusters = tuple(unit_cluster[variable][u] for u in units)
        tables[variable] = _Table(units, raters, clusters, values)
    return tables


def _pair_statistics(
    matrix: RatingsMatrix, spec: VariableSpec, clusters: Sequence[str]
) -> list[tuple[str, AgreementResult]]:
    out: list[tuple[str, AgreementResult]] = [
        ("percent_agreement", percent_agreement(matrix, clusters=clusters)),
        ("cohen_kappa", cohen_kappa(matrix, clusters=clusters)),
    ]
    if spec.level is Level.ORDINAL:
        out.append(("weighted_kappa_linear", cohen_kappa(matrix, "linear", clusters=clusters)))
        out.append(("weighted_kappa_quadratic", cohen_kappa(matrix, "quadratic", clusters=clusters)))
    out.append(("gwet_ac1", gwet_ac1(matrix, clusters=clusters)))
    if spec.level is Level.ORDINAL:
        out.append(("gwet_ac2_quadratic", gwet_ac1(matrix, "quadratic", clusters=clusters)))
    out.append(("pabak", pabak(matrix, clusters=clusters)))
    return out


def _all_statistics(
    matrix: RatingsMatrix, spec: VariableSpec, clusters: Sequence[str]
) -> list[tuple[str, AgreementResult]]:
    return [
        ("percent_agreement", percent_agreement(matrix, clusters=clusters)),
        ("fleiss_kappa", fleiss_kappa(matrix, clusters=clusters)),
        (f"krippendorff_alpha_{spec.level.value}", krippendorff_alpha(matrix, spec.level, clusters=clusters)),
        ("gwet_ac1", gwet_ac1(matrix, clusters=clusters)),
        ("pabak", pabak(matrix, clusters=clusters)),
    ]


def build_report(
    records: Iterable[RatingRecord],
    specs: Iterable[VariableSpec] = (),
    *,
    pairs: Sequence[tuple[str, str]] | None = None,
    include_all: bool = True,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> AgreementReport:
    """The agreement report of long-format ``records``.

    ``specs`` give a variable's level and full ordered scale (unlisted variables are nominal on their
    observed labels). ``pairs`` restricts the pairwise comparisons (default: every pair of raters of
    the variable, sorted by name); ``include_all`` adds the all-raters comparison (Fleiss, Krippendorff)
    when a variable has at least two raters. Bootstrap CIs resample clusters (a record without a
    cluster is its own cluster), ``n_boot`` times with ``seed``.
    """
    by_name: dict[str, VariableSpec] = {}
    for spec in specs:
        by_name[spec.name] = spec
    tables = _tables(records)
    ordered = [name for name in by_name if name in tables] + sorted(n for n in tables if n not in by_name)
    reports: list[VariableReport] = []
    for name in ordered:
        table = tables[name]
        spec = by_name.get(name, VariableSpec(name))
        try:
            matrix = parse_ratings(table.values, spec.categories)
        except AgreementInputError as exc:
            raise AgreementInputError(f"variable {name!r}: {exc.message}") from None
        reports.append(_variable_report(name, spec, table, matrix, pairs, include_all, level, n_boot, seed))
    return AgreementReport(tuple(reports), level, n_boot, seed)


def _variable_report(
    name: str,
    spec: VariableSpec,
    table: _Table,
    matrix: RatingsMatrix,
    pairs: Sequence[tuple[str, str]] | None,
    include_all: bool,
    level: float,
    n_boot: int,
    seed: int,
) -> VariableReport:
    position = {rater: i for i, rater in enumerate(table.raters)}
    wanted = list(itertools.combinations(table.raters, 2)) if pairs is None else list(pairs)
    comparisons: list[Comparison] = []

    def summarise(results: list[tuple[str, AgreementResult]]) -> tuple[StatisticSummary, ...]:
        return tuple(StatisticSummary.of(n, r, level, n_boot, seed) for n, r in results)

    for a, b in wanted:
        if a not in position or b not in position:
            continue
        columns = [position[a], position[b]]
        rated = (matrix.codes[:, columns] >= 0).any(axis=1)
        sub = RatingsMatrix(matrix.codes[np.ix_(rated, columns)], matrix.categories)
        clusters = [c for c, keep in zip(table.clusters, rated, strict=True) if keep]
        comparisons.append(
            Comparison(
                kind=ComparisonKind.PAIR,
                raters=(a, b),
                prevalence=prevalence(sub),
                statistics=summarise(_pair_statistics(sub, spec, clusters)),
                confusion=tuple(tuple(int(x) for x in row) for row in confusion_matrix(sub)),
            )
        )
    if include_all and len(table.raters) >= 2:
        comparisons.append(
            Comparison(
                kind=ComparisonKind.ALL,
                raters=table.raters,
                prevalence=prevalence(matrix),
                statistics=summarise(_all_statistics(matrix, spec, table.clusters)),
            )
        )
    return VariableReport(
        variable=name,
        level=spec.level,
        categories=matrix.categories,
        raters=table.raters,
        n_units=len(table.units),
        n_clusters=len(set(table.clusters)),
        prevalence=prevalence(matrix),
        comparisons=tuple(comparisons),
    )
