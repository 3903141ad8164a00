"""The Nordic classification values (docs/nordic.md; Jensen 2012, Figure 1)."""

from __future__ import annotations

import pytest

from grading.endplates import ENDPLATES, DiscLevel, Endplate, disc_level_of
from grading.errors import GradingError, GradingErrors
from grading.nordic import (
    TYPE_LABELS,
    EndplateGrading,
    ModicComponent,
    ModicType,
    Size,
    StudyGrading,
    all_none,
    size_from_extension,
)


def test_the_eleven_endplates_in_order() -> None:
    assert [e.value for e in ENDPLATES] == [
        "L1_sup", "L1_inf", "L2_sup", "L2_inf", "L3_sup", "L3_inf",
        "L4_sup", "L4_inf", "L5_sup", "L5_inf", "S1_sup",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("level", "upper", "lower"),
    [
        (DiscLevel.L1_L2, "L1_inf", "L2_sup"),
        (DiscLevel.L4_L5, "L4_inf", "L5_sup"),
        (DiscLevel.L5_S1, "L5_inf", "S1_sup"),  # docs/nordic.md#endplates: L5-S1 is L5_inf and S1_sup
    ],
)
def test_disc_levels_are_bordered_by_two_endplates(level: DiscLevel, upper: str, lower: str) -> None:
    assert level.endplates == (Endplate(upper), Endplate(lower))
    assert disc_level_of(Endplate(upper)) is level and disc_level_of(Endplate(lower)) is level


def test_l1_superior_borders_no_graded_disc() -> None:
    assert disc_level_of(Endplate.L1_sup) is None


def test_unknown_endplate_lists_the_allowed_ids() -> None:
    with pytest.raises(ValueError, match=r"unknown endplate 'L6_sup'; allowed: L1_sup, .*S1_sup"):
        Endplate.parse("L6_sup")


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("none", "none"),  # no change
        ("NONE", "none"),  # case-insensitive
        ("I", "I"),
        ("ii", "II"),  # lower case accepted
        ("III", "III"),
        ("I/II", "I/II"),
        ("II/I", "I/II"),  # any order on input, ascending on output
        ("i/ii", "I/II"),
        ("III/I", "I/III"),
        ("III/II", "II/III"),
        (" II / III ", "II/III"),  # spaces around components
        ("III/I/II", "I/II/III"),
    ],
)
def test_type_is_normalised(text: str, canonical: str) -> None:
    assert str(ModicType.parse(text)) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("IV", r"type 'IV' is not a Modic type; allowed: none, I, II, III"),  # no type IV
        ("I/none", r"type 'I/none' is not a Modic type"),  # none cannot be mixed
        ("", r"type '' is not a Modic type"),  # empty
        ("I/I", r"type 'I/I' repeats component I"),  # repeated component
        ("1", r"type '1' is not a Modic type"),  # arabic numerals are not the notation
        ("I//II", r"type 'I//II' is not a Modic type"),  # empty component
        (2, r"type 2 is not a string"),  # not text at all
    ],
)
def test_bad_types_are_rejected_with_the_allowed_values(text: object, message: str) -> None:
    with pytest.raises(GradingError, match=message):
        ModicType.parse(text)


def test_every_canonical_label_round_trips() -> None:
    assert [str(ModicType.parse(label)) for label in TYPE_LABELS] == list(TYPE_LABELS)
    assert ModicComponent.I in ModicType.parse("I/III")


@pytest.mark.parametrize(
    ("pct", "size"),
    [
        (0, Size.A),  # 0 → A (endplate only)
        (0.01, Size.B),  # just beyond the endplate
        (25, Size.B),  # (0, 25] → B
        (25.0001, Size.C),
        (50, Size.C),  # (25, 50] → C
        (50.5, Size.D),  # > 50 → D
        (100, Size.D),
    ],
)
def test_size_from_extension_boundaries(pct: float, size: Size) -> None:
    assert size_from_extension(pct) is size


@pytest.mark.parametrize(
    ("pct", "message"),
    [
        (-1, r"extension_pct -1 is out of range; allowed: 0 to 100"),  # negative
        (100.5, r"out of range"),  # beyond the whole body
        (float("nan"), r"out of range"),  # not a number
        (True, r"extension_pct True is not a number"),  # booleans are not numbers
        ("30", r"extension_pct '30' is not a number"),  # strings are not numbers
    ],
)
def test_bad_extension(pct: object, message: str) -> None:
    with pytest.raises(GradingError, match=message):
        size_from_extension(pct)  # type: ignore[arg-type]


def test_size_beyond_endplate() -> None:
    assert [s.beyond_endplate for s in Size] == [False, True, True, True]


def _full(**overrides: dict[str, object]) -> dict[str, object]:
    body: dict[str, object] = {e.value: {"type": "none"} for e in ENDPLATES}
    body.update(overrides)
    return body


