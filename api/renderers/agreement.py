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
    return out.getvalue()


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
    parts.append("</body></html>")
    return "".join(parts)
