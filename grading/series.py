"""Which series of a study can be graded: plane, weighting, stacks and the choice of the grading series.

The rules are those of ``docs/imaging.md`` (plane, weighting, stacks, field strength):

- the plane comes from the slice normal n = row direction × column direction of
  ImageOrientationPatient (LPS); sagittal when |n_x| is the largest component, oblique (with a
  warning) when that component is below 0.9 and not sagittal at all below 0.7;
- the weighting comes from ImageType, the localizer hints, Enhanced MR AcquisitionContrast,
  ScanningSequence, InversionTime and TR/TE, in that order; SeriesDescription only breaks ties;
- a series is split into stacks by orientation, matrix, spacing, echo/inversion time and image type,
  de-duplicated by SOP Instance UID (and frame), sorted by n·ImagePositionPatient, and checked for
  duplicate positions, missing slices and tilted slices;
- the grading series are a sagittal T1 and a sagittal T2 (docs/nordic.md#what-is-graded:
  "sagittal T1- and T2-weighted series"); STIR is recorded but never taken as T2;
- the field strength is checked against the expected value (0.2 T in the rest-vs-exercise trial, a MAGNETOM
  Open Viva): low field shows 3–4× more type I changes than 1.5 T (Bendix et al., Spine 2012).

Inputs are plain header values (:class:`InstanceHeader`) built by an adapter; nothing here reads files.
"""

from __future__ import annotations

import enum
import functools
import itertools
import math
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grading.errors import GradingError
from grading.field_strength import DEFAULT_FIELD_STRENGTH_T

GYROMAGNETIC_MHZ_PER_T = 42.577
"""Proton Larmor frequency per tesla: ImagingFrequency ≈ 42.577 MHz/T × B0."""

SAGITTAL_MIN_COMPONENT = 0.9
"""Below this |n| component along the dominant axis a stack is called oblique (docs/imaging.md#plane)."""

PLANE_REJECT_COMPONENT = 0.7
"""Below this |n_x| a stack is not sagittal at all and cannot be graded (docs/imaging.md#plane)."""

TILT_TOLERANCE_DEG = 0.5
"""A slice whose normal deviates more than this from its stack's normal is reported as tilted."""

STACK_SPLIT_DEG = 20.0
"""Slices whose normals differ by more than this belong to different stacks (e.g. a 3-plane localizer)."""

MIN_GRADABLE_SLICES = 3
"""A stack with fewer slices cannot show the lumbar spine across its width."""


class Plane(enum.StrEnum):
    """The anatomical plane of a stack, from its slice normal."""

    SAGITTAL = "sagittal"
    """Normal mostly along x (left-right): the plane the project grades on."""
    CORONAL = "coronal"
    """Normal mostly along y (anterior-posterior)."""
    AXIAL = "axial"
    """Normal mostly along z (head-feet)."""
    OBLIQUE = "oblique"
    """No axis holds at least 0.9 of the normal: tilted beyond a routine angulation."""


class Weighting(enum.StrEnum):
    """The contrast of a stack, as reported in the API."""

    T1 = "T1"
    """T1-weighted spin echo: short TR and TE (TR ≤ 1000 ms, TE ≤ 35 ms)."""
    T2 = "T2"
    """T2-weighted spin echo: long TR and TE (TR ≥ 1500 ms, TE ≥ 60 ms)."""
    STIR = "STIR"
    """Short-tau inversion recovery (TI < 300 ms): fat suppressed, bright oedema; never used as T2."""
    PD = "PD"
    """Proton density: long TR, short TE (TR ≥ 1500 ms, TE < 40 ms)."""
    OTHER = "other"
    """Anything else (localizer, derived, EPI, gradient echo, FLAIR, ambiguous); the reason says which."""


class WeightingReason(enum.Enum):
    """Why a stack got its weighting: the rule of docs/imaging.md#weighting that decided."""

    DERIVED = "derived"
    """ImageType DERIVED or SECONDARY: a reformat or computed image, not graded."""
    LOCALIZER = "localizer"
    """ImageType LOCALIZER, a scout-like description or the Siemens ``*fl2d1`` sequence."""
    ACQUISITION_CONTRAST = "acquisition contrast"
    """Enhanced MR AcquisitionContrast named the contrast."""
    EPI = "EPI"
    """ScanningSequence EP: echo planar (diffusion, perfusion), not for Modic grading."""
    GRADIENT_ECHO = "gradient echo"
    """ScanningSequence GR without SE: gradient echo, not for Modic grading."""
    INVERSION_RECOVERY = "inversion recovery"
    """IR or InversionTime > 0 with TI < 300 ms: STIR."""
    FLAIR = "FLAIR"
    """Inversion recovery with TI > 1500 ms: fluid attenuated, not for Modic grading."""
    SPIN_ECHO_TIMING = "spin echo timing"
    """TR and TE of a spin echo sequence decided the contrast."""
    DESCRIPTION = "series description"
    """TR/TE were missing or ambiguous; the SeriesDescription broke the tie."""
    AMBIGUOUS = "ambiguous"
    """Neither the timing nor the description decided the contrast."""


