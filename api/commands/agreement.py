"""``modic agreement FILE.csv [--json]``: the agreement report of ratings made elsewhere.

Long format with a header row: ``unit,rater,value`` and optionally ``cluster`` (e.g. the patient, for
the bootstrap) and ``variable``. An empty ``value`` is a missing rating. A variable whose values are all
integers is read as integers (so they sort numerically); ``--ordinal VARIABLE=c1,c2,...`` declares an
ordinal variable with its full ordered scale.

``modic agreement plan --kappa0 K --half-width H --prevalence P [--raters M] [--interval lower]`` prints
instead the number of patients needed for the interval ``K ± H`` of a binary variable, or for the lower
limit ``K − H`` of a one-sided interval (Donner & Rotondi 2010). A ratings file named ``plan`` is read as
``./plan``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from concurrent.futures import Executor
from pathlib import Path

from api.commands._agreement_plan import WORD, add_plan_options, given_plan_options, run_plan
from api.commands._common import fail
from grading.agreement import AgreementInputError, AgreementReport, Label, Level, RatingRecord, VariableSpec
from grading.agreement.report import DEFAULT_VARIABLE, build_report

REQUIRED = ("unit", "rater", "value")
OPTIONAL = ("cluster", "variable")


class CsvError(ValueError):
    """A ratings file that cannot be read; the message names the reason (and the line)."""


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "file", help=f"CSV with header unit,rater,value[,cluster][,variable], or {WORD!r} for a sample-size plan"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    parser.add_argument(
        "--ordinal",
        action="append",
        default=[],
        metavar="VARIABLE=C1,C2,...",
        help="declare VARIABLE ordinal with this ordered scale (repeatable)",
    )
    parser.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    parser.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument(
        "--processes",
        type=int,
        default=0,
        help="processes that compute a large report (default 0: one per core; 1: this process only)",
    )
    add_plan_options(parser)
    parser.set_defaults(func=run)


def read_records(path: Path) -> list[RatingRecord]:
    """Records of a long-format CSV; raises :class:`CsvError` naming the reason and line."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames
            if not header:
                raise CsvError("is empty; expected a header row unit,rater,value[,cluster][,variable]")
            names = [h.strip() for h in header]
            missing = [c for c in REQUIRED if c not in names]
            if missing:
                raise CsvError(
                    f"header {','.join(names)!r} lacks column(s) {', '.join(missing)}; required: unit, rater, value"
                )
            unknown = [c for c in names if c not in REQUIRED + OPTIONAL]
            if unknown:
                raise CsvError(
                    f"header has unknown column(s) {', '.join(unknown)}; allowed: {', '.join(REQUIRED + OPTIONAL)}"
                )
            rows: list[dict[str, str]] = []
            for row in reader:
                line = reader.line_num
                if None in row or any(v is None for v in row.values()):
                    raise CsvError(f"line {line} does not have the header's {len(names)} fields")
                cleaned = {k.strip(): v.strip() for k, v in row.items()}
                for column in ("unit", "rater"):
                    if not cleaned[column]:
                        raise CsvError(f"line {line}: {column} is empty")
                cleaned["_line"] = str(line)
                rows.append(cleaned)
    except FileNotFoundError:
        raise CsvError("does not exist") from None
    except IsADirectoryError:
        raise CsvError("is a directory, not a CSV file") from None
    except UnicodeDecodeError:
        raise CsvError("is not UTF-8 text") from None
    except csv.Error as exc:
        raise CsvError(f"is not valid CSV: {exc}") from None
    if not rows:
        raise CsvError("has a header but no ratings")
    return _typed_records(rows)


