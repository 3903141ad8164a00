"""The reliability report as CSV and as an HTML page with confusion-matrix heat maps (matplotlib Agg canvas)."""

from __future__ import annotations

import base64
import csv
import enum
import html
import io
import math
from collections.abc import Iterable

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from grading.agreement import ROW_FIELDS, AgreementReport, Comparison, VariableReport
from grading.agreement.continuous import ContinuousComparison
from grading.agreement.interpretation import CAVEAT
from grading.agreement.summary import INTER, INTRA, SUMMARY_FIELDS, SummaryCell, SummaryRow
from registry.services.reliability import Grras, StudyReport

HEATMAP_VARIABLES = ("presence", "type", "size", "beyond_endplate")
"""Pooled variables drawn as heat maps; per-endplate variables are in the tables only."""


def _analyses(report: StudyReport) -> Iterable[tuple[str, AgreementReport]]:
    yield "inter-rater", report.inter_rater
    if report.intra_rater is not None:
        yield "intra-rater", report.intra_rater


def _write(fields: Iterable[str], rows: Iterable[dict[str, object]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=tuple(fields), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


def report_csv(report: StudyReport) -> str:
    """One row per (analysis, variable, comparison, statistic)."""
    rows = [{"analysis": a, **row} for a, agreement in _analyses(report) for row in agreement.rows()]
    rows += [{"analysis": a, **row} for a, comparison in report.continuous for row in _continuous_rows(comparison)]
    return _write(("analysis", *ROW_FIELDS), rows)


class ReportTable(enum.Enum):
    """Which table of the report a CSV holds."""

    statistics = "statistics"
    """Every statistic of every comparison (the default)."""
    summary = "summary"
    """The summary table: a row per variable and analysis."""
    endplates = "endplates"
    """The same per endplate."""
    raters = "raters"
    """The GRRAS rater table."""


def table_csv(report: StudyReport, table: ReportTable) -> str:
    """The CSV of one table of the report."""
    if table is ReportTable.summary or table is ReportTable.endplates:
        return summary_csv(report, per_endplate=table is ReportTable.endplates)
    return raters_csv(report) if table is ReportTable.raters else report_csv(report)


def summary_csv(report: StudyReport, *, per_endplate: bool = False) -> str:
    """The summary table (or the per-endplate one): a row per variable and analysis."""
    assert report.summary is not None
    rows = report.summary.per_endplate if per_endplate else report.summary.pooled
    return _write(SUMMARY_FIELDS, (r for row in rows for r in row.rows()))


RATER_FIELDS = (
    "rater",
    "pseudonym",
    "role",
    "experience_years",
    "read",
    "planned",
    "done",
    "missing",
    "viewed_T2",
    "viewed_STIR",
    "viewed_T2+STIR",
    "viewed_not_reported",
    "interval_n",
    "interval_min_days",
    "interval_median_days",
    "interval_max_days",
)
"""The columns of the GRRAS rater table (CSV)."""


def _rater_rows(grras: Grras) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for rater in grras.raters:
        spread = rater.interval_days.to_mapping()
        for read in rater.reads:
            rows.append(
                {
                    "rater": rater.rater,
                    "pseudonym": rater.pseudonym,
                    "role": rater.role,
                    "experience_years": rater.experience_years,
                    "read": read.read,
                    "planned": read.planned,
                    "done": read.done,
                    "missing": read.planned - read.done,
                    **{f"viewed_{k}": n for k, n in read.series_viewed.items()},
                    "interval_n": spread["n"],
                    "interval_min_days": spread["min"],
                    "interval_median_days": spread["median"],
                    "interval_max_days": spread["max"],
                }
            )
    return rows


def raters_csv(report: StudyReport) -> str:
    """The GRRAS rater table: each rater's role, experience, reads planned and done, series viewed and
    the interval between read 1 and read 2."""
    assert report.grras is not None
    return _write(RATER_FIELDS, _rater_rows(report.grras))


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


def _range(cell: SummaryCell) -> str:
    if cell.range_low is None or cell.range_high is None:
        return "—"
    if cell.n_comparisons == 1:
        return _fmt(cell.range_low)
    return f"{_fmt(cell.range_low)}–{_fmt(cell.range_high)}"


def _cell_html(cell: SummaryCell | None) -> str:
    if cell is None:
        return "<td colspan='4'>not analysed</td>"
    ci = f"{_fmt(cell.ci[0])} to {_fmt(cell.ci[1])}"
    changed = "" if cell.n_changed is None else f", {cell.n_changed} changed"
    texts = (
        f"{_range(cell)} ({cell.n_comparisons})",
        f"{_fmt(cell.pooled)} [{cell.pooled_statistic}]",
        f"{ci} ({cell.ci_method})",
        f"{cell.n_units} units, {cell.n_patients} patients{changed}",
    )
    return "".join(f"<td>{html.escape(t)}</td>" for t in texts)


def _summary_html(rows: Iterable[SummaryRow]) -> str:
    """The paper-shaped table: a row per variable; range, pooled value, interval and n per analysis."""
    head = (
        "<tr><th rowspan='2'>variable</th><th colspan='4'>intra-rater (read 1 vs read 2)</th>"
        "<th colspan='4'>inter-rater (read 1)</th></tr><tr>"
        + "<th>range (comparisons)</th><th>pooled</th><th>95% CI (method)</th><th>n</th>" * 2
        + "</tr>"
    )
    body = "".join(
        f"<tr><td>{html.escape(r.variable)}</td>{_cell_html(r.cell(INTRA))}{_cell_html(r.cell(INTER))}</tr>"
        for r in rows
    )
    return f"<table class='summary'><thead>{head}</thead><tbody>{body}</tbody></table>"


ENDPLATE_COLUMNS = ("presence", "type", "size", "beyond_endplate")
"""The variables of the compact per-endplate HTML table (the JSON and CSV have them all)."""


def _endplates_html(rows: Iterable[SummaryRow]) -> str:
    """Endplate × (variable, analysis): the pooled value with n changed, compactly."""
    by_endplate: dict[str, dict[str, SummaryRow]] = {}
    for row in rows:
        by_endplate.setdefault(row.endplate or "", {})[row.variable] = row
    head = "<tr><th rowspan='2'>endplate</th>" + "".join(
        f"<th colspan='2'>{html.escape(v)}</th>" for v in ENDPLATE_COLUMNS
    )
    head += "</tr><tr>" + "<th>intra</th><th>inter</th>" * len(ENDPLATE_COLUMNS) + "</tr>"
    body = []
    for endplate, variables in by_endplate.items():
        cells = []
        for name in ENDPLATE_COLUMNS:
            found = variables.get(name)
            for analysis in (INTRA, INTER):
                cell = None if found is None else found.cell(analysis)
                text = "—" if cell is None else f"{_fmt(cell.pooled)} ({cell.n_changed or 0} ch.)"
                cells.append(f"<td>{html.escape(text)}</td>")
        body.append(f"<tr><td>{html.escape(endplate)}</td>{''.join(cells)}</tr>")
    return f"<table class='endplates'><thead>{head}</thead><tbody>{''.join(body)}</tbody></table>"


def _grras_html(grras: Grras) -> str:
    """Design and conduct, as GRRAS asks: sampling, raters, blinding, washout and intervals, reads
    planned and done, missing reads, series viewed, order and methods."""
    g = grras.to_mapping()
    sampling = g["sampling"]
    blinded = ", ".join(
        f"{b['item']}{' (enforced by the service)' if b['enforced_by_service'] else ''}" for b in g["blinded_to"]
    )
    items = [
        ("Sampling", f"{sampling['method'] or 'not recorded'}; {sampling['note'] or 'no description recorded'}; "
         f"{sampling['cases']} cases of {sampling['patients']} patients"),
        ("Raters blinded to", blinded),
        ("Reads per rater", str(g["reads_per_rater"])),
        ("Planned washout", f"{g['washout_days_planned']} days"),
        ("Read-2 labels", g["read_2_labels"]),
        ("Case order", f"seed {g['order']['seed']}, scheme {g['order']['scheme']}: {g['order']['derivation']}"),
        ("Missing reads", f"{g['missing_reads']['count']}. {g['missing_reads']['handling']}"),
        ("Protocol", g["protocol"]),
    ]  # fmt: skip
    parts = ["<h2>Design and conduct (GRRAS)</h2><dl class='grras'>"]
    parts += [f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in items]
    parts.append("</dl><h3>Raters and their reads</h3>")
    head = "".join(f"<th>{html.escape(f)}</th>" for f in RATER_FIELDS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('—' if r[f] is None else str(r[f]))}</td>" for f in RATER_FIELDS) + "</tr>"
        for r in _rater_rows(grras)
    )
    parts.append(f"<table class='raters'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    parts.append("<h3>Standard errors and weights</h3><table class='methods'><thead><tr><th>statistic</th>"
                 "<th>standard error / interval</th><th>weights</th></tr></thead><tbody>")  # fmt: skip
    parts += [
        f"<tr><td>{html.escape(m['statistic'])}</td><td>{html.escape(m['standard_error'])}</td>"
        f"<td>{html.escape(m['weights'])}</td></tr>"
        for m in g["methods"]
    ]
    parts.append("</tbody></table>")
    return "".join(parts)


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
    if report.summary is not None:
        parts.append(
            "<h2>Summary</h2><p>Range: of Cohen's kappa (quadratic-weighted on ordinal scales) over each rater's "
            "two reads (intra) or each pair of raters (inter), with the number of comparisons; pooled: the same "
            "statistic on all raters' read 1 vs read 2 (intra) and Conger's kappa across all raters (inter).</p>"
        )
        parts.append(_summary_html(report.summary.pooled))
        if report.summary.per_endplate:
            parts.append("<h3>Per endplate (pooled values; ch. = endplates with a change)</h3>")
            parts.append(_endplates_html(report.summary.per_endplate))
    if report.grras is not None:
        parts.append(_grras_html(report.grras))
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
