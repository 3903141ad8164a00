"""The paper-shaped summary table (docs/agreement.md#summary-table), from plain ratings."""

from __future__ import annotations

import pytest

from grading.agreement import RatingRecord, build_report, cohen_kappa
from grading.agreement.nordic_variables import SIZE, TYPE
from grading.agreement.summary import INTER, INTRA, summary_table

POOLED = ("all read 1", "all read 2")

# three raters' type and size of 8 endplates of 4 patients (two endplates each)
TYPES = {
    "a": ["none", "I", "II", "none", "I", "none", "II", "I/II"],
    "b": ["none", "I", "II", "I", "I", "none", "none", "I/II"],
    "c": ["none", "I/II", "II", "none", "I", "II", "II", "I/II"],
}
SIZES = {
    "a": ["none", "A", "B", "none", "C", "none", "B", "D"],
    "b": ["none", "A", "C", "A", "C", "none", "none", "D"],
    "c": ["none", "B", "B", "none", "C", "A", "B", "C"],
}


def _records(values: dict[str, list[str]], variable: str, suffix: str = "") -> list[RatingRecord]:
    return [
        RatingRecord(f"{rater}|u{i}" if suffix else f"u{i}", f"{rater}{suffix}", v, f"p{i // 2}", variable)
        for rater, column in values.items()
        for i, v in enumerate(column)
    ]


def test_inter_cell_is_the_range_over_pairs_and_conger_pooled() -> None:
    inter = build_report(_records(TYPES, "type") + _records(SIZES, "size"), [TYPE, SIZE], n_boot=50, seed=1)
    table = summary_table(inter, None, POOLED)
    cell = table.row("type").cell(INTER)
    assert cell is not None and table.row("type").cell(INTRA) is None
    pairs = [("a", "b"), ("a", "c"), ("b", "c")]
    kappas = [cohen_kappa([[TYPES[x][i], TYPES[y][i]] for i in range(8)]).value for x, y in pairs]
    assert (cell.range_low, cell.range_high) == (pytest.approx(min(kappas)), pytest.approx(max(kappas)))
    assert cell.n_comparisons == 3 and cell.statistic == "cohen_kappa"
    assert cell.pooled_statistic == "conger_kappa" and cell.ci_method == "bootstrap-patients"
    assert (cell.n_units, cell.n_patients, cell.n_changed) == (8, 4, 7)
    size = table.row("size").cell(INTER)
    assert size is not None and size.statistic == "weighted_kappa_quadratic"
    assert size.pooled_statistic == "conger_kappa_quadratic"


def test_with_two_raters_the_pooled_inter_value_is_cohens_kappa() -> None:
    two = {k: TYPES[k] for k in ("a", "b")}
    inter = build_report(_records(two, "type"), [TYPE], n_boot=20, seed=1)
    cell = summary_table(inter, None, POOLED).row("type").cell(INTER)
    assert cell is not None and cell.n_comparisons == 1
    assert cell.pooled == pytest.approx(cell.range_low) and cell.range_low == cell.range_high


def test_intra_cell_is_the_range_over_raters_and_the_pooled_pair() -> None:
    second = {"a": TYPES["a"], "b": TYPES["c"]}  # rater a repeats read 1 exactly, rater b does not
    first = {"a": TYPES["a"], "b": TYPES["b"]}
    records = []
    for rater in ("a", "b"):
        for read, values in ((1, first), (2, second)):
            records += [
                RatingRecord(f"u{i}", f"{rater} read {read}", v, f"p{i // 2}", "type")
                for i, v in enumerate(values[rater])
            ]
            records += [
                RatingRecord(f"{rater}|u{i}", f"all read {read}", v, f"p{i // 2}", "type")
                for i, v in enumerate(values[rater])
            ]
    pairs = [("a read 1", "a read 2"), ("b read 1", "b read 2"), POOLED]
    intra = build_report(records, [TYPE], pairs=pairs, include_all=False, n_boot=20, seed=1)
    inter = build_report(_records(first, "type"), [TYPE], n_boot=20, seed=1)
    row = summary_table(inter, intra, POOLED).row("type")
    cell = row.cell(INTRA)
    assert cell is not None and cell.n_comparisons == 2 and cell.range_high == 1.0
    b = cohen_kappa([[TYPES["b"][i], TYPES["c"][i]] for i in range(8)]).value
    assert cell.range_low == pytest.approx(b)
    pooled = cohen_kappa([[v, w] for r in ("a", "b") for v, w in zip(first[r], second[r], strict=True)]).value
    assert cell.pooled == pytest.approx(pooled)
    assert (cell.n_units, cell.n_patients) == (16, 4) and cell.ci_method == "analytic-clustered"
    mapping = row.to_mapping()
    assert mapping["intra"]["range"] == [cell.range_low, 1.0] and mapping["inter"]["n_comparisons"] == 1
    assert [r["analysis"] for r in row.rows()] == [INTRA, INTER]


def test_per_endplate_rows_are_in_anatomical_order() -> None:
    records = [
        RatingRecord("case1", rater, "none", "p1", f"type@{endplate}")
        for endplate in ("S1_sup", "L1_sup", "L4_inf")
        for rater in ("a", "b")
    ]
    table = summary_table(build_report(records, n_boot=10, seed=1), None, POOLED)
    assert [r.endplate for r in table.per_endplate] == ["L1_sup", "L4_inf", "S1_sup"] and table.pooled == ()
    with pytest.raises(KeyError, match="no summary row 'presence'"):
        table.row("presence", "L1_sup")
