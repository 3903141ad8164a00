"""Display geometry of slices (grading.series): display pixel <-> patient space, through the same
display transform the slice PNGs are rendered with (anterior left, head up for sagittal)."""

from __future__ import annotations

import numpy as np
import pytest

from grading.series import InstanceHeader, display_transform, slice_geometry, stack_geometry


def header(orientation: tuple[float, ...], position: tuple[float, float, float], **extra: object) -> InstanceHeader:
    values: dict[str, object] = {
        "source": "test",
        "sop_instance_uid": f"1.2.3.{position[0]}",
        "study_instance_uid": "1.2",
        "series_instance_uid": "1.2.3",
        "image_orientation": orientation,
        "image_position": position,
        "pixel_spacing": (0.8, 1.2),  # between rows, between columns
        "rows": 4,
        "columns": 6,
    }
    values.update(extra)
    return InstanceHeader(**values)  # type: ignore[arg-type]


def stored_point(h: InstanceHeader, column: int, row: int) -> np.ndarray:
    """DICOM PS3.3 C.7.6.2.1.1: IPP + column * Δcol * row direction + row * Δrow * column direction."""
    assert h.image_orientation and h.image_position and h.pixel_spacing
    o = np.asarray(h.image_orientation)
    return np.asarray(h.image_position) + column * h.pixel_spacing[1] * o[:3] + row * h.pixel_spacing[0] * o[3:]


@pytest.mark.parametrize(
    "orientation",
    [
        (0.0, 1.0, 0.0, 0.0, 0.0, -1.0),  # Siemens sagittal: shown as stored
        (0.0, -1.0, 0.0, 0.0, 0.0, -1.0),  # rows run anterior: flipped left-right
        (0.0, 0.0, -1.0, 0.0, 1.0, 0.0),  # rows run down, columns posterior: transposed
        (0.0, 0.0, 1.0, 0.0, -1.0, 0.0),  # transposed and flipped both ways
    ],
)
def test_every_stored_pixel_keeps_its_patient_position_on_screen(orientation: tuple[float, ...]) -> None:
    h = header(orientation, (12.0, -40.0, 80.0))
    geometry = slice_geometry(h)
    assert geometry is not None
    slice_, width, height = geometry
    stored = np.arange(24).reshape(4, 6)
    shown = display_transform(orientation).apply(stored)
    assert shown.shape == (height, width)
    for y in range(height):
        for x in range(width):
            row, column = divmod(int(shown[y, x]), 6)
            assert np.allclose(slice_.point(x, y), stored_point(h, column, row))
            px, py, off = slice_.pixel(stored_point(h, column, row))
            assert (px, py, off) == pytest.approx((x, y, 0.0), abs=1e-9)
    # on screen, anterior is left and head is up
    assert slice_.x_step[1] > 0 and slice_.y_step[2] < 0


def test_the_stack_finds_the_slice_nearest_to_a_point() -> None:
    sagittal = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
    stack = stack_geometry([header(sagittal, (x, 0.0, 0.0)) for x in (-8.0, -4.0, 0.0, 4.0)])
    assert stack is not None and (stack.width, stack.height) == (6, 4)
    assert stack.nearest_slice((1.9, 5.0, -3.0)) == 2 and stack.nearest_slice((2.1, 0.0, 0.0)) == 3
    assert stack.slices[3].pixel((4.0, 2.4, -1.6)) == pytest.approx((2.0, 2.0, 0.0))


def test_no_geometry_without_the_headers_or_with_mixed_sizes() -> None:
    sagittal = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
    assert slice_geometry(header(sagittal, (0.0, 0.0, 0.0), pixel_spacing=None)) is None
    assert stack_geometry([header(sagittal, (0.0, 0.0, 0.0)), header(sagittal, (4.0, 0.0, 0.0), rows=8)]) is None
    assert stack_geometry([]) is None
