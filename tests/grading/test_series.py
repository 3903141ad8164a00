"""Plane, weighting, stacks and the choice of the grading series (grading.series, docs/imaging.md rules)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from grading.errors import GradingError
from grading.series import (
    InstanceHeader,
    Plane,
    Weighting,
    WeightingReason,
    build_stack,
    classify_study,
    classify_weighting,
    plane_from_orientation,
    split_stacks,
    weighting_from_description,
)

SAG = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
COR = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
TRA = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def tilted(degrees: float) -> tuple[float, ...]:
    """A sagittal orientation whose normal is rotated ``degrees`` about z (towards coronal)."""
    a = math.radians(degrees)
    return (math.sin(a), math.cos(a), 0.0, 0.0, 0.0, -1.0)


def header(**values: Any) -> InstanceHeader:
    """A sagittal T1 SE slice of the 0.2 T protocol, with ``values`` replaced."""
    base: dict[str, Any] = {
        "source": "im001.dcm",
        "sop_instance_uid": "1.2.3.1",
        "study_instance_uid": "1.2.3",
        "series_instance_uid": "1.2.3.100",
        "series_number": 2,
        "instance_number": 1,
        "series_description": "t1_se_sag",
        "image_type": ("ORIGINAL", "PRIMARY", "M", "ND"),
        "scanning_sequence": ("SE",),
        "sequence_name": "*se2d1",
        "repetition_time_ms": 621.0,
        "echo_time_ms": 26.0,
        "image_orientation": SAG,
        "image_position": (0.0, -150.0, 150.0),
        "pixel_spacing": (1.5625, 1.5625),
        "slice_thickness_mm": 4.0,
        "spacing_between_slices_mm": 4.8,
        "rows": 192,
        "columns": 192,
        "magnetic_field_strength_t": 0.2,
    }
    base.update(values)
    return InstanceHeader(**base)


def series(
    count: int = 11, *, spacing: float = 4.8, series_uid: str = "1.2.3.100", **values: Any
) -> list[InstanceHeader]:
    """``count`` parallel slices of one series, ``spacing`` apart along the slice normal."""
    orientation = values.get("image_orientation", SAG)
    row, column = orientation[:3], orientation[3:]
    normal = (
        row[1] * column[2] - row[2] * column[1],
        row[2] * column[0] - row[0] * column[2],
        row[0] * column[1] - row[1] * column[0],
    )
    slices = []
    for i in range(count):
        fields: dict[str, Any] = {
            "source": f"{series_uid}-{i + 1}.dcm",
            "sop_instance_uid": f"{series_uid}.{i + 1}",
            "series_instance_uid": series_uid,
            "instance_number": i + 1,
            "image_position": tuple(c + spacing * i * n for c, n in zip((-24.0, -150.0, 150.0), normal, strict=True)),
        }
        fields.update(values)
        slices.append(header(**fields))
    return slices


@pytest.mark.parametrize(
    ("orientation", "plane", "nearest"),
    [
        (SAG, Plane.SAGITTAL, Plane.SAGITTAL),  # Siemens sagittal, anterior left, head up
        ((0.0, -1.0, 0.0, 0.0, 0.0, -1.0), Plane.SAGITTAL, Plane.SAGITTAL),  # flipped row direction
        (COR, Plane.CORONAL, Plane.CORONAL),  # coronal
        (TRA, Plane.AXIAL, Plane.AXIAL),  # axial
        (tilted(20), Plane.SAGITTAL, Plane.SAGITTAL),  # 20°: |n_x| = 0.94, still sagittal
        (tilted(35), Plane.OBLIQUE, Plane.SAGITTAL),  # 35°: |n_x| = 0.82, oblique but near sagittal
        (tilted(50), Plane.OBLIQUE, Plane.CORONAL),  # 50°: closer to coronal
    ],
)
def test_plane_from_orientation(orientation: tuple[float, ...], plane: Plane, nearest: Plane) -> None:
    result = plane_from_orientation(orientation)
    assert (result.plane, result.nearest) == (plane, nearest)


@pytest.mark.parametrize(
    "orientation",
    [
        (1.0, 0.0, 0.0, 1.0, 0.0, 0.0),  # parallel row and column
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0),  # all zero
        (1.0, 0.0, 0.0),  # too short
    ],
)
def test_bad_orientation_is_refused(orientation: tuple[float, ...]) -> None:
    with pytest.raises(GradingError, match="orientation"):
        plane_from_orientation(orientation)


@pytest.mark.parametrize(
    ("values", "weighting", "reason"),
    [
        ({}, Weighting.T1, WeightingReason.SPIN_ECHO_TIMING),  # T1 SE 621/26 (0.2 T protocol)
        (
            {"repetition_time_ms": 4609.0, "echo_time_ms": 134.0, "series_description": "t2_tse_sag"},
            Weighting.T2,
            WeightingReason.SPIN_ECHO_TIMING,
        ),  # T2 TSE 4609/134
        (
            {"repetition_time_ms": 3000.0, "echo_time_ms": 20.0, "series_description": "pd_tse_sag"},
            Weighting.PD,
            WeightingReason.SPIN_ECHO_TIMING,
        ),  # PD: long TR, short TE
        (
            {"scanning_sequence": ("SE", "IR"), "inversion_time_ms": 90.0, "series_description": "t2_tirm_sag"},
            Weighting.STIR,
            WeightingReason.INVERSION_RECOVERY,
        ),  # STIR at 0.2 T, TI 90 ms: never T2 despite the t2_ prefix
        (
            {"inversion_time_ms": 2500.0, "repetition_time_ms": 9000.0, "echo_time_ms": 120.0},
            Weighting.OTHER,
            WeightingReason.FLAIR,
        ),  # FLAIR: TI > 1500 ms
        (
            {"image_type": ("DERIVED", "SECONDARY", "MPR")},
            Weighting.OTHER,
            WeightingReason.DERIVED,
        ),  # a reformat is not graded
        (
            {"image_type": ("ORIGINAL", "PRIMARY", "LOCALIZER"), "scanning_sequence": ("GR",)},
            Weighting.OTHER,
            WeightingReason.LOCALIZER,
        ),  # ImageType LOCALIZER
        ({"series_description": "AAHScout"}, Weighting.OTHER, WeightingReason.LOCALIZER),  # Siemens auto-align scout
        ({"series_description": "3-plane loc"}, Weighting.OTHER, WeightingReason.LOCALIZER),  # GE localizer
        ({"series_description": "Survey"}, Weighting.OTHER, WeightingReason.LOCALIZER),  # Philips survey
        (
            {"sequence_name": "*fl2d1", "series_description": "x", "scanning_sequence": ("GR",)},
            Weighting.OTHER,
            WeightingReason.LOCALIZER,
        ),  # Siemens localizer sequence name
        (
            {"scanning_sequence": ("EP",), "series_description": "ep2d_diff"},
            Weighting.OTHER,
            WeightingReason.EPI,
        ),  # diffusion EPI
        (
            {"scanning_sequence": ("GR",), "repetition_time_ms": 500.0, "echo_time_ms": 15.0},
            Weighting.OTHER,
            WeightingReason.GRADIENT_ECHO,
        ),  # gradient echo, not for Modic
        (
            {"acquisition_contrast": "T2", "repetition_time_ms": None, "echo_time_ms": None},
            Weighting.T2,
            WeightingReason.ACQUISITION_CONTRAST,
        ),  # Enhanced MR AcquisitionContrast
        (
            {"repetition_time_ms": None, "echo_time_ms": None, "series_description": "SAG T1 FSE"},
            Weighting.T1,
            WeightingReason.DESCRIPTION,
        ),  # timing missing: the description breaks the tie
        (
            {"repetition_time_ms": 1200.0, "echo_time_ms": 50.0, "series_description": "T2W_TSE SAG"},
            Weighting.T2,
            WeightingReason.DESCRIPTION,
        ),  # ambiguous timing, Philips-style description
        (
            {"repetition_time_ms": 1200.0, "echo_time_ms": 50.0, "series_description": "LWS sag"},
            Weighting.OTHER,
            WeightingReason.AMBIGUOUS,
        ),  # nothing decides
    ],
)
def test_weighting_rules(values: dict[str, Any], weighting: Weighting, reason: WeightingReason) -> None:
    result = classify_weighting(header(**values))
    assert (result.weighting, result.reason) == (weighting, reason)


def test_a_description_that_disagrees_with_the_timing_is_a_warning() -> None:
    result = classify_weighting(header(series_description="t2_tse_sag"))
    assert result.weighting is Weighting.T1
    assert any("suggests T2" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("t1_se_sag", Weighting.T1),  # Siemens T1
        ("t2_tse_sag", Weighting.T2),  # Siemens T2
        ("t2_tirm_sag", Weighting.STIR),  # Siemens STIR (turbo inversion recovery magnitude)
        ("SAG STIR", Weighting.STIR),  # GE/Philips
        ("SAG T1 FSE", Weighting.T1),  # GE
        ("T2W_TSE SAG", Weighting.T2),  # Philips
        ("LWS sag", None),  # German "Lendenwirbelsäule": region only
        ("t2*_me2d", None),  # T2* gradient echo is not T2
    ],
)
def test_weighting_from_description(description: str, expected: Weighting | None) -> None:
    assert weighting_from_description(description) is expected


def test_header_validates_its_values() -> None:
    with pytest.raises(GradingError, match="sop_instance_uid is required"):
        header(sop_instance_uid="")
    with pytest.raises(GradingError, match="image_orientation needs 6 values"):
        header(image_orientation=(1.0, 0.0))
    with pytest.raises(GradingError, match=r"echo_time_ms .* not finite"):
        header(echo_time_ms=float("nan"))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"magnetic_field_strength_t": 0.2}, 0.2),  # tesla
        ({"magnetic_field_strength_t": 2000.0}, 0.2),  # gauss, as some old scanners write it
        ({"magnetic_field_strength_t": None, "imaging_frequency_mhz": 8.516}, 0.2),  # from the Larmor frequency
        ({"magnetic_field_strength_t": None, "imaging_frequency_mhz": 63.87}, 1.5),  # 1.5 T
        ({"magnetic_field_strength_t": None}, None),  # unknown
    ],
)
def test_field_strength(values: dict[str, Any], expected: float | None) -> None:
    assert header(**values).field_strength_t == expected


def test_a_clean_stack_is_sorted_by_position_not_instance_number() -> None:
    slices = series()
    shuffled = [dataclasses.replace(h, instance_number=100 - i) for i, h in enumerate(reversed(slices))]
    stack = build_stack(shuffled)
    assert stack.gradable and stack.warnings == ()
    assert [h.sop_instance_uid for h in stack.instances] == [h.sop_instance_uid for h in slices]
    assert stack.plane is Plane.SAGITTAL and stack.slices == 11 and stack.slice_spacing_mm == pytest.approx(4.8)


def test_missing_slices_are_reported() -> None:
    slices = series()
    del slices[5:7]
    stack = build_stack(slices)
    assert stack.gradable
    assert any("2 missing slice(s)" in w for w in stack.warnings)


def test_missing_slices_are_found_without_a_nominal_spacing() -> None:
    slices = [dataclasses.replace(h, spacing_between_slices_mm=None) for h in series()]
    del slices[3]
    stack = build_stack(slices)
    assert any("1 missing slice(s)" in w for w in stack.warnings)


def test_duplicate_positions_are_reported_and_one_is_kept() -> None:
    slices = series()
    copy = dataclasses.replace(slices[4], sop_instance_uid="1.2.3.100.99", source="copy.dcm")
    stack = build_stack([*slices, copy])
    assert stack.slices == 11
    assert any("duplicate slice position" in w and "copy.dcm" in w for w in stack.warnings)


def test_a_tilted_slice_is_reported() -> None:
    slices = series()
    slices[3] = dataclasses.replace(slices[3], image_orientation=tilted(5), source="tilted.dcm")
    stack = build_stack(slices)
    assert any("tilted slice tilted.dcm" in w for w in stack.warnings)


def test_duplicate_sop_instance_uids_are_dropped_silently() -> None:
    slices = series()
    (stack,) = split_stacks([*slices, slices[0], slices[1]])
    assert len(stack) == 11


def test_a_three_plane_localizer_splits_into_three_stacks() -> None:
    loc = {"series_description": "localizer", "scanning_sequence": ("GR",), "sequence_name": "*fl2d1"}
    headers = [
        header(sop_instance_uid="1.9.1", series_instance_uid="1.9", image_orientation=SAG, **loc),
        header(sop_instance_uid="1.9.2", series_instance_uid="1.9", image_orientation=COR, **loc),
        header(sop_instance_uid="1.9.3", series_instance_uid="1.9", image_orientation=TRA, **loc),
    ]
    stacks = split_stacks(headers)
    assert len(stacks) == 3


def test_two_echoes_in_one_series_are_two_stacks() -> None:
    first = series(5, series_description="pd+t2", repetition_time_ms=3000.0, echo_time_ms=20.0)
    second = [
        dataclasses.replace(h, sop_instance_uid=h.sop_instance_uid + ".2", echo_time_ms=100.0)
        for h in series(5, repetition_time_ms=3000.0)
    ]
    stacks = split_stacks([*first, *second])
    assert sorted(len(s) for s in stacks) == [5, 5]
    weightings = sorted(build_stack(s).weighting.value for s in stacks)
    assert weightings == ["PD", "T2"]


@pytest.mark.parametrize(
    ("values", "count", "reason"),
    [
        ({"image_orientation": TRA}, 11, "plane is axial, not sagittal"),  # axial T1
        ({}, 2, "only 2 slice(s)"),  # too few slices
        ({"image_type": ("DERIVED", "SECONDARY")}, 11, "weighting is other (derived)"),  # a reformat
        ({"image_position": None}, 11, "slice order unknown"),  # no geometry
    ],
)
def test_not_gradable_stacks_say_why(values: dict[str, Any], count: int, reason: str) -> None:
    stack = build_stack(series(count, **values))
    assert not stack.gradable
    assert stack.not_gradable_reason is not None and reason in stack.not_gradable_reason


def protocol_study(field_strength: float = 0.2) -> list[InstanceHeader]:
    """The five series of the 0.2 T protocol (localizer, T1, T2, STIR, axial T2)."""
    common = {"magnetic_field_strength_t": field_strength}
    loc = {"series_description": "localizer", "scanning_sequence": ("GR",), "sequence_name": "*fl2d1"}
    return [
        header(sop_instance_uid="1.1.1", series_instance_uid="1.1", series_number=1, **loc, **common),
        header(
            sop_instance_uid="1.1.2", series_instance_uid="1.1", series_number=1, image_orientation=COR, **loc, **common
        ),
        *series(series_uid="1.2", series_number=2, **common),
        *series(
            series_uid="1.3",
            series_number=3,
            series_description="t2_tse_sag",
            repetition_time_ms=4609.0,
            echo_time_ms=134.0,
            **common,
        ),
        *series(
            series_uid="1.4",
            series_number=4,
            series_description="t2_tirm_sag",
            scanning_sequence=("SE", "IR"),
            repetition_time_ms=3500.0,
            echo_time_ms=30.0,
            inversion_time_ms=90.0,
            **common,
        ),
        *series(
            7,
            series_uid="1.5",
            series_number=5,
            series_description="t2_tse_tra",
            image_orientation=TRA,
            repetition_time_ms=6415.0,
            echo_time_ms=134.0,
            **common,
        ),
    ]


def test_the_protocol_study_chooses_sagittal_t1_and_t2() -> None:
    result = classify_study(protocol_study())
    assert result.grading_series.t1 is not None and result.grading_series.t1.series_instance_uid == "1.2"
    assert result.grading_series.t2 is not None and result.grading_series.t2.series_instance_uid == "1.3"
    assert result.field_strength_t == 0.2 and result.warnings == ()
    stir = next(s for s in result.stacks if s.series_instance_uid == "1.4")
    assert stir.weighting is Weighting.STIR and stir.gradable


def test_stir_is_never_taken_as_t2() -> None:
    headers = [h for h in protocol_study() if h.series_instance_uid != "1.3"]
    result = classify_study(headers)
    assert result.grading_series.t2 is None
    assert "no gradable sagittal T2 series" in result.warnings


@pytest.mark.parametrize(
    ("field_strength", "expected", "warned"),
    [
        (0.2, 0.2, False),  # the expected field strength
        (0.23, 0.2, False),  # within the tolerance
        (1.5, 0.2, True),  # a 1.5 T study at a 0.2 T site
        (0.3, 0.2, True),  # 0.3 T (Bendix et al. 2012 compared 0.3 T with 1.5 T)
        (1.5, 1.5, False),  # a 1.5 T site configured as such
    ],
)
def test_field_strength_check(field_strength: float, expected: float, warned: bool) -> None:
    result = classify_study(protocol_study(field_strength), expected_field_strength_t=expected)
    assert any("differs from the expected" in w for w in result.warnings) is warned


def test_a_repeated_series_prefers_the_clean_one() -> None:
    broken = series(series_uid="1.7", series_number=7)
    del broken[4]
    result = classify_study([*series(series_uid="1.2", series_number=2), *broken])
    assert result.grading_series.t1 is not None and result.grading_series.t1.series_instance_uid == "1.2"


def test_a_study_needs_images_of_one_study() -> None:
    with pytest.raises(GradingError, match="at least one image"):
        classify_study([])
    with pytest.raises(GradingError, match="several studies"):
        classify_study([header(), header(sop_instance_uid="9.9", study_instance_uid="9")])