def test_a_study_grading_is_canonical() -> None:
    grading = StudyGrading.from_mapping(
        _full(L4_inf={"type": "II/I", "size": "c"}, L5_sup={"type": "I", "extension_pct": 30})
    )
    assert grading["L4_inf"].evidence() == "L4_inf: type I/II, size C"
    assert grading[Endplate.L5_sup].size is Size.C  # derived from 30 %
    assert grading.to_mapping()["L1_sup"] == {"type": "none", "size": None, "extension_pct": None}
    assert [g.endplate.value for g in grading.changes] == ["L4_inf", "L5_sup"]
    assert StudyGrading.from_mapping(grading.to_mapping()) == grading  # output is valid input


@pytest.mark.parametrize(
    ("body", "endplate", "field", "message"),
    [
        # a missing endplate
        ({k: v for k, v in _full().items() if k != "L3_sup"}, "L3_sup", "endplate", r"L3_sup: endplate is missing"),
        # an unknown endplate
        (_full(L6_sup={"type": "none"}), "L6_sup", "endplate", r"endplate 'L6_sup' is unknown; allowed: L1_sup"),
        # an unknown type
        (_full(L4_inf={"type": "IV", "size": "B"}), "L4_inf", "type", r"L4_inf: type 'IV' is not a Modic type"),
        # a missing type
        (_full(L4_inf={"size": "B"}), "L4_inf", "type", r"L4_inf: type is required"),
        # a size with none
        (
            _full(L2_inf={"type": "none", "size": "B"}),
            "L2_inf",
            "size",
            r"L2_inf: size 'B' must be absent when type is 'none'",
        ),
        # a missing size
        (
            _full(L4_inf={"type": "I"}),
            "L4_inf",
            "size",
            r"L4_inf: size is required when type is 'I'; allowed: A, B, C, D",
        ),
        # an unknown size
        (
            _full(L4_inf={"type": "I", "size": "E"}),
            "L4_inf",
            "size",
            r"L4_inf: size 'E' is not a size; allowed: A, B, C, D",
        ),
        # an extension that contradicts the size
        (
            _full(L4_inf={"type": "I", "size": "B", "extension_pct": 30}),
            "L4_inf",
            "extension_pct",
            r"L4_inf: extension_pct 30 gives size C, which contradicts size 'B'",
        ),
        # an extension out of range
        (_full(L4_inf={"type": "I", "extension_pct": 120}), "L4_inf", "extension_pct", r"L4_inf: extension_pct 120"),
        # an extension with none
        (
            _full(L1_inf={"type": "none", "extension_pct": 0}),
            "L1_inf",
            "extension_pct",
            r"L1_inf: extension_pct must be absent",
        ),
        # an unknown field
        (_full(S1_sup={"type": "none", "volume": 3}), "S1_sup", "volume", r"S1_sup: unknown field 'volume'"),
        # an endplate that is not an object
        (_full(L5_inf="I"), "L5_inf", "type", r"L5_inf: expected an object"),
    ],
)
def test_invalid_gradings_name_endplate_and_field(
    body: dict[str, object], endplate: str, field: str, message: str
) -> None:
    with pytest.raises(GradingErrors, match=message) as info:
        StudyGrading.from_mapping(body)
    assert [(e.endplate, e.field) for e in info.value.errors] == [(endplate, field)]


def test_every_problem_is_reported_at_once() -> None:
    body = _full(L1_sup={"type": "I"}, S1_sup={"type": "X"})
    with pytest.raises(GradingErrors) as info:
        StudyGrading.from_mapping(body)
    assert [e.endplate for e in info.value.errors] == ["L1_sup", "S1_sup"]


def test_endplates_must_be_an_object() -> None:
    with pytest.raises(GradingErrors, match=r"endplates must be an object keyed by endplate id"):
        StudyGrading.from_mapping(["L1_sup"])


def test_the_value_objects_validate_themselves() -> None:
    with pytest.raises(GradingError, match=r"L4_inf: size is required"):
        EndplateGrading(Endplate.L4_inf, ModicType.parse("II"))
    with pytest.raises(GradingError, match=r"missing: L1_sup"):
        StudyGrading(all_none().endplates[1:])
    assert all_none().changes == ()


@pytest.mark.parametrize(
    "data",
    [
        {"type": "I", "size": "C"},
        {"size": "C", "type": "i"},  # other order, other spelling: the same value
        {"type": "I/II", "extension_pct": 30},
        {"type": "I/II", "extension_pct": 30.0},
        {"type": "I/II", "extension_pct": 1},
        {"type": "I/II", "extension_pct": True},  # equal to 1 and hashed alike: must not get 1's result
        {"type": "none", "size": "A"},  # refused, every time
        {"type": ["I"]},  # unhashable: parsed (and refused) without the cache
        {"type": "II", "size": "B", "colour": "red"},
    ],
)
def test_remembered_parses_answer_as_a_fresh_parse(data: dict[str, object]) -> None:
    endplate = Endplate.L4_inf

    def outcome(parse: object) -> object:
        try:
            return parse(endplate, data)  # type: ignore[operator]
        except GradingError as exc:
            return (exc.field, exc.message)

    fresh = outcome(EndplateGrading._parse)
    assert outcome(EndplateGrading.from_mapping) == fresh
    assert outcome(EndplateGrading.from_mapping) == fresh  # the second time from the cache
    if isinstance(fresh, EndplateGrading):
        assert EndplateGrading.from_mapping(endplate, dict(data)) is EndplateGrading.from_mapping(endplate, data)
