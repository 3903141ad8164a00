"""Level labels and height-fraction measurements (grading.annotations), with plain values."""

from __future__ import annotations

import math

import pytest

from grading.annotations import Annotations, HeightFraction, Level, LevelLabels
from grading.endplates import Endplate
from grading.errors import GradingError, GradingErrors


def test_a_change_reaching_40_percent_of_a_27_mm_body_measures_40_percent() -> None:
    # an endplate at z = 0, the opposite endplate 27 mm above, the change 10.8 mm deep
    measured = HeightFraction(Endplate.L4_inf, (0.0, 0.0, 0.0), (0.0, 0.0, 27.0), (0.0, 0.0, 10.8))
    assert measured.height_mm == pytest.approx(27.0)
    assert measured.depth_mm == pytest.approx(10.8)
    assert measured.extension_pct == 40.0


def test_the_depth_is_measured_along_the_height_axis_of_a_tilted_body() -> None:
    # a body tilted 30° in the sagittal plane; the depth point lies 8 mm anterior of the axis
    axis = (0.0, math.sin(math.radians(30)), math.cos(math.radians(30)))
    across = (0.0, math.cos(math.radians(30)), -math.sin(math.radians(30)))
    top = tuple(25.0 * a for a in axis)
    depth = tuple(5.0 * a + 8.0 * b for a, b in zip(axis, across, strict=True))
    measured = HeightFraction(Endplate.L5_sup, (0.0, 0.0, 0.0), top, depth)  # type: ignore[arg-type]
    assert measured.extension_pct == 20.0


def test_a_depth_point_outside_the_body_is_clamped() -> None:
    above = HeightFraction(Endplate.L4_inf, (0.0, 0.0, 0.0), (0.0, 0.0, 20.0), (0.0, 0.0, -3.0))
    beyond = HeightFraction(Endplate.L4_inf, (0.0, 0.0, 0.0), (0.0, 0.0, 20.0), (0.0, 0.0, 30.0))
    assert (above.extension_pct, beyond.extension_pct) == (0.0, 100.0)


def test_measurements_are_read_from_json_and_recomputed() -> None:
    body = {
        "endplate": "S1_sup",
        "endplate_point": [1, 2, 3],
        "opposite_point": [1, 2, 33],
        "depth_point": [1, 2, 18],
        "extension_pct": 99,  # what a client claims is ignored: the service computes it
    }
    measured = HeightFraction.from_mapping(body).to_mapping()
    assert measured["extension_pct"] == 50.0 and measured["height_mm"] == 30.0 and measured["endplate"] == "S1_sup"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"endplate": "L6_inf"}, "endplate 'L6_inf' is unknown; allowed: L1_sup"),
        (
            {"endplate": "L4_inf", "endplate_point": [0, 0], "opposite_point": [0, 0, 1], "depth_point": [0, 0, 1]},
            "measurements.L4_inf.endplate_point: a point is [x, y, z] in mm",
        ),
        (
            {
                "endplate": "L4_inf",
                "endplate_point": [0, 0, 0],
                "opposite_point": [0, 0, 0.5],
                "depth_point": [0, 0, 0],
            },
            "the body height is 0.50 mm",
        ),
    ],
)
def test_bad_measurements_are_refused_naming_the_problem(body: dict[str, object], message: str) -> None:
    with pytest.raises(GradingError) as raised:
        HeightFraction.from_mapping(body)
    assert message in raised.value.message and raised.value.field == "measurements"


def test_level_labels_keep_the_order_of_the_spine() -> None:
    labels = LevelLabels.from_mapping({"S1": [0, 1, -90], "L1": [0, 2, 60.5]})
    assert [level for level, _ in labels.points] == [Level.L1, Level.S1]
    assert labels.to_mapping() == {"L1": [0.0, 2.0, 60.5], "S1": [0.0, 1.0, -90.0]}


@pytest.mark.parametrize(
    ("levels", "message"),
    [
        ({"T12": [0, 0, 0]}, "level 'T12' is unknown; allowed: L1, L2, L3, L4, L5, S1"),
        ({"L3": [0, "a", 0]}, "levels.L3: a point is [x, y, z]"),
        ({"L3": [0, float("nan"), 0]}, "levels.L3: a point is [x, y, z]"),
        ([1, 2], "levels must be an object"),
    ],
)
def test_bad_level_labels_are_refused(levels: object, message: str) -> None:
    with pytest.raises(GradingError) as raised:
        LevelLabels.from_mapping(levels)
    assert message in raised.value.message and raised.value.field == "levels"


def test_annotations_report_every_problem_at_once() -> None:
    with pytest.raises(GradingErrors) as raised:
        Annotations.from_body({"X1": [0, 0, 0]}, [{"endplate": "nope"}, "text"])
    assert [e.field for e in raised.value.errors] == ["levels", "measurements", "measurements"]
    empty = Annotations.from_body(None, None)
    assert (empty.to_levels(), empty.to_measurements()) == ({}, [])
