"""Reading stored images back: where a slice of a series is, its geometry, and its PNG rendering."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from grading.series import StackGeometry, stack_geometry
from registry.errors import NotFound
from registry.imaging.render import render_png
from registry.imaging.store import ImageMissing, ImageStore, InstanceAddress
from registry.models import Series
from registry.repositories import imaging as imaging_repo


@dataclass(frozen=True)
class SliceLocation:
    """Where the pixels of one slice of a series are: the stored file and the frame within it."""

    sop_instance_uid: str
    frame_index: int
    window: tuple[float, float] | None
    slices: int
    address: InstanceAddress
    """The image's study and series UIDs (an archive store reads the image there)."""


def _series(session: Session, series_id: str) -> Series:
    series = session.get(Series, series_id)
    if series is None:
        raise NotFound(f"series {series_id!r} does not exist")
    return series


def locate_slice(session: Session, series_id: str, index: int) -> SliceLocation:
    """The image at position ``index`` (0-based, spatial order) of a series; :class:`NotFound` otherwise."""
    found = imaging_repo.series_with_study_uid(session, series_id)
    if found is None:
        raise NotFound(f"series {series_id!r} does not exist")
    series, study_instance_uid = found
    if not 0 <= index < series.slices:
        raise NotFound(f"slice {index} does not exist; series {series_id!r} has slices 0 to {series.slices - 1}")
    row = imaging_repo.instance_at(session, series_id, index)
    if row is None:
        raise NotFound(f"slice {index} of series {series_id!r} has no stored image")
    window = series.details.get("window") if series.details else None
    return SliceLocation(
        row.sop_instance_uid,
        row.frame_index,
        None if window is None else (window[0], window[1]),
        series.slices,
        InstanceAddress(study_instance_uid, series.series_instance_uid),
    )


def series_geometry(session: Session, series_id: str) -> StackGeometry | None:
    """Where each displayed slice of a series lies in patient space (for a linked cursor, positions
    in mm and a scale bar); None when a slice lacks the geometry headers or a slice has no image."""
    series = _series(session, series_id)
    placed = imaging_repo.headers_of_series(session, series_id)
    if len(placed) != series.slices or any(slice_index != i for i, (slice_index, _) in enumerate(placed)):
        return None
    return stack_geometry([header for _, header in placed])


def render_slice(
    session: Session,
    store: ImageStore,
    series_id: str,
    index: int,
    *,
    window_center: float | None = None,
    window_width: float | None = None,
) -> bytes:
    """The PNG of slice ``index`` of a series in display orientation (anterior left, head up)."""
    where = locate_slice(session, series_id, index)
    try:
        content = store.read(where.sop_instance_uid, where.address)
    except ImageMissing:
        missing = f"the image of slice {index} of series {series_id!r} is missing from the {store.label}"
        raise NotFound(missing) from None
    return render_png(
        content,
        frame=where.frame_index,
        window_center=window_center,
        window_width=window_width,
        source=f"series {series_id} slice {index}",
    )
