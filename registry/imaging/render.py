"""Render one slice (a frame of a stored DICOM file) to an 8-bit PNG in display orientation.

Display orientation follows radiological convention (``docs/imaging.md#display``):
a sagittal slice shows anterior on the left and head up, a coronal slice the patient's right on the
left and head up, an axial slice the patient's right on the left and anterior up. The flips and
transposition come from ImageOrientationPatient, never from assumptions about the scanner.

Pixels are decoded by pydicom with the non-GPL decoder stack (python-gdcm, pylibjpeg-openjpeg,
pylibjpeg-rle). Window: the caller's centre/width, else the series' WindowCenter/WindowWidth, else the
1st-99th percentile of the slice. Low-field images are noisy, so the window matters (docs/imaging.md#display).
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels.processing import convert_color_space
from pydicom.pixels.utils import pixel_array

from grading.series import display_transform
from registry.imaging.errors import RenderError
from registry.imaging.window import usable_center, usable_width, usable_window


def _frame_pixels(ds: Dataset, frame: int, source: str) -> np.ndarray[Any, Any]:
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if not 0 <= frame < max(1, frames):
        raise RenderError(source, f"frame {frame} does not exist; the image has {frames}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pixels = pixel_array(ds, index=frame) if frames > 1 else ds.pixel_array
    except Exception as exc:  # decoders raise many kinds on damaged or unsupported data
        raise RenderError(source, f"pixel data cannot be decoded ({type(exc).__name__}: {exc})") from None
    if pixels.ndim == 3:
        if str(ds.get("PhotometricInterpretation", "")).startswith("YBR"):
            pixels = convert_color_space(pixels, str(ds.PhotometricInterpretation), "RGB")
        pixels = pixels.astype(np.float32).mean(axis=-1)
    if pixels.ndim != 2:
        raise RenderError(source, f"expected a 2-D slice, got shape {pixels.shape}")
    return pixels


def default_window(ds: Dataset, pixels: np.ndarray[Any, Any]) -> tuple[float, float]:
    """WindowCenter/WindowWidth of the image (first value), else the 1st-99th percentile range.

    Both are in output units, after the modality rescale (RescaleSlope/RescaleIntercept)."""

    def first(value: object) -> float | None:
        if value is None or value == "":
            return None
        if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
            value = value[0] if len(value) else None
        try:
            return float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None

    window = usable_window(first(ds.get("WindowCenter")), first(ds.get("WindowWidth")))
    if window is None:
        for group in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
            items = ds.get(group)
            if items and "FrameVOILUTSequence" in items[0]:
                voi = items[0].FrameVOILUTSequence[0]
                window = usable_window(first(voi.get("WindowCenter")), first(voi.get("WindowWidth")))
                break
    if window is not None:
        return window
    low, high = np.percentile(pixels, [1.0, 99.0])
    return float(low + high) / 2, float(max(high - low, 1.0))


def _check_window(window_center: float | None, window_width: float | None, source: str) -> None:
    """Refuse a requested window that is not usable (before any file is read)."""
    if window_center is not None and usable_center(window_center) is None:
        raise RenderError(source, f"window centre {window_center!r} must be a finite number")
    if window_width is not None and usable_width(window_width) is None:
        raise RenderError(source, f"window width {window_width!r} must be > 0 and finite")


def render_png(
    data: bytes | Dataset,
    *,
    frame: int = 0,
    window_center: float | None = None,
    window_width: float | None = None,
    source: str = "image",
) -> bytes:
    """The PNG of one frame, windowed and in display orientation."""
    _check_window(window_center, window_width, source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = data if isinstance(data, Dataset) else pydicom.dcmread(io.BytesIO(data), force=True)
    except Exception as exc:
        raise RenderError(source, f"not a readable DICOM file ({type(exc).__name__}: {exc})") from None
    pixels = _frame_pixels(ds, frame, source).astype(np.float32)
    try:
        slope = float(ds.get("RescaleSlope", 1) or 1)
        intercept = float(ds.get("RescaleIntercept", 0) or 0)
    except (TypeError, ValueError):
        slope, intercept = 1.0, 0.0
    if slope != 1.0 or intercept != 0.0:
        pixels = pixels * slope + intercept
    default_center, default_width = default_window(ds, pixels)
    center = default_center if window_center is None else window_center
    width = default_width if window_width is None else window_width
    low = center - width / 2
    scaled = np.clip((pixels - low) * (255.0 / width), 0, 255).astype(np.uint8)
    if str(ds.get("PhotometricInterpretation", "")) == "MONOCHROME1":
        scaled = (255 - scaled).astype(np.uint8)
    orientation = ds.get("ImageOrientationPatient")
    if orientation is None:
        for group in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"):
            items = ds.get(group)
            index = frame if group.startswith("PerFrame") else 0
            if items and index < len(items) and "PlaneOrientationSequence" in items[index]:
                orientation = items[index].PlaneOrientationSequence[0].get("ImageOrientationPatient")
                break
    try:
        values = [float(v) for v in orientation] if orientation is not None else None
    except (TypeError, ValueError):
        values = None
    shown = np.ascontiguousarray(display_transform(values).apply(scaled))
    out = io.BytesIO()
    Image.fromarray(shown, mode="L").save(out, format="PNG", compress_level=1)
    return out.getvalue()
