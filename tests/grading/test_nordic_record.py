"""Not assessable, the numbering reference, the exact size boundaries and protocol validation
(docs/nordic.md)."""

from __future__ import annotations

from typing import Any

import pytest

from grading.endplates import ENDPLATES, Endplate
from grading.errors import GradingError, GradingErrors
from grading.nordic import (
    SIZE_UPPER_BOUNDS,
    EndplateGrading,
    ModicType,
    NotAssessable,
    Numbering,
    NumberingReference,
    Size,
    StudyGrading,
    TransitionalVertebra,
    size_from_extension,
)
from grading.protocols import DEFAULT_PROTOCOL, get_protocol, protocols

FIGURE_1 = "A: Endplate only, B: > endplate to 25%, C: 25 to 50%, and D: > 50%"
"""The 2012 trial paper, Figure 1 (classification of size), quoted in docs/nordic.md."""


def _full(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {e.value: {"type": "none"} for e in ENDPLATES}
    data.update(overrides)
    return data


# --- exact size boundaries ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pct", "size", "wording"),
    [
        (0, Size.A, "A: Endplate only"),  # no extension beyond the endplate
        (0.0, Size.A, "A: Endplate only"),
        (1e-9, Size.B, "B: > endplate"),  # anything beyond the endplate is B
        (0.5, Size.B, "B: > endplate"),
        (2, Size.B, "B: > endplate to 25%"),  # the 2 %: beyond the endplate, so B
        (25, Size.B, "B: > endplate to 25%"),  # 25 % itself is still B ("to 25%")
        (25.000001, Size.C, "C: 25 to 50%"),  # C starts where B ends
        (50, Size.C, "C: 25 to 50%"),  # 50 % itself is still C ("to 50%")
        (50.000001, Size.D, "D: > 50%"),
        (100, Size.D, "D: > 50%"),
    ],
)
def test_extension_beyond_the_endplate_at_every_boundary(pct: float, size: Size, wording: str) -> None:
    assert wording in FIGURE_1
    assert size_from_extension(pct) is size


def test_the_boundaries_are_written_once_and_are_the_figure_1_boundaries() -> None:
    # Figure 1: A "Endplate only" (0), B "to 25%", C "to 50%", D "> 50%" (up to the whole body).
    assert SIZE_UPPER_BOUNDS == ((0.0, Size.A), (25.0, Size.B), (50.0, Size.C), (100.0, Size.D))


@pytest.mark.parametrize(
    ("entry", "size", "extension"),
    [
        ({"type": "I", "size": "A"}, Size.A, None),  # "A: Endplate only": no percentage
        ({"type": "I", "size": "A", "extension_pct": 0}, Size.A, 0.0),  # or 0
        ({"type": "I", "extension_pct": 0}, Size.A, 0.0),
        ({"type": "I", "size": "B", "extension_pct": 25}, Size.B, 25.0),  # "B: > endplate to 25%"
        ({"type": "I", "size": "C", "extension_pct": 50}, Size.C, 50.0),  # "C: 25 to 50%"
        ({"type": "I", "extension_pct": 50.5}, Size.D, 50.5),  # "D: > 50%"
    ],
)
def test_size_and_extension_agree_at_the_boundaries(entry: dict[str, Any], size: Size, extension: float) -> None:
    grading = EndplateGrading.from_mapping(Endplate.L4_inf, entry)
    assert grading.size is size and grading.extension_pct == extension


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        # "A: Endplate only": a percentage beyond the endplate contradicts A
        (
            {"type": "I", "size": "A", "extension_pct": 0.5},
            r"extension_pct 0.5 gives size B, which contradicts size 'A'",
        ),
        # "B: > endplate": 0 is the endplate only
        ({"type": "I", "size": "B", "extension_pct": 0}, r"extension_pct 0 gives size A, which contradicts size 'B'"),
        # "C: 25 to 50%" starts above 25
        ({"type": "I", "size": "C", "extension_pct": 25}, r"extension_pct 25 gives size B, which contradicts size 'C'"),
        # "D: > 50%" starts above 50
        ({"type": "I", "size": "D", "extension_pct": 50}, r"extension_pct 50 gives size C, which contradicts size 'D'"),
    ],
)
def test_a_size_across_a_boundary_is_refused(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(GradingError, match=message) as caught:
        EndplateGrading.from_mapping(Endplate.L4_inf, entry)
    assert caught.value.endplate == "L4_inf" and caught.value.field == "extension_pct"


# --- not assessable --------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", list(NotAssessable))
def test_not_assessable_round_trips_without_type_or_size(reason: NotAssessable) -> None:
    note = "scoliosis, other" if reason is NotAssessable.other else None
    entry = {"not_assessable": reason.value, **({"note": note} if note else {})}
    grading = StudyGrading.from_mapping(_full(S1_sup=entry))
    s1 = grading["S1_sup"]
    assert s1.type is None and s1.size is None and s1.not_assessable is reason and not s1.assessable
    assert not s1.has_change and not s1.beyond_endplate
    assert s1.to_mapping() == {"not_assessable": reason.value, "note": note}
    assert grading.not_assessable == (s1,)
    assert StudyGrading.from_mapping(grading.to_mapping()) == grading
    assert "S1_sup: not assessable" in s1.evidence()


@pytest.mark.parametrize(
    ("entry", "field", "message"),
    [
        ({"not_assessable": "blurred"}, "not_assessable", r"'blurred' is not a reason; allowed: artefact, outside_fov"),
        ({"not_assessable": "other"}, "note", r"'other' needs a note"),
        ({"not_assessable": "other", "note": "  "}, "note", r"'other' needs a note"),
        ({"not_assessable": "artefact", "type": "I"}, "type", r"field 'type' is not allowed on a not-assessable"),
        ({"not_assessable": "artefact", "size": "B"}, "size", r"allowed: not_assessable, note"),
        ({"not_assessable": "artefact", "note": 5}, "note", r"note 5 is not text"),
        ({"not_assessable": "artefact", "note": "x" * 501}, "note", r"at most 500 characters"),
        ({"type": "none", "note": "why"}, "note", r"unknown field 'note'"),
    ],
)
def test_bad_not_assessable_names_endplate_and_field(entry: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(GradingErrors, match=message) as caught:
        StudyGrading.from_mapping(_full(L5_inf=entry))
    (error,) = caught.value.errors
    assert (error.endplate, error.field) == ("L5_inf", field)


def test_a_graded_endplate_and_a_reason_together_are_refused() -> None:
    with pytest.raises(GradingError, match="either graded"):
        EndplateGrading(Endplate.L4_inf, ModicType(frozenset()), not_assessable=NotAssessable.artefact)


# --- numbering -------------------------------------------------------------------------------------


def test_numbering_round_trips() -> None:
    numbering = Numbering.from_mapping({"reference": "last_rib", "transitional": "sacralised_l5"})
    assert numbering == Numbering(NumberingReference.last_rib, TransitionalVertebra.sacralised_l5)
    assert numbering.to_mapping() == {"reference": "last_rib", "transitional": "sacralised_l5"}


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"reference": "skull", "transitional": "none"}, "numbering.reference", r"allowed: sacrum, last_rib, other"),
        ({"reference": "sacrum"}, "numbering.transitional", r"None is not allowed; allowed: none, lumbarised_s1"),
        ({"reference": "sacrum", "transitional": "none", "x": 1}, "numbering", r"unknown field 'x'"),
        ("sacrum", "numbering", r"must be an object"),
    ],
)
def test_bad_numbering_names_the_field_and_allowed_values(data: object, field: str, message: str) -> None:
    with pytest.raises(GradingError, match=message) as caught:
        Numbering.from_mapping(data)
    assert caught.value.field == field


