"""The export vocabulary: every variable an export can hold, its label, its coded categories and the
Nordic definitions behind them. Stata value labels, REDCap choices and ``codebook.json`` are all
written from here, so the codes are the same in every format."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from grading.endplates import ENDPLATES, Endplate
from grading.nordic import NumberingReference, TransitionalVertebra
from grading.protocols import Protocol, ProtocolVariable, protocols

NOT_ASSESSABLE_REASONS: tuple[str, ...] = ("artefact", "outside_fov", "transitional", "other")
"""Why an endplate could not be graded (the ``not_assessable`` value of an endplate entry)."""


@dataclass(frozen=True)
class Category:
    """One coded value of a categorical variable."""

    code: int
    label: str
    definition: str

    def to_mapping(self) -> dict[str, Any]:
        return {"code": self.code, "label": self.label, "definition": self.definition}


@dataclass(frozen=True)
class Vocabulary:
    """A closed list of categories, with distinct codes and labels."""

    name: str
    categories: tuple[Category, ...]
    _by_label: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        codes = [c.code for c in self.categories]
        labels = [c.label for c in self.categories]
        if len(set(codes)) != len(codes) or len(set(labels)) != len(labels) or min(codes) < 0:
            raise ValueError(f"vocabulary {self.name}: codes {codes} and labels {labels} must be distinct, codes >= 0")
        object.__setattr__(self, "_by_label", dict(zip(labels, codes, strict=True)))

    def code(self, label: str) -> int:
        """The code of ``label``; the error lists the allowed labels."""
        try:
            return self._by_label[label]
        except KeyError:
            raise ValueError(
                f"{self.name}: {label!r} is not a category; allowed: {', '.join(self._by_label)}"
            ) from None

    @property
    def labels(self) -> dict[int, str]:
        """Code to label, as Stata value labels."""
        return {c.code: c.label for c in self.categories}


def _vocabulary(name: str, *items: tuple[str, str]) -> Vocabulary:
    """Categories coded 0, 1, 2, ... in the order given."""
    return Vocabulary(name, tuple(Category(i, label, text) for i, (label, text) in enumerate(items)))


MODIC_TYPE = _vocabulary(
    "modic_type",
    ("none", "No Modic change at the endplate."),
    ("I", "Type I: low T1, high T2 (high STIR) signal: oedema, fissured endplate, vascular granulation tissue."),
    ("II", "Type II: high T1, iso- to high T2 (low STIR) signal: fatty replacement of the marrow."),
    ("III", "Type III: low T1 and low T2 signal: sclerosis."),
    ("I/II", "Mixed type: components I and II at the same endplate."),
    ("I/III", "Mixed type: components I and III at the same endplate."),
    ("II/III", "Mixed type: components II and III at the same endplate."),
    ("I/II/III", "Mixed type: components I, II and III at the same endplate."),
)
"""Modic type (Modic 1988; Nordic Modic Consensus Group), written canonically (ascending, ``/``-joined)."""

MODIC_SIZE = _vocabulary(
    "modic_size",
    ("none", "No Modic change (type none): no size."),
    ("A", "Size A: the change is confined to the endplate."),
    ("B", "Size B: beyond the endplate, up to 25 % of the vertebral body height."),
    ("C", "Size C: more than 25 %, up to 50 % of the vertebral body height."),
    ("D", "Size D: more than 50 % of the vertebral body height."),
)
"""Maximum height of the change as its extension into the vertebral body (Nordic classification;
Jensen et al., BMC Medicine 2012, Figure 1). Ordinal: none < A < B < C < D."""

NOT_ASSESSABLE = _vocabulary(
    "not_assessable",
    ("assessed", "The endplate was graded."),
    ("artefact", "Not assessable: an image artefact obscures the endplate."),
    ("outside_fov", "Not assessable: the endplate lies outside the field of view."),
    ("transitional", "Not assessable: a lumbosacral transitional vertebra makes the level ambiguous."),
    ("other", "Not assessable for another reason (see the grading's note)."),
)

ENDPLATE = Vocabulary(
    "endplate",
    tuple(
        Category(i, e.value, f"The {e.label} endplate ({'upper' if e.is_superior else 'lower'} plate of {e.vertebra}).")
        for i, e in enumerate(ENDPLATES, start=1)
    ),
)
"""The 11 endplates from upper L1 to upper S1, coded 1-11 cranial to caudal."""

GRADING_KIND = Vocabulary(
    "grading_kind",
    (
        Category(1, "clinical", "The radiologist's read of the study for patient care and trial screening."),
        Category(2, "reliability", "A blinded read inside a reliability study; never used for eligibility."),
    ),
)

NO_YES = _vocabulary("no_yes", ("no", "No."), ("yes", "Yes."))

NO_YES_NOT_APPLICABLE = _vocabulary(
    "no_yes_na",
    ("no", "No."),
    ("yes", "Yes."),
    ("not_applicable", "The item cannot apply to this patient (e.g. pregnancy for a male patient)."),
)

PROTOCOL = Vocabulary(
    "protocol",
    tuple(Category(i, p.id, f"{p.title}: {p.description}") for i, p in enumerate(protocols().values(), start=1)),
)
"""The grading protocol a version was recorded under (its variables are in ``codebook.json``)."""

NUMBERING_REFERENCE = _vocabulary(
    "numbering_reference",
    ("not_recorded", "The rater did not record how the levels were identified."),
    (NumberingReference.sacrum.value, "Levels counted upwards from the sacrum (S1)."),
    (NumberingReference.last_rib.value, "Levels counted downwards from the last rib-bearing vertebra."),
    (NumberingReference.other.value, "Levels identified another way (e.g. from a whole-spine localiser)."),
)

TRANSITIONAL_VERTEBRA = _vocabulary(
    "transitional_vertebra",
    ("not_recorded", "The rater did not record whether a transitional vertebra was seen."),
    (TransitionalVertebra.none.value, "No lumbosacral transitional vertebra seen."),
    (TransitionalVertebra.lumbarised_s1.value, "A lumbarised S1."),
    (TransitionalVertebra.sacralised_l5.value, "A sacralised L5."),
)


def _extra_variables() -> tuple[ProtocolVariable, ...]:
    """The variables beyond type and size of every protocol, each once, in protocol then file order."""
    found: dict[str, ProtocolVariable] = {}
    for protocol in protocols().values():
        for variable in protocol.extra_variables:
            found.setdefault(variable.name, variable)
    return tuple(found.values())


EXTRA_VARIABLES: tuple[ProtocolVariable, ...] = _extra_variables()
"""The protocol variables beyond type and size, as exported (missing where a version's protocol lacks them)."""

EXTRA_VOCABULARIES: dict[str, Vocabulary] = {
    v.name: Vocabulary(v.name, tuple(Category(i, c.value, c.definition) for i, c in enumerate(v.categories)))
    for v in EXTRA_VARIABLES
}
"""Each extra variable's categories coded 0, 1, 2, ... in the protocol file's (for ordinal ones: the scale's) order."""


DECISION_STATUS = Vocabulary(
    "decision_status",
    (
        Category(1, "eligible", "Every criterion is met."),
        Category(2, "pending", "No criterion is not met, but at least one is unknown (data missing)."),
        Category(3, "ineligible", "At least one criterion is not met."),
    ),
)

OUTCOME = _vocabulary(
    "outcome",
    ("not_met", "The data show the criterion is not fulfilled."),
    ("met", "The data show the criterion is fulfilled."),
    ("unknown", "The data needed to judge the criterion are missing."),
)
"""The three-valued status of an eligibility criterion."""


class Kind(enum.Enum):
    """The value type of an export variable."""

    CATEGORICAL = "categorical"
    """A coded value from a vocabulary (labelled integer in Stata, factor in Parquet, label in CSV)."""
    INTEGER = "integer"
    """A whole number."""
    NUMBER = "number"
    """A real number."""
    TEXT = "text"
    """Free text or an identifier."""
    DATE = "date"
    """A calendar date (ISO 8601 in CSV)."""
    DATETIME = "datetime"
    """A UTC timestamp (ISO 8601 in CSV)."""


@dataclass(frozen=True)
class Variable:
    """One column of an export."""

    name: str
    label: str
    kind: Kind
    vocabulary: Vocabulary | None = None
    unit: str | None = None

    def __post_init__(self) -> None:
        if (self.kind is Kind.CATEGORICAL) != (self.vocabulary is not None):
            raise ValueError(f"variable {self.name}: a vocabulary is given exactly for categorical variables")

    @property
    def stata_name(self) -> str:
        """The name in a ``.dta`` file: Stata allows at most 32 characters."""
        return self.name[:32]

    def to_mapping(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "label": self.label, "type": self.kind.value}
        if self.stata_name != self.name:
            data["stata_name"] = self.stata_name
        if self.unit is not None:
            data["unit"] = self.unit
        if self.vocabulary is not None:
            data["vocabulary"] = self.vocabulary.name
            data["categories"] = [c.to_mapping() for c in self.vocabulary.categories]
        return data


PATIENT = Variable("patient", "Patient pseudonym", Kind.TEXT)
STUDY_ID = Variable("study_id", "Study record id (the registry's, not the DICOM UID)", Kind.TEXT)
STUDY_DATE = Variable("study_date", "Date of the MRI study", Kind.DATE)
GRADING_ID = Variable("grading_id", "Grading record id", Kind.TEXT)
GRADING_KIND_VAR = Variable("kind", "Kind of grading", Kind.CATEGORICAL, GRADING_KIND)
RATER = Variable("rater", "Rater pseudonym", Kind.TEXT)
VERSION = Variable("version", "Grading version (1 = first entry, higher = amendments)", Kind.INTEGER)
RECORDED_AT = Variable("recorded_at", "When this grading version was recorded (UTC)", Kind.DATETIME)
ENDPLATE_VAR = Variable("endplate", "Endplate", Kind.CATEGORICAL, ENDPLATE)
PROTOCOL_VAR = Variable("protocol", "Grading protocol of the version", Kind.CATEGORICAL, PROTOCOL)
NUMBERING_REFERENCE_VAR = Variable(
    "numbering_ref", "How the levels were identified", Kind.CATEGORICAL, NUMBERING_REFERENCE
)
TRANSITIONAL_VAR = Variable(
    "numbering_tv", "Lumbosacral transitional vertebra seen", Kind.CATEGORICAL, TRANSITIONAL_VERTEBRA
)
VERSION_CONTEXT = (PROTOCOL_VAR, NUMBERING_REFERENCE_VAR, TRANSITIONAL_VAR)
"""Per grading version: the protocol and the numbering reference it was recorded with."""


def endplate_variables(prefix: str = "", where: str = "") -> tuple[Variable, ...]:
    """The graded values of one endplate; ``prefix`` (``l4_inf_``) and ``where`` (``L4 inferior: ``) name it."""
    return (
        Variable(f"{prefix}type", f"{where}Modic type", Kind.CATEGORICAL, MODIC_TYPE),
        Variable(f"{prefix}size", f"{where}Modic size (maximum height)", Kind.CATEGORICAL, MODIC_SIZE),
        Variable(f"{prefix}ext", f"{where}Extension into the vertebral body, % of its height", Kind.NUMBER, unit="%"),
        Variable(f"{prefix}na", f"{where}Not assessable: reason", Kind.CATEGORICAL, NOT_ASSESSABLE),
        Variable(f"{prefix}mc", f"{where}Any Modic change", Kind.CATEGORICAL, NO_YES),
        Variable(f"{prefix}beyond", f"{where}Change beyond the endplate (size B-D)", Kind.CATEGORICAL, NO_YES),
        *(
            Variable(f"{prefix}{v.name}", f"{where}{v.label}", Kind.CATEGORICAL, EXTRA_VOCABULARIES[v.name])
            for v in EXTRA_VARIABLES
        ),
    )


def endplate_prefix(endplate: Endplate) -> str:
    """``L4_inf`` → ``l4_inf_``: the lower-case prefix of an endplate's wide-form variables."""
    return f"{endplate.value.lower()}_"


GRADINGS_LONG: tuple[Variable, ...] = (
    PATIENT,
    STUDY_ID,
    STUDY_DATE,
    GRADING_ID,
    GRADING_KIND_VAR,
    RATER,
    VERSION,
    RECORDED_AT,
    *VERSION_CONTEXT,
    ENDPLATE_VAR,
    *endplate_variables(),
)
"""One row per grading version and endplate."""

GRADINGS_WIDE: tuple[Variable, ...] = (
    PATIENT,
    STUDY_ID,
    STUDY_DATE,
    GRADING_ID,
    RATER,
    VERSION,
    RECORDED_AT,
    *VERSION_CONTEXT,
    *(v for e in ENDPLATES for v in endplate_variables(endplate_prefix(e), f"{e.label}: ")),
)
"""One row per patient: the grading that counts for eligibility, at its current version."""

NORDIC_SOURCE = (
    "Nordic Modic Consensus Group classification as used by Jensen et al., BMC Medicine 2012 "
    "(rest versus exercise for Modic changes, NCT00454792), Figure 1; Modic et al., Radiology 1988."
)


def _protocol_entry(protocol: Protocol) -> dict[str, Any]:
    """A protocol in the codebook: its variables with their level, source and coded categories."""
    entry = protocol.to_mapping()
    for variable in entry["variables"]:
        vocabulary = EXTRA_VOCABULARIES.get(variable["name"])
        if vocabulary is not None:
            variable["categories"] = [c.to_mapping() for c in vocabulary.categories]
    return entry


def codebook(eligibility: dict[str, tuple[Variable, ...]]) -> dict[str, Any]:
    """The codebook: each data set's variables (labels, types, categories) and the Nordic definitions.

    ``eligibility`` holds the variables of each trial's eligibility export, by trial id.
    """
    return {
        "datasets": {
            "gradings_long": {
                "description": "One row per grading version and endplate; every grading, every version.",
                "variables": [v.to_mapping() for v in GRADINGS_LONG],
            },
            "gradings_wide": {
                "description": (
                    "One row per patient: the latest version of the most recent clinical grading of the "
                    "patient's most recent graded study (the grading eligibility uses)."
                ),
                "variables": [v.to_mapping() for v in GRADINGS_WIDE],
            },
            **{
                f"eligibility_{trial}": {
                    "description": f"One row per patient with a decision for {trial}: status, criteria, answers.",
                    "variables": [v.to_mapping() for v in variables],
                }
                for trial, variables in eligibility.items()
            },
        },
        "nordic": {
            "source": NORDIC_SOURCE,
            "endplates": [c.to_mapping() for c in ENDPLATE.categories],
            "types": [c.to_mapping() for c in MODIC_TYPE.categories],
            "sizes": [c.to_mapping() for c in MODIC_SIZE.categories],
            "not_assessable": [c.to_mapping() for c in NOT_ASSESSABLE.categories],
            "numbering": {
                "reference": [c.to_mapping() for c in NUMBERING_REFERENCE.categories],
                "transitional": [c.to_mapping() for c in TRANSITIONAL_VERTEBRA.categories],
            },
            "protocols": [_protocol_entry(p) for p in protocols().values()],
            "rules": [
                "A size is required when the type is not none, and absent when it is none.",
                "When the extension is given, the size follows from it: 0 % → A, (0, 25] → B, (25, 50] → C, > 50 → D.",
                "An endplate that is not assessable has no type, size or extension.",
            ],
        },
    }
