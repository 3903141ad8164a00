"""DICOM SR documents of gradings: what one version reports, read under the grading's access rules."""

from __future__ import annotations

from sqlmodel import Session

from registry.errors import NotFound
from registry.exports.dicom_sr import GradingReport, ReferencedSeries, ReportedStudy, build_sr, to_bytes
from registry.exports.raters import rater_pseudonym
from registry.models import Grading, Patient, Study, User
from registry.repositories import exports as exports_repo
from registry.repositories import gradings as gradings_repo
from registry.services import gradings as gradings_service


def grading_report(
    session: Session, grading_id: str, version: int | None, viewer: User
) -> tuple[GradingReport, ReportedStudy]:
    """A version (default: the current one) of a grading ``viewer`` may read, and the study it reports on."""
    view = gradings_service.get_grading(session, grading_id, viewer)  # the access rules of reading the grading
    number = view.version if version is None else version
    stored = gradings_repo.version_of(session, grading_id, number)
    if stored is None:
        raise NotFound(f"grading {grading_id} has no version {number}; its current version is {view.version}")
    grading = session.get(Grading, grading_id)
    study = session.get(Study, view.study_id)
    assert grading is not None and study is not None  # the view was just read
    patient = session.get(Patient, study.patient_id)
    assert patient is not None
    series_ids = [s for s in (study.t1_series_id, study.t2_series_id) if s is not None]
    series = tuple(
        ReferencedSeries(uid, instances) for uid, instances in exports_repo.graded_images(session, series_ids)
    )
    report = GradingReport(grading_id, number, rater_pseudonym(grading.rater_id), stored.endplates, stored.at)
    reported = ReportedStudy(
        study.study_instance_uid,
        study.study_date,
        patient.hospital_id,
        patient.name or "",
        patient.birth_date,
        patient.sex or "",
        series,
    )
    return report, reported


def grading_sr(session: Session, grading_id: str, version: int | None, viewer: User) -> bytes:
    """The Comprehensive SR (DICOM Part 10 bytes) of a grading version."""
    return to_bytes(build_sr(*grading_report(session, grading_id, version, viewer)))
