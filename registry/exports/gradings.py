"""The gradings as analysis tables: long (one row per grading version and endplate) and wide (one row
per patient, the grading that counts for eligibility)."""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
from sqlmodel import Session

from grading.endplates import ENDPLATES
from registry.exports.codebook import (
    GRADING_KIND,
    GRADINGS_LONG,
    GRADINGS_WIDE,
    MODIC_SIZE,
    MODIC_TYPE,
    NOT_ASSESSABLE,
)
from registry.exports.raters import rater_pseudonym
from registry.exports.table import (
    MISSING,
    Column,
    Table,
    dates,
    dates_from_text,
    text_column,
    timestamps,
    timestamps_from_text,
)
from registry.repositories import eligibility as eligibility_repo
from registry.repositories import exports as exports_repo

_PER_ENDPLATE = 6
"""type, size, extension %, not-assessable reason, any change, beyond the endplate."""
_BEYOND = frozenset({"B", "C", "D"})
_ENTRY = re.compile(r'"([LS][1-5]_(?:sup|inf))"\s*:\s*(\{[^{}]*\})')
"""One endplate's entry in the stored JSON text: its id and the entry's own JSON text."""


class Shape(enum.Enum):
    """The layout of a gradings export."""

    LONG = "long"
    """One row per grading version and endplate: every grading, every version."""
    WIDE = "wide"
    """One row per patient: the 11 endplates side by side, the grading that counts, current version."""


def endplate_codes(entry: Mapping[str, Any]) -> tuple[float, ...]:
    """The six coded values of one stored endplate entry (``-1`` / NaN where they do not apply).

    A not-assessable entry (``{"not_assessable": reason, ...}``) has a reason and nothing else.
    """
    reason = entry.get("not_assessable")
    if reason is not None:
        return (MISSING, MISSING, math.nan, NOT_ASSESSABLE.code(reason), MISSING, MISSING)
    modic_type, size, extension = entry["type"], entry.get("size"), entry.get("extension_pct")
    return (
        MODIC_TYPE.code(modic_type),
        MODIC_SIZE.code(size or "none"),
        math.nan if extension is None else float(extension),
        NOT_ASSESSABLE.code("assessed"),
        int(modic_type != "none"),
        int(size in _BEYOND),
    )


class _Parser:
    """Stored endplates (JSON text) to an 11 × 6 array of codes.

    Each distinct entry (a few dozen in practice) is decoded and coded once, found by its text; a
    grading becomes 11 indices into the table of coded entries, and :meth:`codes` looks them all up
    at once.
    """

    def __init__(self) -> None:
        self._index: dict[str, int] = {}
        self._coded: list[tuple[float, ...]] = []
        self._rows: list[list[int]] = []

    def add(self, text: str) -> None:
        """Add one grading's stored endplates; each distinct entry text is decoded once."""
        entries = dict(_ENTRY.findall(text))
        if len(entries) != len(ENDPLATES):  # an unusual text (a brace inside a note): decode it whole
            entries = {key: json.dumps(value) for key, value in json.loads(text).items()}
        row = []
        for endplate in ENDPLATES:
            entry = entries[endplate.value]
            index = self._index.get(entry)
            if index is None:
                index = self._index[entry] = len(self._coded)
                self._coded.append(endplate_codes(json.loads(entry)))
            row.append(index)
        self._rows.append(row)

    def codes(self) -> np.ndarray[Any, Any]:
        """The (gradings, 11, 6) codes of every grading added, in order."""
        table = np.array(self._coded, dtype=np.float64).reshape(-1, _PER_ENDPLATE)
        codes: np.ndarray[Any, Any] = table[np.array(self._rows, dtype=np.intp).reshape(-1, len(ENDPLATES))]
        return codes


def _endplate_columns(variables: tuple[Any, ...], values: np.ndarray[Any, Any]) -> list[Column]:
    """Columns of the six endplate variables from an (n, 6) array of codes."""
    columns = []
    for i, variable in enumerate(variables):
        column = values[:, i]
        columns.append(Column(variable, column if variable.vocabulary is None else column.astype(np.int16)))
    return columns


def gradings_long(session: Session) -> Table:
    """Every grading version × the 11 endplates."""
    rows = exports_repo.grading_versions(session)
    parse = _Parser()
    for row in rows:
        parse.add(row[8])
    codes = parse.codes()
    n, k = len(rows), len(ENDPLATES)
    raters = {rater_id: rater_pseudonym(rater_id) for rater_id in {r[5] for r in rows}}
    patient, study, study_date, grading, kind, rater, version, at = GRADINGS_LONG[:8]
    per_version = [
        text_column(patient, [r[0] for r in rows]),
        text_column(study, [r[1] for r in rows]),
        Column(study_date, dates_from_text([r[2] for r in rows])),
        text_column(grading, [r[3] for r in rows]),
        Column(kind, np.array([GRADING_KIND.code(r[4]) for r in rows], dtype=np.int16)),
        text_column(rater, [raters[r[5]] for r in rows]),
        Column(version, np.array([r[6] for r in rows], dtype=np.int64)),
        Column(at, timestamps_from_text([r[7] for r in rows])),
    ]
    repeated = [Column(c.variable, np.repeat(c.values, k)) for c in per_version]
    endplate = Column(GRADINGS_LONG[8], np.tile(np.arange(1, k + 1, dtype=np.int16), n))
    return Table((*repeated, endplate, *_endplate_columns(GRADINGS_LONG[9:], codes.reshape(n * k, _PER_ENDPLATE))))


def counting_rows(session: Session) -> list[tuple[str, eligibility_repo.CountingGrading, str, Any]]:
    """Per patient, by pseudonym: (pseudonym, the grading that counts, its rater's pseudonym, when its
    current version was recorded)."""
    counting = eligibility_repo.counting_gradings(session, None)
    pseudonyms = exports_repo.pseudonyms(session)
    authorship = exports_repo.current_version_authorship(session)
    rows = []
    for patient_id, grading in counting.items():
        rater_id, at = authorship[grading.grading_id]
        rows.append((pseudonyms[patient_id], grading, rater_pseudonym(rater_id), at))
    rows.sort(key=lambda row: row[0])
    return rows


def gradings_wide(session: Session) -> Table:
    """One row per patient: the 11 endplates × their variables, of the grading that counts."""
    rows = counting_rows(session)
    parse = _Parser()
    for _, counting, _, _ in rows:
        parse.add(counting.endplates_json)
    codes = parse.codes().reshape(len(rows), len(ENDPLATES) * _PER_ENDPLATE)
    patient, study, study_date, grading, rater, version, at = GRADINGS_WIDE[:7]
    columns = [
        text_column(patient, [r[0] for r in rows]),
        text_column(study, [g.study_id for _, g, _, _ in rows]),
        Column(study_date, dates([g.study_date for _, g, _, _ in rows])),
        text_column(grading, [g.grading_id for _, g, _, _ in rows]),
        text_column(rater, [r[2] for r in rows]),
        Column(version, np.array([g.grading_version for _, g, _, _ in rows], dtype=np.int64)),
        Column(at, timestamps([r[3] for r in rows])),
    ]
    return Table((*columns, *_endplate_columns(GRADINGS_WIDE[7:], codes)))


def gradings_table(session: Session, shape: Shape) -> Table:
    """The gradings in ``shape``."""
    return gradings_long(session) if shape is Shape.LONG else gradings_wide(session)