# --- protocols ------------------------------------------------------------------------------------


def test_two_protocol_versions_ship_and_the_core_is_the_default() -> None:
    assert list(protocols()) == ["nordic-2007", "nordic-2007-full"]
    assert DEFAULT_PROTOCOL == "nordic-2007"
    assert [v.name for v in get_protocol(None).variables] == ["type", "size"]
    full = get_protocol("nordic-2007-full")
    assert [v.name for v in full.variables] == [
        "type", "size", "location", "volume", "endplate_area", "osteophytes", "endplate_defect",
        "irregular_endplate", "development",
    ]  # fmt: skip
    assert {v.name: v.level.value for v in full.variables if v.level.value == "ordinal"} == {
        "size": "ordinal",
        "volume": "ordinal",
        "endplate_area": "ordinal",
    }
    assert all(v.source and v.quote and v.categories for v in full.variables)
    assert [v.name for v in full.variables if v.requires_prior] == ["development"]


def test_unknown_protocol_lists_the_allowed_ones() -> None:
    with pytest.raises(
        GradingError, match=r"protocol 'nordic-1999' is unknown; allowed: nordic-2007, nordic-2007-full"
    ):
        get_protocol("nordic-1999")


def test_full_protocol_records_its_variables_under_their_own_names() -> None:
    full = get_protocol("nordic-2007-full")
    entry = {"type": "I", "size": "C", "location": "anterior", "volume": "lt25", "osteophytes": "yes"}
    grading = full.parse(_full(L4_inf=entry, L5_sup={"type": "none", "irregular_endplate": "no"}))
    assert grading["L4_inf"].to_mapping() == {
        "type": "I",
        "size": "C",
        "extension_pct": None,
        "location": "anterior",
        "volume": "lt25",
        "osteophytes": "yes",
    }
    assert grading["L5_sup"].variable("irregular_endplate") == "no"
    assert full.parse(grading.to_mapping()) == grading


@pytest.mark.parametrize(
    ("protocol", "entry", "field", "message"),
    [
        (
            "nordic-2007-full",
            {"type": "I", "size": "B", "location": "lateral"},
            "location",
            r"L4_inf: location 'lateral' is not allowed; allowed: anterior, middle, posterior, anterior_middle",
        ),
        (
            "nordic-2007-full",
            {"type": "none", "volume": "lt25"},
            "volume",
            r"L4_inf: volume must be absent when type is 'none'",
        ),
        (
            "nordic-2007-full",
            {"not_assessable": "artefact", "osteophytes": "yes"},
            "osteophytes",
            r"field 'osteophytes' is not allowed on a not-assessable endplate",
        ),
        (
            "nordic-2007",
            {"type": "I", "size": "B", "location": "anterior"},
            "location",
            r"L4_inf: unknown field 'location'; allowed: type, size, extension_pct, not_assessable",
        ),
    ],
)
def test_protocol_validation_names_endplate_field_and_allowed_values(
    protocol: str, entry: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(GradingErrors, match=message) as caught:
        get_protocol(protocol).parse(_full(L4_inf=entry))
    (error,) = caught.value.errors
    assert (error.endplate, error.field) == ("L4_inf", field)
