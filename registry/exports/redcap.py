"""A REDCap instrument for Modic gradings: its data dictionary and the matching import CSV.

The dictionary has REDCap's 18 columns; one record per patient (``record_id`` = the pseudonym)
holds the grading that counts for eligibility, with the same codes as the Stata value labels.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from grading.endplates import ENDPLATES
from grading.protocols import AppliesTo
from registry.exports import codebook
from registry.exports.gradings import counting_rows, endplate_codes

FORM = "modic_grading"
"""The instrument (form) name."""

COLUMNS: tuple[str, ...] = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
"""The columns of a REDCap data dictionary, in REDCap's order."""


@dataclass(frozen=True)
class Field:
    """One row of the data dictionary."""

    name: str
    field_type: str
    label: str
    choices: str = ""
    section: str = ""
    note: str = ""
    validation: str = ""
    minimum: str = ""
    maximum: str = ""
    branching: str = ""
    required: bool = False

    def row(self) -> list[str]:
        return [
            self.name,
            FORM,
            self.section,
            self.field_type,
            self.label,
            self.choices,
            self.note,
            self.validation,
            self.minimum,
            self.maximum,
            "",
            self.branching,
            "y" if self.required else "",
            "",
            "",
            "",
            "",
            "",
        ]


def choices(vocabulary: codebook.Vocabulary, skip: frozenset[str] = frozenset()) -> str:
    """REDCap's choice syntax: ``0, none | 1, I | ...``."""
    return " | ".join(f"{c.code}, {c.label}" for c in vocabulary.categories if c.label not in skip)


def dictionary_fields() -> tuple[Field, ...]:
    """The instrument: the record id, the grading's provenance, and per endplate reason / type / size / extension."""
    fields = [
        Field("record_id", "text", "Patient pseudonym", required=True),
        Field("study_date", "text", "Date of the MRI study", validation="date_ymd"),
        Field("grading_id", "text", "Grading record id"),
        Field("rater", "text", "Rater pseudonym"),
        Field("grading_version", "text", "Grading version", validation="integer", minimum="1"),
        Field("protocol", "dropdown", "Grading protocol", choices(codebook.PROTOCOL)),
        Field("numbering_ref", "dropdown", "How the levels were identified", choices(codebook.NUMBERING_REFERENCE)),
        Field(
            "numbering_tv",
            "dropdown",
            "Lumbosacral transitional vertebra seen",
            choices(codebook.TRANSITIONAL_VERTEBRA),
        ),
    ]
    for endplate in ENDPLATES:
        prefix = codebook.endplate_prefix(endplate)
        assessed = f"[{prefix}na] = '{codebook.NOT_ASSESSABLE.code('assessed')}'"
        changed = f"{assessed} and [{prefix}type] <> '{codebook.MODIC_TYPE.code('none')}'"
        fields += [
            Field(
                f"{prefix}na",
                "dropdown",
                f"{endplate.label}: assessable?",
                choices(codebook.NOT_ASSESSABLE),
                section=f"{endplate.label} endplate ({endplate.value})",
                required=True,
            ),
            Field(
                f"{prefix}type",
                "dropdown",
                f"{endplate.label}: Modic type",
                choices(codebook.MODIC_TYPE),
                branching=assessed,
            ),
            Field(
                f"{prefix}size",
                "radio",
                f"{endplate.label}: Modic size (maximum height)",
                choices(codebook.MODIC_SIZE, skip=frozenset({"none"})),
                note="A endplate only; B up to 25 %; C 25-50 %; D more than 50 % of the vertebral body height",
                branching=changed,
            ),
            Field(
                f"{prefix}ext",
                "text",
                f"{endplate.label}: extension into the vertebral body (% of its height)",
                validation="number",
                minimum="0",
                maximum="100",
                branching=changed,
            ),
            *(
                Field(
                    f"{prefix}{v.name}",
                    "dropdown",
                    f"{endplate.label}: {v.label}",
                    choices(codebook.EXTRA_VOCABULARIES[v.name]),
                    note="Only under a protocol that has this variable (the protocol field).",
                    branching=changed if v.applies_to is AppliesTo.change else assessed,
                )
                for v in codebook.EXTRA_VARIABLES
            ),
        ]
    return tuple(fields)


def _csv(rows: list[list[str]]) -> bytes:
    sink = io.StringIO()
    csv.writer(sink, lineterminator="\n").writerows(rows)
    return sink.getvalue().encode()


def data_dictionary() -> bytes:
    """The data dictionary as REDCap imports it (CSV, header row first)."""
    return _csv([list(COLUMNS), *(f.row() for f in dictionary_fields())])


def _code(value: float) -> str:
    """A coded value as REDCap stores it; blank when missing (``-1`` or NaN)."""
    if math.isnan(value) or value < 0:
        return ""
    return str(int(value))


def _number(value: float) -> str:
    return "" if math.isnan(value) else f"{value:g}"


def records(session: Session) -> bytes:
    """The import CSV: one record per patient, the fields of :func:`dictionary_fields` and the form status."""
    names = [f.name for f in dictionary_fields()]
    complete = f"{FORM}_complete"
    out: list[list[str]] = [[*names, complete]]
    for counting in counting_rows(session):
        grading = counting.grading
        stored: dict[str, Any] = json.loads(grading.endplates_json)
        row = [
            counting.pseudonym,
            "" if grading.study_date is None else grading.study_date.isoformat(),
            grading.grading_id,
            counting.rater,
            str(grading.grading_version),
            *(str(code) for code in counting.context),
        ]
        for endplate in ENDPLATES:
            type_code, size_code, extension, reason, _mc, _beyond, *extras = endplate_codes(stored[endplate.value])
            size = "" if size_code == codebook.MODIC_SIZE.code("none") else _code(size_code)
            row += [_code(reason), _code(type_code), size, _number(extension), *(_code(e) for e in extras)]
        out.append([*row, "2"])  # 2 = Complete
    return _csv(out)
