"""The gradings as analysis tables: long (one row per grading version and endplate) and wide (one row
per patient, the grading that counts for eligibility)."""

from __future__ import annotations

import enum
import functools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlmodel import Session

from grading.endplates import ENDPLATE_IDS, ENDPLATES
from grading.protocols import DEFAULT_PROTOCOL
from registry.exports.codebook import (
    EXTRA_VARIABLES,
    EXTRA_VOCABULARIES,
    GRADING_KIND,
    GRADINGS_LONG,
    GRADINGS_WIDE,
    MODIC_SIZE,
    MODIC_TYPE,
    NOT_ASSESSABLE,
    NUMBERING_REFERENCE,
    PROTOCOL,
    TRANSITIONAL_VERTEBRA,
    VERSION_CONTEXT,
)
from registry.exports.raters import rater_pseudonym
from registry.exports.table import (
    MISSING,
    Column,
    Table,
    dates,
    dates_from_text,
    text_column,
    timestamps_from_text,
)
from registry.repositories import eligibility as eligibility_repo
from registry.repositories import exports as exports_repo

_PER_ENDPLATE = 6 + len(EXTRA_VARIABLES)
"""type, size, extension %, not-assessable reason, any change, beyond the endplate, then the protocol's
other variables (missing where the version's protocol does not have them)."""
_BEYOND = frozenset({"B", "C", "D"})
_ENTRY = re.compile(r'"([LS][1-5]_(?:sup|inf))"\s*:\s*(\{[^{}]*\})')
"""One endplate's entry in the stored JSON text: its id and the entry's own JSON text."""


@dataclass(frozen=True)
class CountingRow:
    """One patient of the wide export: the grading that counts, its rater and its current version."""

    pseudonym: str
    grading: eligibility_repo.CountingGrading
    rater: str
    """The rater's pseudonym."""
    at: str
    """When the current version was recorded, as the database's text (UTC)."""
    context: tuple[int, int, int]
    """The codes of the version's protocol, numbering reference and transitional vertebra."""


class Shape(enum.Enum):
    """The layout of a gradings export."""

    LONG = "long"
    """One row per grading version and endplate: every grading, every version."""
    WIDE = "wide"
    """One row per patient: the 11 endplates side by side, the grading that counts, current version."""


def _extra_codes(entry: Mapping[str, Any]) -> tuple[float, ...]:
    """The codes of the protocol's other variables in one entry; ``-1`` where a variable is absent."""
    return tuple(
        MISSING if entry.get(v.name) is None else EXTRA_VOCABULARIES[v.name].code(entry[v.name])
        for v in EXTRA_VARIABLES
    )


def endplate_codes(entry: Mapping[str, Any]) -> tuple[float, ...]:
    """The coded values of one stored endplate entry (``-1`` / NaN where they do not apply): the six
    core values, then one per protocol variable beyond type and size.

    A not-assessable entry (``{"not_assessable": reason, ...}``) has a reason and nothing else.
    """
    reason = entry.get("not_assessable")
    if reason is not None:
        return (MISSING, MISSING, math.nan, NOT_ASSESSABLE.code(reason), MISSING, MISSING, *_extra_codes({}))
    modic_type, size, extension = entry["type"], entry.get("size"), entry.get("extension_pct")
    return (
        MODIC_TYPE.code(modic_type),
        MODIC_SIZE.code(size or "none"),
        math.nan if extension is None else float(extension),
        NOT_ASSESSABLE.code("assessed"),
        int(modic_type != "none"),
        int(size in _BEYOND),
        *_extra_codes(entry),
    )


def version_context(protocol: str | None, numbering: Any) -> tuple[int, int, int]:
    """The codes of a version's protocol, numbering reference and transitional vertebra.

    ``numbering`` is the stored JSON (a mapping, its text, or ``None`` when not recorded). A registry
    holds few distinct contexts, so those given as text or ``None`` are coded once each.
    """
    if numbering is None or isinstance(numbering, str):
        return _text_context(protocol, numbering)
    return _context(protocol, numbering)


@functools.lru_cache(maxsize=1024)
def _text_context(protocol: str | None, numbering: str | None) -> tuple[int, int, int]:
    return _context(protocol, None if numbering is None else json.loads(numbering))


def _context(protocol: str | None, numbering: Mapping[str, Any] | None) -> tuple[int, int, int]:
    numbering = numbering or {}
    return (
        PROTOCOL.code(protocol or DEFAULT_PROTOCOL),
        NUMBERING_REFERENCE.code(numbering.get("reference", "not_recorded")),
        TRANSITIONAL_VERTEBRA.code(numbering.get("transitional", "not_recorded")),
    )


