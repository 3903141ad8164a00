"""Series: what a viewer needs to know of a series, and its slices as PNG for the web workstation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlmodel import Session

from api.deps import RadiologistOrAdmin, SessionDep, StoreDep
from api.schemas.studies import GeometryPublic, SeriesInfo, WindowPublic
from registry.imaging.store import ImageStore
from registry.services import assignments as assignments_service
from registry.services import studies as studies_service
from registry.services.slices import render_slice, series_geometry

router = APIRouter(prefix="/series", tags=["series"])

WindowCenter = Annotated[float | None, Query(description="window centre; default from the series")]
WindowWidth = Annotated[float | None, Query(gt=0, description="window width; default from the series")]
SLICE_PNG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}}, "description": "the slice, anterior left and head up"}
}
"""The OpenAPI description of a slice PNG answer."""


def slice_png(
    session: Session, store: ImageStore, series_id: str, index: int, wc: float | None, ww: float | None
) -> Response:
    """The PNG answer for slice ``index`` of a series (shared by the blinded reliability route)."""
    png = render_slice(session, store, series_id, index, window_center=wc, window_width=ww)
    return Response(content=png, media_type="image/png", headers={"Cache-Control": "private, no-cache"})


@router.get("/{series_id}", response_model=SeriesInfo)
def get_series(series_id: str, user: RadiologistOrAdmin, session: SessionDep) -> SeriesInfo:
    """A series' plane, weighting, number of slices, default window and slice geometry, without study
    or patient identifiers (a radiologist: of a study assigned to them)."""
    assignments_service.check_series(session, user, series_id)
    series = studies_service.series_by_id(session, series_id)
    window = studies_service.default_window(series)
    return SeriesInfo(
        id=series.id,
        description=series.description,
        plane=series.plane,
        weighting=series.weighting,
        slices=series.slices,
        window=None if window is None else WindowPublic(center=window[0], width=window[1]),
        geometry=GeometryPublic.of(series_geometry(session, series.id)),
    )


@router.get(
    "/{series_id}/slices/{index}.png",
    response_class=Response,
    responses=SLICE_PNG,
)
def get_slice_png(
    series_id: str,
    index: int,
    user: RadiologistOrAdmin,
    session: SessionDep,
    store: StoreDep,
    wc: WindowCenter = None,
    ww: WindowWidth = None,
) -> Response:
    """Slice ``index`` (0-based, in the stack's spatial order) in display orientation (anterior left, head up)."""
    assignments_service.check_series(session, user, series_id)
    return slice_png(session, store, series_id, index, wc, ww)
