"""The summary table of a reliability report, in the shape papers print (docs/agreement.md#summary-table).

One row per variable, one cell per analysis (intra-rater, inter-rater). A cell holds the range of the
headline statistic over the comparisons that make it up (each rater's read 1 vs read 2; each pair of
raters), the pooled value with its interval and the interval's method, and what the pooled value
stands on (n units, n patients, n units with a change). The headline statistic is Cohen's kappa on a
nominal scale and quadratic-weighted kappa on an ordinal one; pooled, it is the same statistic on the
pooled intra-rater comparison (every rater's read 1 against their read 2) and Conger's kappa across all
raters for inter-rater agreement (Conger 1980: Cohen's kappa when there are two raters). The same cells
per endplate make the compact per-endplate table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from grading.agreement.report import AgreementReport, Comparison, ComparisonKind, StatisticSummary, VariableReport
from grading.agreement.statistics import Level
from grading.endplates import ENDPLATES

INTRA = "intra-rater"
INTER = "inter-rater"

HEADLINE: dict[Level, tuple[str, str]] = {
    Level.NOMINAL: ("cohen_kappa", "conger_kappa"),
    Level.ORDINAL: ("weighted_kappa_quadratic", "conger_kappa_quadratic"),
}
"""Per level of measurement: the pairwise statistic and the all-raters statistic of the table."""

SUMMARY_FIELDS: tuple[str, ...] = (
    "variable",
    "endplate",
    "analysis",
    "statistic",
    "range_low",
    "range_high",
    "n_comparisons",
    "pooled_statistic",
    "pooled",
    "ci_low",
    "ci_high",
    "ci_method",
    "n_units",
    "n_patients",
    "n_changed",
)
"""The columns of :meth:`SummaryCell.row`, in order (CSV)."""


@dataclass(frozen=True)
class SummaryCell:
    """One variable in one analysis: the range over comparisons and the pooled value."""

    analysis: str
    statistic: str
    range_low: float | None
    range_high: float | None
    n_comparisons: int
    pooled_statistic: str
    pooled: float | None
    ci: tuple[float | None, float | None]
    ci_method: str
    n_units: int
    n_patients: int
    n_changed: int | None

    def to_mapping(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "analysis": self.analysis,
            "statistic": self.statistic,
            "range": [self.range_low, self.range_high],
            "n_comparisons": self.n_comparisons,
            "pooled_statistic": self.pooled_statistic,
            "pooled": self.pooled,
            "ci": list(self.ci),
            "ci_method": self.ci_method,
            "n_units": self.n_units,
            "n_patients": self.n_patients,
            "n_changed": self.n_changed,
        }


@dataclass(frozen=True)
class SummaryRow:
    """One variable (pooled over endplates, or at one endplate) with its intra- and inter-rater cells."""

    variable: str
    endplate: str | None
    cells: tuple[SummaryCell, ...]

    def cell(self, analysis: str) -> SummaryCell | None:
        """The cell of ``analysis`` (:data:`INTRA` or :data:`INTER`), None when not analysed."""
        return next((c for c in self.cells if c.analysis == analysis), None)

    def to_mapping(self) -> dict[str, Any]:
        """JSON-ready: ``intra`` and ``inter`` cells (None when not analysed)."""
        intra, inter = self.cell(INTRA), self.cell(INTER)
        return {
            "variable": self.variable,
            "endplate": self.endplate,
            "intra": None if intra is None else intra.to_mapping(),
            "inter": None if inter is None else inter.to_mapping(),
        }

    def rows(self) -> list[dict[str, Any]]:
        """Flat rows, one per cell, with the :data:`SUMMARY_FIELDS` columns."""
        return [
            {
                "variable": self.variable,
                "endplate": self.endplate or "",
                "analysis": c.analysis,
                "statistic": c.statistic,
                "range_low": c.range_low,
                "range_high": c.range_high,
                "n_comparisons": c.n_comparisons,
                "pooled_statistic": c.pooled_statistic,
                "pooled": c.pooled,
                "ci_low": c.ci[0],
                "ci_high": c.ci[1],
                "ci_method": c.ci_method,
                "n_units": c.n_units,
                "n_patients": c.n_patients,
                "n_changed": c.n_changed,
            }
            for c in self.cells
        ]


@dataclass(frozen=True)
class SummaryTable:
    """The paper-shaped table (pooled variables) and the compact per-endplate table."""

    pooled: tuple[SummaryRow, ...]
    per_endplate: tuple[SummaryRow, ...]

    def row(self, variable: str, endplate: str | None = None) -> SummaryRow:
        """The row of ``variable`` (at ``endplate``); the error lists the variables present."""
        rows = self.pooled if endplate is None else self.per_endplate
        for row in rows:
            if row.variable == variable and row.endplate == endplate:
                return row
        raise KeyError(f"no summary row {variable!r} at {endplate!r}; present: {sorted({r.variable for r in rows})}")

    def to_mapping(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "pooled": [r.to_mapping() for r in self.pooled],
            "per_endplate": [r.to_mapping() for r in self.per_endplate],
        }


def _number(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def _interval(s: StatisticSummary) -> tuple[tuple[float | None, float | None], str]:
    """The analytic interval when there is one, else the bootstrap one; with its method."""
    if not any(math.isnan(x) for x in s.ci_analytic):
        return (_number(s.ci_analytic[0]), _number(s.ci_analytic[1])), s.ci_method
    return (_number(s.ci_bootstrap[0]), _number(s.ci_bootstrap[1])), s.boot_method


def _cell(
    analysis: str, variable: VariableReport, parts: list[Comparison], pooled: Comparison | None
) -> SummaryCell | None:
    statistic, across = HEADLINE[variable.level]
    if pooled is None:
        return None
    pooled_name = statistic if pooled.kind is ComparisonKind.PAIR else across
    values = [v for v in (_number(c.statistic(statistic).value) for c in parts) if v is not None]
    summary = pooled.statistic(pooled_name)
    ci, method = _interval(summary)
    return SummaryCell(
        analysis=analysis,
        statistic=statistic,
        range_low=min(values, default=None),
        range_high=max(values, default=None),
        n_comparisons=len(parts),
        pooled_statistic=pooled_name,
        pooled=_number(summary.value),
        ci=ci,
        ci_method=method,
        n_units=summary.n_units,
        n_patients=summary.n_patients,
        n_changed=summary.n_changed,
    )


def _inter_cell(variable: VariableReport) -> SummaryCell | None:
    pairs = [c for c in variable.comparisons if c.kind is ComparisonKind.PAIR]
    everyone = next((c for c in variable.comparisons if c.kind is ComparisonKind.ALL), None)
    return _cell(INTER, variable, pairs, everyone)


def _intra_cell(variable: VariableReport, pooled_pair: tuple[str, str]) -> SummaryCell | None:
    pairs = [c for c in variable.comparisons if c.kind is ComparisonKind.PAIR and c.raters != pooled_pair]
    pooled = next((c for c in variable.comparisons if c.raters == pooled_pair), None)
    return _cell(INTRA, variable, pairs, pooled)


def summary_table(inter: AgreementReport, intra: AgreementReport | None, pooled_pair: tuple[str, str]) -> SummaryTable:
    """The summary of an inter-rater report and an intra-rater one (None with one read per rater);
    ``pooled_pair`` names the intra-rater report's pooled comparison (all raters' read 1 vs read 2)."""
    intra_variables = {} if intra is None else {v.variable: v for v in intra.variables}
    names = [v.variable for v in inter.variables] + [n for n in intra_variables if _absent(inter, n)]
    inter_variables = {v.variable: v for v in inter.variables}
    rows: dict[tuple[str, str | None], SummaryRow] = {}
    for name in names:
        cells = []
        if name in intra_variables:
            cells.append(_intra_cell(intra_variables[name], pooled_pair))
        if name in inter_variables:
            cells.append(_inter_cell(inter_variables[name]))
        present = tuple(c for c in cells if c is not None)
        if not present:
            continue
        base, _, endplate = name.partition("@")
        rows[(base, endplate or None)] = SummaryRow(base, endplate or None, present)
    pooled = tuple(r for r in rows.values() if r.endplate is None)
    order = {e.value: i for i, e in enumerate(ENDPLATES)}
    per_endplate = tuple(
        sorted((r for r in rows.values() if r.endplate is not None), key=lambda r: order.get(r.endplate or "", 99))
    )
    return SummaryTable(pooled, per_endplate)


def _absent(inter: AgreementReport, name: str) -> bool:
    """Whether ``name`` is absent from the inter-rater report (a one-rater, two-read study)."""
    return all(v.variable != name for v in inter.variables)


@dataclass(frozen=True)
class Method:
    """How one statistic of the report is estimated: its standard error and weights (GRRAS item 13)."""

    statistic: str
    standard_error: str
    weights: str

    def to_mapping(self) -> dict[str, str]:
        """JSON-ready."""
        return {"statistic": self.statistic, "standard_error": self.standard_error, "weights": self.weights}


_LINEARISED = "Gwet's linearisation, SE² = Σ IF_i² / (n(n−1)) (Gwet 2014, eq. 5.6)"
_CLUSTERED = "; pooled over endplates: the cluster-robust SE² = G/(G−1) · Σ_g (Σ_i∈g IF_i)² / n² (Williams 2000)"
LINEAR = "linear 1 − |i − j|/(q − 1) (Cicchetti–Allison)"
QUADRATIC = "quadratic 1 − (i − j)²/(q − 1)² (Fleiss–Cohen)"

METHODS: tuple[Method, ...] = (
    Method("percent_agreement", "Wilson score interval on n (pooled: on n / design effect)", "none"),
    Method("cohen_kappa", "Fleiss, Cohen & Everitt 1969 (its influence-function form)" + _CLUSTERED, "none"),
    Method("weighted_kappa_linear", "Fleiss, Cohen & Everitt 1969" + _CLUSTERED, LINEAR),
    Method("weighted_kappa_quadratic", "Fleiss, Cohen & Everitt 1969" + _CLUSTERED, QUADRATIC),
    Method("gwet_ac1 / gwet_ac2_quadratic", _LINEARISED + _CLUSTERED, "none / " + QUADRATIC),
    Method("pabak / brennan_prediger", _LINEARISED + _CLUSTERED, "none; q = categories on the scale"),
    Method("positive_agreement / negative_agreement", "ratio estimator (Graham & Bull 1998)" + _CLUSTERED, "none"),
    Method("fleiss_kappa (_quadratic)", _LINEARISED + _CLUSTERED, "none / " + QUADRATIC),
    Method("conger_kappa (_quadratic)", "no analytic SE: patient bootstrap interval only", "none / " + QUADRATIC),
    Method("krippendorff_alpha", _LINEARISED + _CLUSTERED, "nominal or ordinal distance"),
    Method("icc_a1 (extension_pct)", "F-based interval of McGraw & Wong 1996 (Satterthwaite df)", "none"),
    Method("bland_altman_bias", "t interval of the mean difference", "none"),
)
"""Every statistic of the report with its standard error (or interval) and weights (docs/agreement.md)."""
