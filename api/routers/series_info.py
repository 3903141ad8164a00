"""Series metadata for the viewer (the slice PNGs themselves are served by the imaging router)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import RadiologistOrAdmin, SessionDep
from api.schemas.studies import SeriesInfo
from registry.services import studies as studies_service

router = APIRouter(prefix="/series", tags=["series"])


@router.get("/{series_id}", response_model=SeriesInfo)
def get_series(series_id: str, _user: RadiologistOrAdmin, session: SessionDep) -> SeriesInfo:
    """A series' plane, weighting and number of slices, without study or patient identifiers."""
    series = studies_service.series_by_id(session, series_id)
    return SeriesInfo(
        id=series.id,
        description=series.description,
        plane=series.plane,
        weighting=series.weighting,
        slices=series.slices,
    )