def _context_columns(contexts: list[tuple[int, int, int]]) -> list[Column]:
    """The version-context columns from one code triple per row."""
    values = np.array(contexts, dtype=np.int16).reshape(-1, len(VERSION_CONTEXT))
    return [Column(variable, values[:, i]) for i, variable in enumerate(VERSION_CONTEXT)]


class _Parser:
    """Stored endplates (JSON text) to an 11 × 6 array of codes.

    Each distinct entry (a few dozen in practice) is decoded and coded once, found by its text; a
    grading becomes 11 indices into the table of coded entries, and :meth:`codes` looks them all up
    at once. Identical gradings (the same stored text, as every grading without Modic changes is) are
    split into entries once and share a row of indices.
    """

    def __init__(self) -> None:
        self._index: dict[str, int] = {}
        self._coded: list[tuple[float, ...]] = []
        self._distinct: list[list[int]] = []
        """The entry indices of each distinct grading text."""
        self._seen: dict[str, int] = {}
        """A grading text's position in ``_distinct``."""
        self._rows: list[int] = []

    def add(self, text: str) -> None:
        """Add one grading's stored endplates; each distinct entry text is decoded once."""
        known = self._seen.get(text)
        if known is None:
            known = self._seen[text] = len(self._distinct)
            self._distinct.append(self._indices(text))
        self._rows.append(known)

    def _indices(self, text: str) -> list[int]:
        entries = dict(_ENTRY.findall(text))
        if len(entries) != len(ENDPLATES):  # an unusual text (a brace inside a note): decode it whole
            entries = {key: json.dumps(value) for key, value in json.loads(text).items()}
        row = []
        for key in ENDPLATE_IDS:
            entry = entries[key]
            index = self._index.get(entry)
            if index is None:
                index = self._index[entry] = len(self._coded)
                self._coded.append(endplate_codes(json.loads(entry)))
            row.append(index)
        return row

    def codes(self) -> np.ndarray[Any, Any]:
        """The (gradings, 11, 6) codes of every grading added, in order."""
        table = np.array(self._coded, dtype=np.float64).reshape(-1, _PER_ENDPLATE)
        distinct = np.array(self._distinct, dtype=np.intp).reshape(-1, len(ENDPLATES))
        codes: np.ndarray[Any, Any] = table[distinct[np.array(self._rows, dtype=np.intp)]]
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
        *_context_columns([version_context(r[9], r[10]) for r in rows]),
    ]
    repeated = [Column(c.variable, np.repeat(c.values, k)) for c in per_version]
    first = 8 + len(VERSION_CONTEXT)
    endplate = Column(GRADINGS_LONG[first], np.tile(np.arange(1, k + 1, dtype=np.int16), n))
    per_endplate = _endplate_columns(GRADINGS_LONG[first + 1 :], codes.reshape(n * k, _PER_ENDPLATE))
    return Table((*repeated, endplate, *per_endplate))


def counting_rows(session: Session) -> list[CountingRow]:
    """Per patient, by pseudonym: the grading that counts and its current version's context."""
    counting = exports_repo.counting_in_context(session)
    pseudonyms = exports_repo.pseudonyms(session)
    raters = {rater_id: rater_pseudonym(rater_id) for rater_id in {context[0] for _, context in counting.values()}}
    rows = [
        CountingRow(pseudonyms[patient_id], grading, raters[rater_id], at, version_context(protocol, numbering))
        for patient_id, (grading, (rater_id, at, protocol, numbering)) in counting.items()
    ]
    rows.sort(key=lambda row: row.pseudonym)
    return rows


def gradings_wide(session: Session) -> Table:
    """One row per patient: the 11 endplates × their variables, of the grading that counts."""
    rows = counting_rows(session)
    parse = _Parser()
    for row in rows:
        parse.add(row.grading.endplates_json)
    codes = parse.codes().reshape(len(rows), len(ENDPLATES) * _PER_ENDPLATE)
    patient, study, study_date, grading, rater, version, at = GRADINGS_WIDE[:7]
    columns = [
        text_column(patient, [r.pseudonym for r in rows]),
        text_column(study, [r.grading.study_id for r in rows]),
        Column(study_date, dates([r.grading.study_date for r in rows])),
        text_column(grading, [r.grading.grading_id for r in rows]),
        text_column(rater, [r.rater for r in rows]),
        Column(version, np.array([r.grading.grading_version for r in rows], dtype=np.int64)),
        Column(at, timestamps_from_text([r.at for r in rows])),
        *_context_columns([r.context for r in rows]),
    ]
    return Table((*columns, *_endplate_columns(GRADINGS_WIDE[7 + len(VERSION_CONTEXT) :], codes)))


def gradings_table(session: Session, shape: Shape) -> Table:
    """The gradings in ``shape``."""
    return gradings_long(session) if shape is Shape.LONG else gradings_wide(session)
