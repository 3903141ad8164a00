"""What a radiologist marks on the images while grading: level labels and height-fraction measurements.

Both are kept with the grading version they were made for, in patient coordinates (DICOM LPS, mm),
so that they can be drawn on any series of the study (T1 and T2 differ in matrix and position).

- **Level labels** name the vertebral bodies L1 to S1 at a point inside each body, placed on the
  sagittal image. Miscounting at L5/S1 is the classic error of lumbar grading; the labels make the
  count the radiologist used visible and reviewable.
- **Height-fraction measurements** support the Nordic size (A endplate only, B up to 25 %, C 25-50 %,
  D over 50 % of the vertebral body height; Jensen 2012, Figure 1): two points give the body height
  (the endplate with the change and the opposite endplate of the same vertebra), a third point the
  deepest extent of the change. The extension is the depth of the change along the height axis as a
  percentage of the height, computed here and never taken from the client.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from grading.endplates import ENDPLATE_IDS, Endplate
from grading.errors import GradingError, GradingErrors

Point = tuple[float, float, float]

MAX_MEASUREMENTS = 22
"""At most two measurements per endplate are kept with a version."""

MIN_HEIGHT_MM = 1.0
"""A vertebral body height below this is a mis-click, not a measurement."""


class Level(enum.Enum):
    """A vertebral body that can be labelled: the vertebrae of the 11 graded endplates."""

    L1 = "L1"
    L2 = "L2"
    L3 = "L3"
    L4 = "L4"
    L5 = "L5"
    S1 = "S1"


def parse_point(value: object, where: str, *, field: str, endplate: str | None = None) -> Point:
    """Three finite numbers (x, y, z in mm, LPS); the error names ``where``."""
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or len(value) != 3
        or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    ):
        raise GradingError(
            f"{where}: a point is [x, y, z] in mm (three finite numbers), got {value!r}", endplate=endplate, field=field
        )
    return (float(value[0]), float(value[1]), float(value[2]))


@dataclass(frozen=True)
class LevelLabels:
    """The labelled vertebral bodies of a study, each at one point in patient space."""

    points: tuple[tuple[Level, Point], ...]

    def __post_init__(self) -> None:
        levels = [level for level, _ in self.points]
        if len(set(levels)) != len(levels):
            raise GradingError(f"levels: each level once, got {[lv.value for lv in levels]}", field="levels")

    @classmethod
    def from_mapping(cls, data: object) -> LevelLabels:
        """Build from ``{"L1": [x, y, z], ...}`` (any subset of L1 to S1)."""
        if not isinstance(data, Mapping):
            raise GradingError(f"levels must be an object keyed by level (L1 to S1), got {data!r}", field="levels")
        allowed = ", ".join(lv.value for lv in Level)
        points = []
        for key, value in data.items():
            if not isinstance(key, str) or key not in Level.__members__:
                raise GradingError(f"levels: level {key!r} is unknown; allowed: {allowed}", field="levels")
            points.append((Level(key), parse_point(value, f"levels.{key}", field="levels")))
        order = list(Level)
        return cls(tuple(sorted(points, key=lambda item: order.index(item[0]))))

    def to_mapping(self) -> dict[str, list[float]]:
        """``{"L1": [x, y, z], ...}`` from L1 down."""
        return {level.value: list(point) for level, point in self.points}


def _sub(a: Point, b: Point) -> Point:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


def _dot(a: Point, b: Point) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


@dataclass(frozen=True)
class HeightFraction:
    """How far a change at ``endplate`` extends into its vertebral body.

    ``endplate_point`` lies on the endplate with the change, ``opposite_point`` on the other
    endplate of the same body, ``depth_point`` at the deepest extent of the change. The depth is
    the projection of (depth_point − endplate_point) on the height axis, so a depth point off the
    axis (e.g. at the anterior part of the body) still measures its distance from the endplate.
    """

    endplate: Endplate
    endplate_point: Point
    opposite_point: Point
    depth_point: Point

    def __post_init__(self) -> None:
        if self.height_mm < MIN_HEIGHT_MM:
            raise GradingError(
                f"measurements.{self.endplate.value}: the body height is {self.height_mm:.2f} mm; the two height "
                f"points must be at least {MIN_HEIGHT_MM:g} mm apart",
                endplate=self.endplate.value,
                field="measurements",
            )

    @property
    def height_mm(self) -> float:
        """The vertebral body height between the two endplate points."""
        axis = _sub(self.opposite_point, self.endplate_point)
        return math.sqrt(_dot(axis, axis))

    @property
    def depth_mm(self) -> float:
        """The depth of the change from the endplate along the height axis (0 when above the endplate)."""
        axis = _sub(self.opposite_point, self.endplate_point)
        return max(0.0, _dot(_sub(self.depth_point, self.endplate_point), axis) / self.height_mm)

    @property
    def extension_pct(self) -> float:
        """The depth as a percentage of the body height, 0 to 100, to one decimal."""
        return round(min(100.0, 100.0 * self.depth_mm / self.height_mm), 1)

    @classmethod
    def from_mapping(cls, data: object) -> HeightFraction:
        """Build from ``{"endplate", "endplate_point", "opposite_point", "depth_point"}``."""
        if not isinstance(data, Mapping):
            raise GradingError(f"a measurement must be an object, got {data!r}", field="measurements")
        name = data.get("endplate")
        if not isinstance(name, str) or name not in Endplate.__members__:
            allowed = ", ".join(ENDPLATE_IDS)
            raise GradingError(f"measurements: endplate {name!r} is unknown; allowed: {allowed}", field="measurements")
        points = [
            parse_point(data.get(key), f"measurements.{name}.{key}", field="measurements", endplate=name)
            for key in ("endplate_point", "opposite_point", "depth_point")
        ]
        return cls(Endplate(name), points[0], points[1], points[2])

    def to_mapping(self) -> dict[str, Any]:
        """The measurement with its computed height, depth and extension."""
        return {
            "kind": "height_fraction",
            "endplate": self.endplate.value,
            "endplate_point": list(self.endplate_point),
            "opposite_point": list(self.opposite_point),
            "depth_point": list(self.depth_point),
            "height_mm": round(self.height_mm, 2),
            "depth_mm": round(self.depth_mm, 2),
            "extension_pct": self.extension_pct,
        }


@dataclass(frozen=True)
class Annotations:
    """The level labels and measurements kept with one grading version."""

    levels: LevelLabels
    measurements: tuple[HeightFraction, ...]

    @classmethod
    def from_body(cls, levels: object, measurements: object) -> Annotations:
        """Build from the request's ``levels`` (object or null) and ``measurements`` (list or null),
        reporting every problem at once as :class:`GradingErrors`."""
        errors: list[GradingError] = []
        labels = LevelLabels(())
        try:
            labels = LevelLabels.from_mapping({} if levels is None else levels)
        except GradingError as exc:
            errors.append(exc)
        kept: list[HeightFraction] = []
        items = [] if measurements is None else measurements
        if not isinstance(items, list):
            errors.append(GradingError(f"measurements must be a list, got {items!r}", field="measurements"))
            items = []
        elif len(items) > MAX_MEASUREMENTS:
            errors.append(
                GradingError(f"measurements: at most {MAX_MEASUREMENTS}, got {len(items)}", field="measurements")
            )
            items = []
        for item in items:
            try:
                kept.append(HeightFraction.from_mapping(item))
            except GradingError as exc:
                errors.append(exc)
        if errors:
            raise GradingErrors(errors)
        return cls(labels, tuple(kept))

    def to_levels(self) -> dict[str, list[float]]:
        """The level labels as stored and answered."""
        return self.levels.to_mapping()

    def to_measurements(self) -> list[dict[str, Any]]:
        """The measurements as stored and answered."""
        return [m.to_mapping() for m in self.measurements]
