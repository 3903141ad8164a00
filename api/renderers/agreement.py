"""The reliability report as CSV and as an HTML page with confusion-matrix heat maps (matplotlib Agg canvas)."""

from __future__ import annotations

import base64
import csv
import html
import io
import math
from collections.abc import Iterable

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from grading.agreement import ROW_FIELDS, AgreementReport, Comparison, VariableReport
from grading.agreement.continuous import ContinuousComparison
from grading.agreement.interpretation import CAVEAT
from registry.services.reliability import StudyReport

HEATMAP_VARIABLES = ("presence", "type", "size", "beyond_endplate")
"""Pooled variables drawn as heat maps; per-endplate variables are in the tables only."""


def _analyses(report: StudyReport) -> Iterable[tuple[str, AgreementReport]]:
    yield "inter-rater", report.inter_rater
    if report.intra_rater is not None:
        yield "intra-rater", report.intra_rater


def report_csv(report: StudyReport) -> str:
    """One row per (analysis, variable, comparison, statistic)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=("analysis", *ROW_FIELDS), lineterminator="\n")
    writer.writeheader()
    for analysis, agreement in _analyses(report):
        for row in agreement.rows():
            writer.writerow({"analysis": analysis, **{k: "" if v is None else v for k, v in row.items()}})
    for analysis, comparison in report.continuous:
        for row in _continuous_rows(comparison):
            writer.writerow({"analysis": analysis, **{k: "" if v is None else v for k, v in row.items()}})
    return out.getvalue()


def _continuous_rows(comparison: ContinuousComparison) -> list[dict[str, object]]:
    """ICC(A,1), the Bland–Altman bias and its limits as report rows."""
    icc, ba = comparison.icc, comparison.bland_altman
    common = {"variable": comparison.variable, "comparison": comparison.label, "n_units": icc.n_units}
    return [
        {**common, "statistic": "icc_a1", "value": icc.value, "ci_low": icc.ci[0], "ci_high": icc.ci[1],
         "ci_method": "mcgraw-wong-F", "reason": icc.reason or ""},
        {**common, "statistic": "bland_altman_bias", "value": ba.bias, "se": ba.sd / max(ba.n_units, 1) ** 0.5,
         "ci_low": ba.bias_ci[0], "ci_high": ba.bias_ci[1], "ci_method": "t"},
        {**common, "statistic": "limits_of_agreement", "ci_low": ba.lower, "ci_high": ba.upper,
         "ci_method": "bias ± 1.96 SD"},
    ]  # fmt: skip


def bland_altman_png(comparison: ContinuousComparison) -> bytes:
    """The Bland–Altman plot: differences against means, with the bias and the limits of agreement."""
    ba = comparison.bland_altman
    figure = Figure(figsize=(4.2, 3.2), dpi=90)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.scatter(ba.means, ba.differences, s=12, color="#1f77b4")
    for level, style in ((ba.bias, "-"), (ba.lower, "--"), (ba.upper, "--")):
        if not math.isnan(level):
            axes.axhline(level, color="#444", linestyle=style, linewidth=1)
    axes.set_xlabel("mean extension (%)")
    axes.set_ylabel(f"{comparison.raters[1]} − {comparison.raters[0]}")
    axes.set_title(f"extension_pct: {comparison.label}", fontsize=9)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def heatmap_png(variable: VariableReport, comparison: Comparison) -> bytes:
    """The confusion matrix of one rater pair as a PNG heat map."""
    labels = [str(c) for c in variable.categories]
    size = max(3.0, 0.55 * len(labels) + 1.8)
    # The object API on an Agg canvas: no pyplot global state, safe in a server's threads.
    figure = Figure(figsize=(size, size * 0.9), dpi=90)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    counts = [list(row) for row in comparison.confusion]
    image = axes.imshow(counts, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel(comparison.raters[1])
    axes.set_ylabel(comparison.raters[0])
    peak = max((max(row) for row in counts), default=0)
    for i, row in enumerate(counts):
        for j, n in enumerate(row):
            axes.text(j, i, str(n), ha="center", va="center", color="white" if n > peak / 2 else "black")
    axes.set_title(f"{variable.variable}: {comparison.label}", fontsize=9)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _fmt(x: float | None) -> str:
    return "—" if x is None or math.isnan(x) else f"{x:.3f}"


def _table(agreement: AgreementReport) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ROW_FIELDS)
    body = []
    for row in agreement.rows():
        cells = []
        for key in ROW_FIELDS:
            value = row[key]
            text = _fmt(value) if isinstance(value, float) or (value is None and key != "reason") else str(value or "")
            cells.append(f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


METHODS = (
    "Every interval names its method. <b>analytic</b>: value ± z·SE with units independent; "
    "<b>analytic-clustered</b>: the cluster-robust (sandwich) SE with patients as clusters, used for every "
    "variable pooled over a patient's endplates; <b>wilson</b> / <b>wilson-clustered</b>: Wilson's score "
    "interval for percent agreement (clustered: on the effective n, n divided by the design effect); "
    "<b>bootstrap-patients</b>: percentile interval of resampled patients, <i>boot_dropped</i> counting the "
    "resamples on which the statistic was undefined. On a binary scale the chance-free statistic is PABAK, "
    "on a larger one Brennan–Prediger with its number of categories q."
)


def _indices_table(agreement: AgreementReport) -> str:
    """Prevalence and bias indices, specific agreement and the symmetry tests of every rater pair."""
    head = (
        "<tr><th>variable</th><th>comparison</th><th>a / b / c / d</th><th>prevalence index</th>"
        "<th>bias index</th><th>test</th><th>statistic (df)</th><th>p</th></tr>"
    )
    body = []
    for variable in agreement.variables:
        for comparison in variable.comparisons:
            for test in comparison.tests:
                i = comparison.indices
                cells = [
                    variable.variable,
                    comparison.label,
                    "—" if i is None else f"{i.a} / {i.b} / {i.c} / {i.d}",
                    "—" if i is None else _fmt(i.prevalence_index),
                    "—" if i is None else _fmt(i.bias_index),
                    test.name,
                    f"{test.statistic:.3f} ({test.df})",
                    _fmt(test.p_value if test.exact_p_value is None else test.exact_p_value),
                ]
                body.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    return f"<table><thead>{head}</thead><tbody>{''.join(body)}</tbody></table>"


def report_html(report: StudyReport) -> str:
    """A self-contained page: heat maps of the pooled variables, then every statistic in a table."""
    s = report.study
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Reliability report: {html.escape(s.name)}</title>",
        "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}figure{display:inline-block;margin:6px}"
        "</style></head><body>",
        f"<h1>Reliability report: {html.escape(s.name)}</h1>",
        f"<p>{report.cases} cases, {report.complete_reads} completed reads, {s.reads_per_rater} read(s) per rater, "
        f"washout {s.washout_days} days. Confidence intervals: analytic and patient-cluster bootstrap "
        f"({report.inter_rater.n_boot} resamples, seed {report.inter_rater.seed}).</p>",
        f"<p class='methods'>{METHODS}</p>",
        "<p class='caveat'><b>Benchmark scale: Landis &amp; Koch (1977)</b> — poor &lt; 0, slight 0.00–0.20, "
        "fair 0.21–0.40, moderate 0.41–0.60, substantial 0.61–0.80, almost perfect 0.81–1.00 (upper limits "
        f"inclusive). {html.escape(CAVEAT)} No band is given where fewer than two categories were observed.</p>",
    ]
    for analysis, agreement in _analyses(report):
        parts.append(f"<h2>{html.escape(analysis.capitalize())} agreement</h2>")
        for variable in agreement.variables:
            if variable.variable not in HEATMAP_VARIABLES and not variable.variable.startswith("mri:"):
                continue
            for comparison in variable.comparisons:
                if not comparison.confusion:
                    continue
                png = base64.b64encode(heatmap_png(variable, comparison)).decode()
                alt = html.escape(f"confusion matrix of {variable.variable}, {comparison.label}")
                parts.append(f"<figure><img alt='{alt}' src='data:image/png;base64,{png}'></figure>")
        parts.append(_table(agreement))
        parts.append(f"<h3>{html.escape(analysis.capitalize())}: prevalence, bias and symmetry</h3>")
        parts.append(_indices_table(agreement))
    if report.continuous:
        parts.append("<h2>extension_pct: ICC(A,1) and Bland–Altman</h2>")
        parts.append(
            "<p>Two-way random, absolute agreement, single rater (McGraw &amp; Wong 1996), F-based interval; "
            "Bland–Altman bias with its t interval and limits bias ± 1.96 SD, on the endplates both reads "
            "measured (pooled over endplates).</p>"
        )
        for analysis, measured in report.continuous:
            row = measured.to_mapping()
            parts.append(
                f"<p>{html.escape(analysis)}, {html.escape(measured.label)}: n {row['n_units']}, "
                f"ICC {_fmt(measured.icc.value)} ({_fmt(measured.icc.ci[0])} to {_fmt(measured.icc.ci[1])}), "
                f"bias {_fmt(measured.bland_altman.bias)}, limits {_fmt(measured.bland_altman.lower)} to "
                f"{_fmt(measured.bland_altman.upper)}</p>"
            )
            if measured.bland_altman.n_units >= 2:
                png = base64.b64encode(bland_altman_png(measured)).decode()
                alt = html.escape(f"Bland-Altman plot of extension_pct, {measured.label}")
                parts.append(f"<figure><img alt='{alt}' src='data:image/png;base64,{png}'></figure>")
    parts.append("</body></html>")
    return "".join(parts)
