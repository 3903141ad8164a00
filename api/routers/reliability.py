"""Reliability studies: set-up and progress (researcher), blinded worklists and reads (raters), reports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response

from api.deps import CurrentUser, Radiologist, SessionDep, SettingsDep, StoreDep, require_roles
from api.renderers.agreement import ReportTable, report_html, table_csv
from api.routers.series import SLICE_PNG, WindowCenter, WindowWidth, slice_png
from api.schemas.reliability import (
    CaseReadPublic,
    RaterStudy,
    RaterStudyList,
    ReadCreate,
    ReliabilityStudyCreate,
    ReliabilityStudyList,
    ReliabilityStudyPublic,
    WorklistPublic,
)
from registry.exports import reliability_reads as reads_export
from registry.models import Role, User
from registry.services import reliability as service

router = APIRouter(prefix="/reliability-studies", tags=["reliability"])

Researcher = Annotated[User, Depends(require_roles(Role.researcher, Role.admin))]
NBoot = Annotated[int, Query(ge=10, le=10_000, description="bootstrap resamples (patients)")]
PerEndplate = Annotated[bool, Query(description="also report each endplate separately")]


def _csv(content: bytes, filename: str) -> Response:
    return Response(
        content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post("", status_code=201, response_model=ReliabilityStudyPublic)
def create_study(body: ReliabilityStudyCreate, user: Researcher, session: SessionDep) -> ReliabilityStudyPublic:
    """Set up a study; every rater's worklist is drawn (seeded, recorded) at once."""
    view = service.create_study(session, user, body.setup())
    return ReliabilityStudyPublic.of(view)


@router.get("", response_model=ReliabilityStudyList | RaterStudyList)
def list_studies(user: CurrentUser, session: SessionDep) -> ReliabilityStudyList | RaterStudyList:
    """Researchers and admins: every study with progress. Radiologists: the studies they rate, nothing more."""
    if user.role in (Role.researcher, Role.admin):
        return ReliabilityStudyList(items=[ReliabilityStudyPublic.of(v) for v in service.list_studies(session)])
    if user.role == Role.radiologist:
        return RaterStudyList(
            items=[
                RaterStudy(id=s.id, name=s.name, reads_per_rater=s.reads_per_rater, washout_days=s.washout_days)
                for s in service.studies_for_rater(session, user)
            ]
        )
    return RaterStudyList(items=[])


@router.get("/{study_id}", response_model=ReliabilityStudyPublic)
def get_study(study_id: str, _user: Researcher, session: SessionDep) -> ReliabilityStudyPublic:
    """The study: set-up, the case key, raters and progress per rater and read."""
    return ReliabilityStudyPublic.of(service.study_view(session, study_id))


def study_report(
    study_id: str,
    _user: Researcher,
    session: SessionDep,
    settings: SettingsDep,
    n_boot: NBoot = 1000,
    per_endplate: PerEndplate = True,
) -> service.StudyReport:
    """The study's agreement report, for researchers and admins (the one home of the report's query)."""
    return service.build_study_report(
        session, study_id, n_boot=n_boot, per_endplate=per_endplate, processes=settings.report_processes
    )


StudyReportDep = Annotated[service.StudyReport, Depends(study_report)]


@router.get("/{study_id}/report")
def get_report(report: StudyReportDep) -> dict[str, object]:
    """Inter- and intra-rater agreement of every Nordic variable, as JSON."""
    return report.to_mapping()


@router.get("/{study_id}/report.csv", response_class=Response)
def get_report_csv(
    report: StudyReportDep,
    table: Annotated[ReportTable, Query(description="statistics, summary, endplates or raters (GRRAS)")] = (
        ReportTable.statistics
    ),
) -> Response:
    """The report as CSV: every statistic (one row per analysis, variable, comparison and statistic),
    the summary table, its per-endplate form, or the GRRAS rater table."""
    suffix = "" if table is ReportTable.statistics else f"-{table.value}"
    return _csv(table_csv(report, table).encode(), f"reliability-{report.study.id}{suffix}.csv")


@router.get("/{study_id}/report.html", response_class=HTMLResponse)
def get_report_html(report: StudyReportDep) -> HTMLResponse:
    """The report as a page with confusion-matrix heat maps."""
    return HTMLResponse(report_html(report))


@router.get("/{study_id}/reads.csv", response_class=Response)
def get_reads_csv(
    study_id: str,
    _user: Researcher,
    session: SessionDep,
    shape: Annotated[reads_export.ReadsShape, Query(description="long: a row per read and endplate; wide")] = (
        reads_export.ReadsShape.long
    ),
) -> Response:
    """Every done read, pseudonyms only: case, read label, patient, rater, read, position, endplate,
    type, size, extension_pct, not_assessable, series viewed and when the read was recorded."""
    reads = reads_export.study_reads(session, study_id)
    frame = reads.reads if shape is reads_export.ReadsShape.long else reads_export.reads_wide(reads)
    return _csv(reads_export.to_csv(frame), f"reliability-{study_id}-reads-{shape.value}.csv")


@router.get("/{study_id}/orders.csv", response_class=Response)
def get_orders_csv(study_id: str, _user: Researcher, session: SessionDep) -> Response:
    """Each rater's case order per read (every planned read, done or not) with the seed that drew it."""
    reads = reads_export.study_reads(session, study_id)
    return _csv(reads_export.to_csv(reads.orders), f"reliability-{study_id}-orders.csv")


@router.get("/{study_id}/worklist", response_model=WorklistPublic)
def get_worklist(study_id: str, rater: Radiologist, session: SessionDep) -> WorklistPublic:
    """The rater's current read: blinded cases in the rater's own order (or when read 2 opens)."""
    return WorklistPublic.of(service.worklist(session, rater, study_id))


@router.get("/{study_id}/worklist/{case}", response_model=CaseReadPublic)
def get_case(study_id: str, case: str, rater: Radiologist, session: SessionDep) -> CaseReadPublic:
    """One case of the current read: the series to read and the rater's own grading of this read."""
    return CaseReadPublic.of(study_id, service.case_view(session, rater, study_id, case))


@router.post("/{study_id}/worklist/{case}/grading", status_code=201, response_model=CaseReadPublic)
def post_read(study_id: str, case: str, body: ReadCreate, rater: Radiologist, session: SessionDep) -> CaseReadPublic:
    """Record the rater's grading of the case for the current read (final; all 11 endplates)."""
    read = service.submit_read(session, rater, study_id, case, body.endplates, series_viewed=body.series_viewed)
    return CaseReadPublic.of(study_id, read)


@router.get(
    "/{study_id}/worklist/{case}/images/{role}/slices/{index}.png",
    response_class=Response,
    responses=SLICE_PNG,
)
def get_case_slice(
    study_id: str,
    case: str,
    role: str,
    index: int,
    rater: Radiologist,
    session: SessionDep,
    store: StoreDep,
    wc: WindowCenter = None,
    ww: WindowWidth = None,
) -> Response:
    """A slice of a blinded case's ``t1``, ``t2`` or ``stir`` stack, reached through the case only."""
    return slice_png(session, store, service.case_series(session, rater, study_id, case, role), index, wc, ww)