def _typed_records(rows: list[dict[str, str]]) -> list[RatingRecord]:
    """Values of a variable become ints when every one of them is an integer."""
    by_variable: dict[str, list[str]] = {}
    for row in rows:
        by_variable.setdefault(row.get("variable") or DEFAULT_VARIABLE, []).append(row["value"])
    integral = {name: all(_is_int(v) for v in values if v) for name, values in by_variable.items()}
    records = []
    for row in rows:
        variable = row.get("variable") or DEFAULT_VARIABLE
        raw = row["value"]
        value: Label | None = None if not raw else (int(raw) if integral[variable] else raw)
        records.append(RatingRecord(row["unit"], row["rater"], value, row.get("cluster") or None, variable))
    return records


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def parse_ordinal(option: str) -> VariableSpec:
    """``VARIABLE=c1,c2,...`` as an ordinal spec."""
    name, sep, text = option.partition("=")
    labels = [c.strip() for c in text.split(",") if c.strip()]
    if not sep or not name.strip() or not labels:
        raise CsvError(f"--ordinal {option!r} must look like VARIABLE=c1,c2,...")
    scale: tuple[Label, ...] = tuple(int(c) if _is_int(c) else c for c in labels)
    return VariableSpec(name.strip(), Level.ORDINAL, scale)


def run(args: argparse.Namespace) -> int:
    if args.file == WORD:
        return run_plan(args)
    path = Path(args.file)
    stray = given_plan_options(args)
    if stray:
        return fail(f"{', '.join(stray)} belong to 'modic agreement {WORD}', not to a report of {path}")
    try:
        specs = [parse_ordinal(o) for o in args.ordinal]
        records = read_records(path)
        report = _report(records, specs, args)
    except (CsvError, AgreementInputError) as exc:
        return fail(f"{path}: {exc}")
    if args.json:
        print(json.dumps({"file": str(path), **report.to_mapping()}, indent=2, allow_nan=False))
    else:
        print(render_table(report))
    return 0


def _report(records: list[RatingRecord], specs: list[VariableSpec], args: argparse.Namespace) -> AgreementReport:
    """The report, spread over processes when it is large (registry/report_processes.py)."""
    from registry.report_processes import computed, report_processes

    if args.processes < 0:
        raise CsvError(f"--processes {args.processes} must be 0 (one per core) or more")

    def build(executor: Executor | None) -> AgreementReport:
        return build_report(records, specs, level=args.level, n_boot=args.n_boot, seed=args.seed, executor=executor)

    return computed(build, report_processes(args.processes, len(records) * max(args.n_boot, 0)))


def _fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None or math.isnan(x) else f"{x:.{digits}f}"


def render_table(report: AgreementReport) -> str:
    """The report as aligned plain-text tables, one block per variable."""
    pct = round(report.level * 100)
    lines: list[str] = []
    for variable in report.variables:
        shares = ", ".join(f"{k} {v:.1%}" for k, v in variable.prevalence.items() if not math.isnan(v))
        lines.append(
            f"{variable.variable} ({variable.level.value}): {variable.n_units} units, {variable.n_clusters} clusters, "
            f"raters {', '.join(variable.raters)}"
        )
        lines.append(f"  prevalence: {shares or '—'}")
        header = (
            "comparison",
            "statistic",
            "value",
            f"{pct}% CI (method)",
            f"{pct}% CI (method, dropped)",
            "n units/patients",
            "Landis-Koch",
        )
        table: list[tuple[str, ...]] = [header]
        for comparison in variable.comparisons:
            for s in comparison.statistics:
                band = s.landis_koch or (f"none: {s.band_note}" if s.band_note else "")
                table.append(
                    (
                        comparison.label,
                        s.name if s.q is None else f"{s.name} (q={s.q})",
                        _fmt(s.value),
                        f"{_fmt(s.ci_analytic[0])} to {_fmt(s.ci_analytic[1])} ({s.ci_method})",
                        f"{_fmt(s.ci_bootstrap[0])} to {_fmt(s.ci_bootstrap[1])} ({s.boot_method}, {s.boot_dropped})",
                        f"{s.n_units}/{s.n_patients}",
                        band if s.reason is None else f"undefined: {s.reason}",
                    )
                )
        widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
        for row in table:
            lines.append("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1])
        for comparison in variable.comparisons:
            if not comparison.confusion:
                continue
            a, b = comparison.raters
            labels = [str(c) for c in variable.categories]
            width = max(len(x) for x in [*labels, a]) + 1
            lines.append(f"  confusion {a} (rows) vs {b} (columns):")
            lines.append("    " + " " * width + "".join(lab.rjust(width) for lab in labels))
            for label, counts in zip(labels, comparison.confusion, strict=True):
                lines.append("    " + label.ljust(width) + "".join(str(n).rjust(width) for n in counts))
        lines.append("")
    return "\n".join(lines).rstrip()
