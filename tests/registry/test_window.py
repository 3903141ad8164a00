"""The one rule of a usable display window (docs/imaging.md#display), and its users."""

from __future__ import annotations

import math

import pytest

from registry.imaging.errors import RenderError
from registry.imaging.render import render_png
from registry.imaging.window import usable_window
from registry.models import Series
from registry.services.studies import default_window
from tests.imaging_support import SAMPLE_STUDIES, series_dir


@pytest.mark.parametrize(
    ("center", "width", "expected"),
    [
        (40, 400, (40.0, 400.0)),  # integers, as JSON keeps them
        (-50.5, 0.5, (-50.5, 0.5)),  # a negative centre is fine (after a rescale)
        (40, 0, None),  # no width
        (40, -1, None),  # a negative width
        (None, 400, None),  # a missing value
        (math.nan, 400, None),  # not a number
        (40, math.inf, None),  # infinite
        ("40", 400, None),  # text is not a number here
        (True, 400, None),  # a boolean is not a number either
    ],
)
def test_usable_window(center: object, width: object, expected: tuple[float, float] | None) -> None:
    assert usable_window(center, width) == expected


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        ({"window": [40, 400]}, (40.0, 400.0)),
        ({"window": [40, 0]}, None),  # recorded before the rule held: not used
        ({"window": [40]}, None),
        ({}, None),
        (None, None),
    ],
)
def test_a_stored_series_window_follows_the_rule(details: dict[str, object] | None, expected: object) -> None:
    assert default_window(Series(details=details)) == expected


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"window_width": 0}, "window width 0 must be > 0"),
        ({"window_width": math.inf}, "window width inf must be > 0"),
        ({"window_center": math.nan}, "window centre nan must be a finite number"),
    ],
)
def test_a_requested_window_follows_the_rule(window: dict[str, float], message: str) -> None:
    data = sorted(series_dir(SAMPLE_STUDIES[0], "t2").glob("*.dcm"))[5].read_bytes()
    with pytest.raises(RenderError, match=message):
        render_png(data, **window)
