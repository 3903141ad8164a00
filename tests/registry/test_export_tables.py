"""Export building blocks with plain values: endplate codes (including not-assessable entries) and the
table writers."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest

from registry.exports.codebook import MODIC_SIZE, MODIC_TYPE, NOT_ASSESSABLE, Kind, Variable
from registry.exports.gradings import endplate_codes
from registry.exports.table import Column, Table, to_csv, to_stata


def test_full_protocol_variables_are_coded_in_the_protocol_files_order() -> None:
    """location, volume, endplate area, osteophytes, defect, irregular, development: coded 0, 1, ... in the
    order the protocol file lists their categories; absent variables are -1."""
    entry = {"type": "I", "size": "B", "location": "entire", "volume": "lt25", "osteophytes": "yes"}
    assert endplate_codes(entry)[6:] == (5, 0, -1, 1, -1, -1, -1)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        # no change
        ({"type": "none", "size": None, "extension_pct": None}, (0, 0, math.nan, 0, 0, 0)),
        # type I/II, size C, with its extension
        ({"type": "I/II", "size": "C", "extension_pct": 40.0}, (4, 3, 40.0, 0, 1, 1)),
        # size A is a change that does not extend beyond the endplate
        ({"type": "III", "size": "A", "extension_pct": None}, (3, 1, math.nan, 0, 1, 0)),
        # not assessable: a reason and nothing else
        ({"not_assessable": "outside_fov", "note": "L1 cut off"}, (-1, -1, math.nan, 2, -1, -1)),
    ],
)
def test_endplate_codes(entry: dict[str, object], expected: tuple[float, ...]) -> None:
    """The six core codes; then the full protocol's seven variables, all missing (-1) here."""
    expected = (*expected, *(-1,) * 7)
    got = endplate_codes(entry)
    assert len(got) == len(expected)
    assert all((math.isnan(a) and math.isnan(b)) or a == b for a, b in zip(got, expected, strict=True))


def test_unknown_category_names_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"'IV' is not a category; allowed: none, I, II, III, I/II"):
        MODIC_TYPE.code("IV")
    with pytest.raises(ValueError, match="allowed: assessed, artefact, outside_fov, transitional, other"):
        NOT_ASSESSABLE.code("blurred")


def test_missing_categories_are_empty_in_csv_and_missing_in_stata() -> None:
    type_var = Variable("type", "Modic type", Kind.CATEGORICAL, MODIC_TYPE)
    size_var = Variable("size", "Modic size", Kind.CATEGORICAL, MODIC_SIZE)
    table = Table(
        (Column(type_var, np.array([1, -1], dtype=np.int16)), Column(size_var, np.array([2, -1], dtype=np.int16)))
    )
    assert to_csv(table).decode().splitlines() == ['"type","size"', '"I","B"', ",".join(["", ""])]
    frame = pd.read_stata(io.BytesIO(to_stata(table)))
    assert frame["type"].tolist()[0] == "I" and pd.isna(frame["type"].tolist()[1])


def test_columns_must_agree() -> None:
    a = Variable("a_" + "x" * 40, "long name", Kind.NUMBER)
    b = Variable("a_" + "x" * 40 + "y", "another long name", Kind.NUMBER)
    with pytest.raises(ValueError, match="32-character Stata forms"):
        Table((Column(a, np.zeros(1)), Column(b, np.zeros(1))))
    with pytest.raises(ValueError, match="differ in length"):
        Table((Column(a, np.zeros(1)), Column(Variable("b", "b", Kind.NUMBER), np.zeros(2))))
    with pytest.raises(ValueError, match="vocabulary is given exactly for categorical"):
        Variable("c", "c", Kind.CATEGORICAL)


def test_stata_text_keeps_non_ascii_and_writes_missing_as_empty() -> None:
    variable = Variable("note", "A text", Kind.TEXT)
    table = Table((Column(variable, np.array(["P-1", "Ærø Å", None], dtype=object)),))
    assert pd.read_stata(io.BytesIO(to_stata(table)))["note"].tolist() == ["P-1", "Ærø Å", ""]


def test_csv_writes_utc_times_to_the_microsecond_with_z_and_missing_as_empty() -> None:
    variable = Variable("recorded_at", "Recorded at (UTC)", Kind.DATETIME)
    values = np.array(
        ["2026-11-30T12:00:00.123456", "NaT", "2026-01-01T00:00:00", "2026-11-30T12:00:00.123456"],
        dtype="datetime64[us]",
    )
    lines = to_csv(Table((Column(variable, values),))).decode().splitlines()
    assert [line.strip('"') for line in lines] == [
        "recorded_at",
        "2026-11-30 12:00:00.123456Z",
        "",
        "2026-01-01 00:00:00.000000Z",
        "2026-11-30 12:00:00.123456Z",
    ]
    back = pd.read_csv(io.StringIO("\n".join(lines)))["recorded_at"]
    assert pd.to_datetime(back, utc=True).tolist()[0] == pd.Timestamp("2026-11-30 12:00:00.123456", tz="UTC")


def test_stata_text_of_repeated_values_reads_back_row_for_row() -> None:
    """Each distinct text is encoded once and placed by index: the rows must still come back in order."""
    variable = Variable("rater", "Rater", Kind.TEXT)
    values = np.array(["R-2", "Ærø", None, "R-2", "R-1", None, "Ærø"] * 3, dtype=object)
    back = pd.read_stata(io.BytesIO(to_stata(Table((Column(variable, values),)))))["rater"].tolist()
    assert back == ["" if v is None else v for v in values]
    empty = Table((Column(variable, np.array([], dtype=object)),))
    assert pd.read_stata(io.BytesIO(to_stata(empty))).shape == (0, 1)