_GRADABLE_WEIGHTINGS = frozenset({Weighting.T1, Weighting.T2, Weighting.STIR, Weighting.PD})


def _as_float(value: object, name: str, source: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise GradingError(f"{source}: {name} {value!r} is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise GradingError(f"{source}: {name} {value!r} is not finite")
    return number


@dataclass(frozen=True)
class InstanceHeader:
    """The header values of one image (one frame of a multi-frame image) that classification needs.

    Built by an adapter from a DICOM file (``registry.imaging``); text values are stripped strings,
    multi-valued attributes tuples, missing numbers ``None``. ``source`` names the file in messages.
    """

    source: str
    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    frame_index: int = 0
    sop_class_uid: str = ""
    modality: str = "MR"
    series_number: int | None = None
    instance_number: int | None = None
    series_description: str = ""
    image_type: tuple[str, ...] = ()
    scanning_sequence: tuple[str, ...] = ()
    sequence_variant: tuple[str, ...] = ()
    sequence_name: str = ""
    acquisition_contrast: str = ""
    repetition_time_ms: float | None = None
    echo_time_ms: float | None = None
    inversion_time_ms: float | None = None
    image_orientation: tuple[float, ...] | None = None
    image_position: tuple[float, ...] | None = None
    pixel_spacing: tuple[float, ...] | None = None
    slice_thickness_mm: float | None = None
    spacing_between_slices_mm: float | None = None
    rows: int | None = None
    columns: int | None = None
    magnetic_field_strength_t: float | None = None
    imaging_frequency_mhz: float | None = None
    manufacturer: str = ""
    model_name: str = ""

    def __post_init__(self) -> None:
        where = self.source or "<header>"
        for name in ("sop_instance_uid", "study_instance_uid", "series_instance_uid"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise GradingError(f"{where}: {name} is required, got {value!r}")
        if self.image_orientation is not None and len(self.image_orientation) != 6:
            raise GradingError(f"{where}: image_orientation needs 6 values, got {self.image_orientation!r}")
        if self.image_position is not None and len(self.image_position) != 3:
            raise GradingError(f"{where}: image_position needs 3 values, got {self.image_position!r}")
        if self.pixel_spacing is not None and len(self.pixel_spacing) != 2:
            raise GradingError(f"{where}: pixel_spacing needs 2 values, got {self.pixel_spacing!r}")
        for name in ("image_orientation", "image_position", "pixel_spacing"):
            values = getattr(self, name)
            if values is not None:
                for value in values:
                    _as_float(value, name, where)
        for name in (
            "repetition_time_ms",
            "echo_time_ms",
            "inversion_time_ms",
            "slice_thickness_mm",
            "spacing_between_slices_mm",
            "magnetic_field_strength_t",
            "imaging_frequency_mhz",
        ):
            _as_float(getattr(self, name), name, where)
        if self.frame_index < 0:
            raise GradingError(f"{where}: frame_index {self.frame_index!r} must be >= 0")

    @property
    def instance_key(self) -> tuple[str, int]:
        """The identity of the image: SOP Instance UID and frame."""
        return (self.sop_instance_uid, self.frame_index)

    @property
    def field_strength_t(self) -> float | None:
        """MagneticFieldStrength, or ImagingFrequency / 42.577 MHz/T when that is missing."""
        if self.magnetic_field_strength_t is not None and self.magnetic_field_strength_t > 0:
            # Some old scanners write gauss (e.g. 2000 for 0.2 T); anything above 20 cannot be tesla.
            if self.magnetic_field_strength_t > 20:
                return round(self.magnetic_field_strength_t / 10000.0, 3)
            return self.magnetic_field_strength_t
        if self.imaging_frequency_mhz is not None and self.imaging_frequency_mhz > 0:
            return round(self.imaging_frequency_mhz / GYROMAGNETIC_MHZ_PER_T, 2)
        return None


# ---------------------------------------------------------------------------------------------- plane


def slice_normal(image_orientation: Sequence[float]) -> tuple[float, float, float]:
    """The unit slice normal n = row direction × column direction of ImageOrientationPatient."""
    if len(image_orientation) != 6:
        raise GradingError(f"image orientation needs 6 values, got {list(image_orientation)!r}")
    rx, ry, rz, cx, cy, cz = (float(v) for v in image_orientation)
    nx, ny, nz = ry * cz - rz * cy, rz * cx - rx * cz, rx * cy - ry * cx
    length = math.sqrt(nx * nx + ny * ny + nz * nz)
    if not math.isfinite(length) or length < 1e-6:
        raise GradingError(
            f"image orientation {list(image_orientation)!r} has parallel or zero row and column directions"
        )
    return (nx / length, ny / length, nz / length)


@dataclass(frozen=True)
class PlaneResult:
    """The plane of a slice normal, with its tilt from the nearest axis."""

    plane: Plane
    nearest: Plane
    tilt_deg: float
    normal: tuple[float, float, float]

    @property
    def sagittal_enough(self) -> bool:
        """True when the stack can be graded as sagittal: |n_x| is largest and at least 0.7."""
        return self.nearest is Plane.SAGITTAL and abs(self.normal[0]) >= PLANE_REJECT_COMPONENT


def plane_from_orientation(image_orientation: Sequence[float]) -> PlaneResult:
    """The plane of ImageOrientationPatient (docs/imaging.md#plane): the axis holding the largest normal component.

    A largest component below 0.9 is ``oblique``; ``nearest`` still names the closest plane.
    """
    return plane_from_normal(slice_normal(image_orientation))


def plane_from_normal(normal: tuple[float, float, float]) -> PlaneResult:
    """The plane of a unit slice normal; see :func:`plane_from_orientation`."""
    magnitudes = [abs(c) for c in normal]
    axis = magnitudes.index(max(magnitudes))  # the first of equal largest, as numpy's argmax
    nearest = (Plane.SAGITTAL, Plane.CORONAL, Plane.AXIAL)[axis]
    largest = magnitudes[axis]
    tilt = math.degrees(math.acos(min(1.0, largest)))
    plane = nearest if largest >= SAGITTAL_MIN_COMPONENT else Plane.OBLIQUE
    return PlaneResult(plane=plane, nearest=nearest, tilt_deg=tilt, normal=normal)


# ------------------------------------------------------------------------------------ display geometry

_TARGET_AXES: dict[Plane, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    # (direction that should point right on screen, direction that should point down), LPS.
    Plane.SAGITTAL: ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),
    Plane.CORONAL: ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
    Plane.AXIAL: ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
}


@dataclass(frozen=True)
class DisplayTransform:
    """How to turn a stored slice into display orientation: transpose first, then flips.

    Display orientation follows radiological convention: a sagittal slice shows anterior on the
    left and head up, a coronal slice the patient's right on the left and head up, an axial slice
    the patient's right on the left and anterior up.
    """

    transpose: bool
    flip_horizontal: bool
    flip_vertical: bool

    def apply(self, pixels: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """The slice in display orientation."""
        out = pixels.T if self.transpose else pixels
        if self.flip_horizontal:
            out = out[:, ::-1]
        if self.flip_vertical:
            out = out[::-1, :]
        return out


def display_transform(image_orientation: Sequence[float] | None) -> DisplayTransform:
    """The transform that shows a slice with ImageOrientationPatient in display orientation.

    The Siemens sagittal ``[0, 1, 0, 0, 0, -1]`` already shows anterior left, head up: no change.
    """
    if image_orientation is None or len(image_orientation) != 6:
        return DisplayTransform(False, False, False)
    row = np.asarray(image_orientation[:3], dtype=float)
    column = np.asarray(image_orientation[3:], dtype=float)
    try:
        plane = plane_from_orientation(image_orientation).nearest
    except ValueError:
        return DisplayTransform(False, False, False)
    right, down = (np.asarray(v) for v in _TARGET_AXES[plane])
    transpose = abs(float(column @ right)) > abs(float(row @ right))
    if transpose:
        row, column = column, row
    return DisplayTransform(transpose, float(row @ right) < 0, float(column @ down) < 0)


Vector = tuple[float, float, float]


@dataclass(frozen=True)
class SliceGeometry:
    """Where the pixels of one slice, as displayed, lie in patient space (LPS, mm).

    The centre of display pixel (x, y) (x to the right, y down, of the displayed image) is
    ``origin + x · x_step + y · y_step``; the steps are one pixel long (the pixel spacing).
    """

    origin: Vector
    x_step: Vector
    y_step: Vector

    def point(self, x: float, y: float) -> Vector:
        """The patient-space point of display pixel coordinates (x, y)."""
        return _vec(np.asarray(self.origin) + x * np.asarray(self.x_step) + y * np.asarray(self.y_step))

    def pixel(self, point: Sequence[float]) -> tuple[float, float, float]:
        """Display pixel coordinates (x, y) of the point projected on this slice, and its signed
        distance from the slice plane in mm (along x_step × y_step)."""
        d = np.asarray(point, dtype=float) - np.asarray(self.origin)
        xs, ys = np.asarray(self.x_step), np.asarray(self.y_step)
        normal = np.cross(xs, ys)
        return (
            float(d @ xs / (xs @ xs)),
            float(d @ ys / (ys @ ys)),
            float(d @ normal / np.linalg.norm(normal)),
        )


@dataclass(frozen=True)
class StackGeometry:
    """The displayed size (columns ``width``, rows ``height``) and each slice's geometry, in stack order."""

    width: int
    height: int
    slices: tuple[SliceGeometry, ...]

    def nearest_slice(self, point: Sequence[float]) -> int:
        """The index of the slice whose plane is nearest to ``point``."""
        return min(range(len(self.slices)), key=lambda i: abs(self.slices[i].pixel(point)[2]))


def _vec(values: np.ndarray[Any, Any]) -> Vector:
    return (float(values[0]), float(values[1]), float(values[2]))


def slice_geometry(header: InstanceHeader) -> tuple[SliceGeometry, int, int] | None:
    """The display geometry of one image with its displayed width and height; None without
    ImageOrientationPatient, ImagePositionPatient, PixelSpacing, Rows or Columns.

    PixelSpacing is (between rows, between columns); a stored pixel (column c, row r) lies at
    IPP + c · Δcol · row direction + r · Δrow · column direction, and the display transform of
    :func:`display_transform` (transpose, then flips) moves it on screen.
    """
    orientation, position, spacing = header.image_orientation, header.image_position, header.pixel_spacing
    if orientation is None or position is None or spacing is None or not header.rows or not header.columns:
        return None
    row_dir = np.asarray(orientation[:3], dtype=float)
    col_dir = np.asarray(orientation[3:], dtype=float)
    column_step = row_dir * float(spacing[1])  # one stored column to the right
    row_step = col_dir * float(spacing[0])  # one stored row down
    transform = display_transform(orientation)
    if transform.transpose:
        x_step, y_step, width, height = row_step, column_step, header.rows, header.columns
    else:
        x_step, y_step, width, height = column_step, row_step, header.columns, header.rows
    origin = np.asarray(position, dtype=float)
    if transform.flip_horizontal:
        origin = origin + (width - 1) * x_step
        x_step = -x_step
    if transform.flip_vertical:
        origin = origin + (height - 1) * y_step
        y_step = -y_step
    return SliceGeometry(_vec(origin), _vec(x_step), _vec(y_step)), width, height


def stack_geometry(headers: Sequence[InstanceHeader]) -> StackGeometry | None:
    """The display geometry of a stack's slices (in stack order); None when a slice lacks geometry
    or the slices differ in displayed size."""
    slices = [slice_geometry(h) for h in headers]
    if not slices or any(s is None for s in slices):
        return None
    sizes = {(s[1], s[2]) for s in slices if s is not None}
    if len(sizes) != 1:
        return None
    ((width, height),) = sizes
    return StackGeometry(width, height, tuple(s[0] for s in slices if s is not None))


# ------------------------------------------------------------------------------------------ weighting

_LOCALIZER_DESCRIPTION = re.compile(r"(^|[^a-z])(loc|localizer|localiser|scout|survey|aahscout)", re.IGNORECASE)
_LOCALIZER_SEQUENCE = re.compile(r"fl2d1(?!\d)", re.IGNORECASE)
_DESCRIPTION_HINTS: tuple[tuple[re.Pattern[str], Weighting], ...] = (
    (re.compile(r"stir|tirm|(^|[^a-z])ir([^a-z]|$)", re.IGNORECASE), Weighting.STIR),
    (re.compile(r"(^|[^a-z0-9])t1(w|[^a-z0-9]|$)", re.IGNORECASE), Weighting.T1),
    (re.compile(r"(^|[^a-z0-9])t2(w|[^a-z0-9*]|$)", re.IGNORECASE), Weighting.T2),
    (re.compile(r"(^|[^a-z])pd(w|[^a-z]|$)", re.IGNORECASE), Weighting.PD),
)
_ACQUISITION_CONTRAST: dict[str, tuple[Weighting, WeightingReason]] = {
    "T1": (Weighting.T1, WeightingReason.ACQUISITION_CONTRAST),
    "T2": (Weighting.T2, WeightingReason.ACQUISITION_CONTRAST),
    "PROTON_DENSITY": (Weighting.PD, WeightingReason.ACQUISITION_CONTRAST),
    "STIR": (Weighting.STIR, WeightingReason.ACQUISITION_CONTRAST),
    "FLUID_ATTENUATED": (Weighting.OTHER, WeightingReason.FLAIR),
    "DIFFUSION": (Weighting.OTHER, WeightingReason.EPI),
    "PERFUSION": (Weighting.OTHER, WeightingReason.EPI),
    "T2_STAR": (Weighting.OTHER, WeightingReason.GRADIENT_ECHO),
}


def weighting_from_description(description: str) -> Weighting | None:
    """The contrast a SeriesDescription names (``t1_se_sag`` → T1, ``t2_tirm_sag`` → STIR), if any."""
    for pattern, weighting in _DESCRIPTION_HINTS:
        if pattern.search(description):
            return weighting
    return None


@dataclass(frozen=True)
class WeightingResult:
    """The weighting of an image, the rule that decided it, and any warnings."""

    weighting: Weighting
    reason: WeightingReason
    warnings: tuple[str, ...] = ()

    @property
    def gradable(self) -> bool:
        """True when the contrast is one a radiologist can read for Modic changes."""
        return self.weighting in _GRADABLE_WEIGHTINGS


def _timing_weighting(tr: float | None, te: float | None) -> Weighting | None:
    if tr is None or te is None:
        return None
    if tr <= 1000 and te <= 35:
        return Weighting.T1
    if tr >= 1500 and te >= 60:
        return Weighting.T2
    if tr >= 1500 and te < 40:
        return Weighting.PD
    return None


def classify_weighting(header: InstanceHeader) -> WeightingResult:
    """The weighting of one image, by the ordered rules of docs/imaging.md#weighting.

    1. ImageType DERIVED or SECONDARY → derived; 2. localizer hints → localizer; 3. Enhanced MR
    AcquisitionContrast; 4. ScanningSequence EP → EPI, GR without SE → gradient echo; 5. IR or
    TI > 0: TI < 300 ms → STIR, TI > 1500 ms → FLAIR; 6. spin echo TR/TE: T1, T2 or PD;
    7. otherwise the SeriesDescription breaks the tie, with a warning.
    """
    image_type = tuple(v.upper() for v in header.image_type)
    scanning = tuple(v.upper() for v in header.scanning_sequence)
    described = weighting_from_description(header.series_description)
    description = header.series_description or "<no description>"

    if "DERIVED" in image_type or "SECONDARY" in image_type:
        return WeightingResult(Weighting.OTHER, WeightingReason.DERIVED)
    if (
        "LOCALIZER" in image_type
        or _LOCALIZER_DESCRIPTION.search(header.series_description)
        or _LOCALIZER_SEQUENCE.search(header.sequence_name)
    ):
        return WeightingResult(Weighting.OTHER, WeightingReason.LOCALIZER)
    contrast = header.acquisition_contrast.strip().upper()
    if contrast in _ACQUISITION_CONTRAST:
        weighting, reason = _ACQUISITION_CONTRAST[contrast]
        return WeightingResult(weighting, reason, _description_disagrees(described, weighting, description))
    if "EP" in scanning:
        return WeightingResult(Weighting.OTHER, WeightingReason.EPI)
    if "GR" in scanning and "SE" not in scanning:
        return WeightingResult(Weighting.OTHER, WeightingReason.GRADIENT_ECHO)
    ti = header.inversion_time_ms
    if "IR" in scanning or (ti is not None and ti > 0):
        if ti is not None and 0 < ti < 300:
            return WeightingResult(
                Weighting.STIR,
                WeightingReason.INVERSION_RECOVERY,
                _description_disagrees(described, Weighting.STIR, description),
            )
        if ti is not None and ti > 1500:
            return WeightingResult(Weighting.OTHER, WeightingReason.FLAIR)
        if described is not None:
            return WeightingResult(
                described,
                WeightingReason.DESCRIPTION,
                (f"inversion recovery with TI {_ms(ti)}: {described.value} taken from description {description!r}",),
            )
        return WeightingResult(
            Weighting.OTHER,
            WeightingReason.AMBIGUOUS,
            (f"inversion recovery with TI {_ms(ti)} is neither STIR (< 300 ms) nor FLAIR (> 1500 ms)",),
        )
    timed = _timing_weighting(header.repetition_time_ms, header.echo_time_ms)
    if timed is not None:
        return WeightingResult(
            timed, WeightingReason.SPIN_ECHO_TIMING, _description_disagrees(described, timed, description)
        )
    timing = f"TR {_ms(header.repetition_time_ms)}, TE {_ms(header.echo_time_ms)}"
    if described is not None:
        return WeightingResult(
            described,
            WeightingReason.DESCRIPTION,
            (f"{timing} do not decide the weighting; {described.value} taken from description {description!r}",),
        )
    return WeightingResult(
        Weighting.OTHER,
        WeightingReason.AMBIGUOUS,
        (f"{timing} and description {description!r} do not decide the weighting",),
    )


def _ms(value: float | None) -> str:
    return "missing" if value is None else f"{value:g} ms"


def _description_disagrees(described: Weighting | None, decided: Weighting, description: str) -> tuple[str, ...]:
    if described is None or described is decided:
        return ()
    return (f"description {description!r} suggests {described.value} but the acquisition is {decided.value}",)


# ----------------------------------------------------------------------------------------------- stacks


@dataclass(frozen=True)
class Stack:
    """One geometrically consistent stack of slices of a series, in spatial order (n·IPP ascending).

    ``gradable`` is False when the stack cannot be graded at all, with ``not_gradable_reason``;
    ``warnings`` list what a reader should know (missing, duplicate, tilted slices, obliquity).
    """

    series_instance_uid: str
    stack_index: int
    series_number: int | None
    description: str
    plane: Plane
    weighting: Weighting
    reason: WeightingReason
    instances: tuple[InstanceHeader, ...]
    field_strength_t: float | None
    slice_spacing_mm: float | None
    gradable: bool
    not_gradable_reason: str | None
    warnings: tuple[str, ...] = ()

    @property
    def slices(self) -> int:
        """The number of slices in the stack."""
        return len(self.instances)

    @property
    def is_sagittal_t1(self) -> bool:
        """A gradable sagittal (or near-sagittal oblique) T1 stack."""
        return self.gradable and self.weighting is Weighting.T1

    @property
    def is_sagittal_t2(self) -> bool:
        """A gradable sagittal (or near-sagittal oblique) T2 stack; STIR never counts."""
        return self.gradable and self.weighting is Weighting.T2

    @property
    def label(self) -> str:
        """A short name for messages, e.g. ``series 3 't1_se_sag'``."""
        number = "?" if self.series_number is None else str(self.series_number)
        suffix = f" stack {self.stack_index + 1}" if self.stack_index else ""
        return f"series {number} {self.description!r}{suffix}"


def _round_tuple(values: Sequence[float] | None, digits: int) -> tuple[float, ...] | None:
    if values is None:
        return None
    return tuple(round(float(v), digits) for v in values)


def _split_key(header: InstanceHeader) -> tuple[object, ...]:
    return (
        header.rows,
        header.columns,
        _round_tuple(header.pixel_spacing, 3),
        None if header.echo_time_ms is None else round(header.echo_time_ms, 1),
        None if header.inversion_time_ms is None else round(header.inversion_time_ms, 1),
        tuple(v.upper() for v in header.image_type),
    )


def _angle_deg(a: Sequence[float], b: Sequence[float]) -> float:
    dot = abs(sum(x * y for x, y in zip(a, b, strict=True)))
    return math.degrees(math.acos(min(1.0, dot)))


def _orientation_groups(headers: Sequence[InstanceHeader]) -> list[list[InstanceHeader]]:
    """Cluster headers whose slice normals lie within STACK_SPLIT_DEG of each other (first come first)."""
    groups: list[tuple[tuple[float, float, float] | None, list[InstanceHeader]]] = []
    for header in headers:
        normal = None if header.image_orientation is None else slice_normal(header.image_orientation)
        for group_normal, members in groups:
            if normal is None and group_normal is None:
                members.append(header)
                break
            if normal is not None and group_normal is not None and _angle_deg(normal, group_normal) <= STACK_SPLIT_DEG:
                members.append(header)
                break
        else:
            groups.append((normal, [header]))
    return [members for _, members in groups]


def split_stacks(headers: Iterable[InstanceHeader]) -> list[list[InstanceHeader]]:
    """Split the images of one series into stacks (docs/imaging.md#stacks): orientation, matrix, spacing, echo/TI,
    image type. Duplicates by SOP Instance UID and frame are dropped; the first seen is kept."""
    seen: set[tuple[str, int]] = set()
    unique: list[InstanceHeader] = []
    for header in headers:
        if header.instance_key in seen:
            continue
        seen.add(header.instance_key)
        unique.append(header)
    by_key: dict[tuple[object, ...], list[InstanceHeader]] = {}
    for header in unique:
        by_key.setdefault(_split_key(header), []).append(header)
    stacks: list[list[InstanceHeader]] = []
    for members in by_key.values():
        stacks.extend(_orientation_groups(members))
    stacks.sort(key=lambda s: min((h.instance_number or 0, h.sop_instance_uid) for h in s))
    return stacks


def _median_normal(headers: Sequence[InstanceHeader]) -> tuple[float, float, float] | None:
    normals = [slice_normal(h.image_orientation) for h in headers if h.image_orientation is not None]
    if not normals:
        return None
    reference = normals[0]
    aligned = [
        n if sum(a * b for a, b in zip(n, reference, strict=True)) >= 0 else tuple(-c for c in n) for n in normals
    ]
    # Per component (plain floats: a few dozen slices cost more as numpy arrays than as lists).
    median = [statistics.median(component) for component in zip(*aligned, strict=True)]
    length = math.sqrt(sum(c * c for c in median))
    if length < 1e-6:
        return reference
    return (median[0] / length, median[1] / length, median[2] / length)


def _majority(values: Iterable[str]) -> str:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return max(counts.items(), key=lambda item: item[1])[0] if counts else ""


def build_stack(series_headers: Sequence[InstanceHeader], stack_index: int = 0) -> Stack:
    """Classify and validate one stack (the output of :func:`split_stacks`).

    Slices are sorted by n·ImagePositionPatient, never by InstanceNumber or SliceLocation. Two slices
    at the same position keep the first and warn; gaps of about k × the slice spacing report k − 1
    missing slices; slices tilted from the stack normal are reported. A stack without geometry, with
    too few slices, or not sagittal enough is marked not gradable with the reason.
    """
    if not series_headers:
        raise GradingError("a stack needs at least one image")
    first = series_headers[0]
    description = _majority(h.series_description for h in series_headers)
    warnings: list[str] = []
    weighting = classify_weighting(first)
    warnings.extend(weighting.warnings)
    field_strengths = sorted({fs for h in series_headers if (fs := h.field_strength_t) is not None})
    field_strength = field_strengths[0] if field_strengths else None
    if len(field_strengths) > 1:
        warnings.append(f"field strength differs between images: {', '.join(f'{fs:g} T' for fs in field_strengths)}")
    normal = _median_normal(series_headers)
    not_gradable: str | None = None
    if not weighting.gradable:
        not_gradable = f"weighting is {weighting.weighting.value} ({weighting.reason.value})"
    stack = functools.partial(  # what every outcome below shares
        Stack,
        series_instance_uid=first.series_instance_uid,
        stack_index=stack_index,
        series_number=first.series_number,
        description=description,
        weighting=weighting.weighting,
        reason=weighting.reason,
        field_strength_t=field_strength,
    )

    if normal is None or any(h.image_position is None for h in series_headers):
        ordered = sorted(series_headers, key=lambda h: (h.instance_number or 0, h.sop_instance_uid, h.frame_index))
        return stack(
            plane=Plane.OBLIQUE,
            instances=tuple(ordered),
            slice_spacing_mm=None,
            gradable=False,
            not_gradable_reason=not_gradable or "no ImageOrientationPatient/ImagePositionPatient: slice order unknown",
            warnings=tuple(warnings),
        )

    plane = plane_from_normal(normal)
    for header in series_headers:
        assert header.image_orientation is not None
        tilt = _angle_deg(slice_normal(header.image_orientation), normal)
        if tilt > TILT_TOLERANCE_DEG:
            warnings.append(f"tilted slice {header.source}: {tilt:.1f}° from the stack orientation")
    if plane.plane is Plane.OBLIQUE:
        warnings.append(f"oblique stack: tilted {plane.tilt_deg:.1f}° from the {plane.nearest.value} plane")
    if not_gradable is None and not plane.sagittal_enough:
        not_gradable = f"plane is {plane.plane.value}, not sagittal"

    nx, ny, nz = normal

    def position(h: InstanceHeader) -> float:
        assert h.image_position is not None
        x, y, z = h.image_position
        return x * nx + y * ny + z * nz

    along = {id(h): position(h) for h in series_headers}
    ordered = sorted(series_headers, key=lambda h: (along[id(h)], h.instance_number or 0, h.sop_instance_uid))
    kept: list[InstanceHeader] = [ordered[0]]
    positions = [along[id(ordered[0])]]
    nominal = first.spacing_between_slices_mm or None
    tolerance = 0.01 if nominal is None else max(0.01, 0.05 * nominal)
    for header in ordered[1:]:
        where = along[id(header)]
        if abs(where - positions[-1]) <= tolerance:
            warnings.append(
                f"duplicate slice position {where:.2f} mm: {header.source} repeats {kept[-1].source}; ignored"
            )
            continue
        kept.append(header)
        positions.append(where)
    gaps = [b - a for a, b in itertools.pairwise(positions)]
    spacing = nominal if nominal is not None else (statistics.median(gaps) if gaps else first.slice_thickness_mm)
    if gaps and spacing:
        # When the nominal spacing is missing, the median gap would hide a regular stack of missing
        # slices; use the smallest gap that is not an outlier instead.
        if nominal is None:
            spacing = min(g for g in gaps if g > 0.5 * statistics.median(gaps))
        for index, gap in enumerate(gaps):
            ratio = gap / spacing
            steps = round(ratio)
            if steps >= 2 and abs(ratio - steps) < 0.25:
                warnings.append(
                    f"{steps - 1} missing slice(s) between {kept[index].source} and {kept[index + 1].source}"
                    f" (gap {gap:.2f} mm, spacing {spacing:.2f} mm)"
                )
            elif abs(ratio - 1) > 0.1:
                warnings.append(
                    f"irregular slice gap {gap:.2f} mm between {kept[index].source} and {kept[index + 1].source}"
                    f" (spacing {spacing:.2f} mm)"
                )
    if not_gradable is None and len(kept) < MIN_GRADABLE_SLICES:
        not_gradable = f"only {len(kept)} slice(s); a grading series needs at least {MIN_GRADABLE_SLICES}"
    return stack(
        plane=plane.plane,
        instances=tuple(kept),
        slice_spacing_mm=None if spacing is None else float(spacing),
        gradable=not_gradable is None,
        not_gradable_reason=not_gradable,
        warnings=tuple(warnings),
    )


# ------------------------------------------------------------------------------------------------ study


@dataclass(frozen=True)
class GradingSeries:
    """The stacks chosen for grading: a sagittal T1 and a sagittal T2, each possibly missing."""

    t1: Stack | None
    t2: Stack | None


@dataclass(frozen=True)
class StudyClassification:
    """Every stack of one study, the chosen grading series and the study-level warnings."""

    study_instance_uid: str
    stacks: tuple[Stack, ...]
    grading_series: GradingSeries
    field_strength_t: float | None
    warnings: tuple[str, ...] = field(default_factory=tuple)


def _preference(stack: Stack) -> tuple[int, int, int, int]:
    return (
        0 if stack.plane is Plane.SAGITTAL else 1,
        0 if stack.reason is not WeightingReason.DESCRIPTION else 1,
        len(stack.warnings),
        -stack.slices,
    )


def choose_grading_series(stacks: Sequence[Stack]) -> GradingSeries:
    """The sagittal T1 and T2 stacks to grade on (docs/nordic.md#what-is-graded); STIR is never taken as T2.

    Preference: a true sagittal over an oblique stack, timing over description, fewer warnings, more
    slices, then the later series (a repeat is usually the better one).
    """

    def best(candidates: list[Stack]) -> Stack | None:
        if not candidates:
            return None
        later_first = sorted(candidates, key=lambda s: -(s.series_number or 0))
        return min(later_first, key=_preference)

    return GradingSeries(
        t1=best([s for s in stacks if s.is_sagittal_t1]),
        t2=best([s for s in stacks if s.is_sagittal_t2]),
    )


def classify_study(
    headers: Iterable[InstanceHeader],
    *,
    expected_field_strength_t: float = DEFAULT_FIELD_STRENGTH_T,
    field_strength_tolerance_t: float = 0.05,
) -> StudyClassification:
    """Classify the images of one study: stacks, grading series and warnings.

    The study's field strength is the most common one among its stacks; a value off the expected
    one (default 0.2 T) is a warning, since type I and II frequencies differ with field strength
    (Bendix et al., Spine 2012), and so is an unknown one.
    """
    all_headers = list(headers)
    if not all_headers:
        raise GradingError("a study needs at least one image")
    study_uids = sorted({h.study_instance_uid for h in all_headers})
    if len(study_uids) > 1:
        raise GradingError(f"images of several studies given together: {', '.join(study_uids)}")
    by_series: dict[str, list[InstanceHeader]] = {}
    for header in all_headers:
        by_series.setdefault(header.series_instance_uid, []).append(header)
    stacks: list[Stack] = []
    for series_headers in by_series.values():
        for index, members in enumerate(split_stacks(series_headers)):
            stacks.append(build_stack(members, index))
    stacks.sort(
        key=lambda s: (
            s.series_number if s.series_number is not None else 1 << 30,
            s.series_instance_uid,
            s.stack_index,
        )
    )
    chosen = choose_grading_series(stacks)
    warnings: list[str] = []
    counts: dict[float, int] = {}
    for stack in stacks:
        if stack.field_strength_t is not None:
            counts[stack.field_strength_t] = counts.get(stack.field_strength_t, 0) + stack.slices
    field_strength = max(counts.items(), key=lambda item: (item[1], -item[0]))[0] if counts else None
    if field_strength is None:
        warnings.append(
            "field strength unknown (no MagneticFieldStrength or ImagingFrequency); "
            f"expected {expected_field_strength_t:g} T"
        )
    elif abs(field_strength - expected_field_strength_t) > field_strength_tolerance_t:
        warnings.append(
            f"field strength {field_strength:g} T differs from the expected {expected_field_strength_t:g} T: "
            "Modic type frequencies depend on field strength"
        )
    if chosen.t1 is None:
        warnings.append("no gradable sagittal T1 series")
    if chosen.t2 is None:
        warnings.append("no gradable sagittal T2 series")
    for stack in stacks:
        warnings.extend(f"{stack.label}: {w}" for w in stack.warnings)
        if stack in (chosen.t1, chosen.t2):
            continue
        if not stack.gradable and stack.weighting is not Weighting.OTHER and stack.plane is Plane.SAGITTAL:
            warnings.append(f"{stack.label}: not gradable: {stack.not_gradable_reason}")
    return StudyClassification(
        study_instance_uid=study_uids[0],
        stacks=tuple(stacks),
        grading_series=chosen,
        field_strength_t=field_strength,
        warnings=tuple(warnings),
    )
