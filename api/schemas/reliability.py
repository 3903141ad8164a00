"""Reliability-study shapes. Rater-facing shapes carry blinded case labels only: no study, patient,
clinical or screening field and nothing about other raters."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from api.schemas.gradings import EndplatePublic, endplates_public
from registry.models import Blinding, RaterRole, Sampling, SeriesViewed
from registry.services.reliability import CaseView, RaterSetup, ReadProgress, ReliabilityStudyView, StudySetup, Worklist


class RaterCreate(BaseModel):
    """A rater with what the report states about them (GRRAS): profession and years of experience."""

    name: str = Field(min_length=1, description="user name of the rater (a radiologist)")
    role: RaterRole | None = Field(default=None, description="the rater's profession")
    experience_years: float | None = Field(default=None, description="years of reading spine MRI, 0 to 70")


class ReliabilityStudyCreate(BaseModel):
    """The cases (registry study ids), the raters, reads per rater, the washout and how the study was
    designed (sampling, blinding), as the report states them."""

    name: str = Field(min_length=1, max_length=200)
    study_ids: list[str] = Field(min_length=2, description="registry study ids, the cases")
    raters: list[str | RaterCreate] = Field(
        min_length=1, description="the raters: user names, or objects with name, role and experience_years"
    )
    reads_per_rater: int = Field(default=1, description="1, or 2 for intra-rater agreement")
    washout_days: int = Field(default=0, description="days between a rater finishing read 1 and read 2 opening")
    seed: int | None = Field(default=None, description="seed of the raters' orders (random when absent; recorded)")
    protocol: str | None = Field(
        default=None, description="grading protocol of every read (GET /api/v1/protocols); default nordic-2007"
    )
    sampling: Sampling | None = Field(default=None, description="how the cases were chosen")
    sampling_note: str | None = Field(default=None, max_length=1000, description="the sample in words")
    blinded_to: list[Blinding] = Field(
        default_factory=list, description="what raters are blinded to, beyond what the service always hides"
    )

    def setup(self) -> StudySetup:
        """The service's set-up value."""
        raters = tuple(
            RaterSetup(r) if isinstance(r, str) else RaterSetup(r.name, r.role, r.experience_years) for r in self.raters
        )
        return StudySetup(
            name=self.name,
            study_ids=tuple(self.study_ids),
            raters=raters,
            reads_per_rater=self.reads_per_rater,
            washout_days=self.washout_days,
            seed=self.seed,
            protocol=self.protocol,
            sampling=self.sampling,
            sampling_note=self.sampling_note,
            blinded_to=tuple(self.blinded_to),
        )


class ProgressPublic(BaseModel):
    rater: str
    read: int
    done: int
    total: int
    opens_at: dt.datetime | None

    @classmethod
    def of(cls, p: ReadProgress) -> ProgressPublic:
        return cls(rater=p.rater, read=p.read, done=p.done, total=p.total, opens_at=p.opens_at)


class CasePublic(BaseModel):
    label: str = Field(description="the case's label on read 1 (and in the report and exports)")
    read2_label: str | None = Field(description="the label raters see on read 2")
    study_id: str


class ReliabilityStudyPublic(BaseModel):
    """The researcher's view: set-up, the case ↔ study key, raters and progress."""

    id: str
    name: str
    reads_per_rater: int
    washout_days: int
    seed: int
    protocol: str
    sampling: str | None
    blinded_to: list[str]
    created_by: str
    created_at: dt.datetime
    cases: list[CasePublic]
    raters: list[str]
    progress: list[ProgressPublic]

    @classmethod
    def of(cls, view: ReliabilityStudyView) -> ReliabilityStudyPublic:
        s = view.study
        return cls(
            id=s.id,
            name=s.name,
            reads_per_rater=s.reads_per_rater,
            washout_days=s.washout_days,
            seed=s.seed,
            protocol=s.protocol,
            sampling=s.sampling,
            blinded_to=list(s.blinded_to or ()),
            created_by=view.created_by,
            created_at=s.created_at,
            cases=[CasePublic(label=c.label, read2_label=c.read2_label, study_id=c.study_id) for c in view.cases],
            raters=[u.name for u in view.raters],
            progress=[ProgressPublic.of(p) for p in view.progress],
        )


class ReliabilityStudyList(BaseModel):
    items: list[ReliabilityStudyPublic]


class RaterStudy(BaseModel):
    """A study as one of its raters sees it in the list of their studies."""

    id: str
    name: str
    reads_per_rater: int
    washout_days: int


class RaterStudyList(BaseModel):
    items: list[RaterStudy]


class WorklistEntryPublic(BaseModel):
    case: str
    position: int
    done: bool


class WorklistPublic(BaseModel):
    """The rater's current read: ``status`` open (items listed), washout (``opens_at``) or complete."""

    study_id: str
    name: str
    read: int | None
    status: str
    opens_at: dt.datetime | None
    items: list[WorklistEntryPublic]

    @classmethod
    def of(cls, worklist: Worklist) -> WorklistPublic:
        return cls(
            study_id=worklist.study.id,
            name=worklist.study.name,
            read=worklist.state.read,
            status=worklist.state.status.value,
            opens_at=worklist.state.opens_at,
            items=[WorklistEntryPublic(case=e.label, position=e.position, done=e.done) for e in worklist.entries],
        )


class CaseImagesPublic(BaseModel):
    """One blinded image stack of a case: its slice count and where its slices are rendered."""

    slices: int
    slice_url: str = Field(description="URL template of slice n (0-based): replace {n}; takes ?wc=&ww=")


class CaseReadPublic(BaseModel):
    """One blinded case of the current read; ``endplates`` is the rater's own grading of this read."""

    case: str
    read: int
    position: int
    images: dict[str, CaseImagesPublic] = Field(description="present image stacks among t1, t2 and stir")
    endplates: dict[str, EndplatePublic] | None
    protocol: str = Field(description="the grading protocol of the study: which variables to grade")

    @classmethod
    def of(cls, study_id: str, view: CaseView) -> CaseReadPublic:
        base = f"/api/v1/reliability-studies/{study_id}/worklist/{view.label}/images"
        return cls(
            case=view.label,
            read=view.read,
            position=view.position,
            images={
                role: CaseImagesPublic(slices=count, slice_url=f"{base}/{role}/slices/{{n}}.png")
                for role, count in view.slices.items()
            },
            endplates=None if view.endplates is None else endplates_public(view.endplates),
            protocol=view.protocol,
        )


class ReadCreate(BaseModel):
    """All 11 endplates, as for a clinical grading, and the fluid-sensitive series looked at."""

    endplates: dict[str, Any]
    series_viewed: SeriesViewed | None = Field(
        default=None, description="T2, STIR or T2+STIR: what was read beside T1 (stated in the report)"
    )
