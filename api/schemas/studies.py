"""Study shapes of the contract."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from grading.series import Plane, StackGeometry, Weighting
from registry.services.studies import StudyView


class StudyCreate(BaseModel):
    """Register a study read in the hospital's own viewer, without images."""

    study_instance_uid: str = Field(min_length=1, max_length=64)
    patient_id: str = Field(min_length=1, max_length=64)
    study_date: dt.date | None = None
    field_strength_t: float | None = Field(default=None, gt=0, le=20)


class PatientPublic(BaseModel):
    pseudonym: str


class SeriesPublic(BaseModel):
    id: str
    series_instance_uid: str
    description: str
    plane: Plane
    weighting: Weighting
    field_strength_t: float | None
    slices: int
    gradable: bool


class WindowPublic(BaseModel):
    center: float
    width: float


class SliceGeometryPublic(BaseModel):
    """Display pixel (x, y) of a slice PNG (x right, y down) has its centre at
    ``origin + x * x_step + y * y_step`` in patient coordinates (DICOM LPS, mm)."""

    origin: tuple[float, float, float]
    x_step: tuple[float, float, float]
    y_step: tuple[float, float, float]


class GeometryPublic(BaseModel):
    """The slice PNGs' size in pixels and each slice's place in patient space, in slice order."""

    width: int
    height: int
    slices: list[SliceGeometryPublic]

    @classmethod
    def of(cls, geometry: StackGeometry | None) -> GeometryPublic | None:
        """The public shape of a stack's geometry."""
        if geometry is None:
            return None
        return cls(
            width=geometry.width,
            height=geometry.height,
            slices=[SliceGeometryPublic(origin=s.origin, x_step=s.x_step, y_step=s.y_step) for s in geometry.slices],
        )


class SeriesInfo(BaseModel):
    """What a viewer needs to show a series: no study, patient or DICOM identifiers, so that a
    blinded reliability read can use it. ``geometry`` maps the slice PNGs' pixels to patient space
    (null when the headers lack it). ``window`` is the series' default display window from
    its DICOM headers (the slice PNGs' ``wc``/``ww`` units), or null when it has none."""

    id: str
    description: str
    plane: Plane
    weighting: Weighting
    slices: int
    window: WindowPublic | None
    geometry: GeometryPublic | None = None


class GradingSeriesPublic(BaseModel):
    t1: str | None
    t2: str | None
    stir: str | None = Field(default=None, description="the sagittal STIR series the viewer offers instead of T2")


class StudyPublic(BaseModel):
    id: str
    study_instance_uid: str
    study_date: dt.date | None
    field_strength_t: float | None
    patient: PatientPublic
    series: list[SeriesPublic]
    grading_series: GradingSeriesPublic
    warnings: list[str]

    @classmethod
    def of(cls, view: StudyView) -> StudyPublic:
        """The public shape of a study view."""
        study = view.study
        return cls(
            id=study.id,
            study_instance_uid=study.study_instance_uid,
            study_date=study.study_date,
            field_strength_t=study.field_strength_t,
            patient=PatientPublic(pseudonym=view.pseudonym),
            series=[
                SeriesPublic(
                    id=s.id,
                    series_instance_uid=s.series_instance_uid,
                    description=s.description,
                    plane=s.plane,
                    weighting=s.weighting,
                    field_strength_t=s.field_strength_t,
                    slices=s.slices,
                    gradable=s.gradable,
                )
                for s in view.series
            ],
            grading_series=GradingSeriesPublic(
                t1=study.t1_series_id, t2=study.t2_series_id, stir=None if view.stir is None else view.stir.id
            ),
            warnings=list(study.warnings),
        )


class StudyPage(BaseModel):
    items: list[StudyPublic]
    next_cursor: str | None


class PriorStudies(StudyPage):
    """``GET /studies/{id}/prior``: the patient's earlier studies with a clinical grading I may see
    (``items``, newest first, one page), and the study "development over time" is graded against."""

    prior_graded_study: str | None = Field(
        description="the patient's latest earlier study with a clinical grading by anyone; null when there is "
        "none (the form then does not offer development over time, and the API refuses it)"
    )


class NextStudy(BaseModel):
    """The next study awaiting my grading, or null when nothing awaits."""

    study: StudyPublic | None
