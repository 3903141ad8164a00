"""DICOM SR documents of gradings: what one version reports, read under the grading's access rules."""

from __future__ import annotations

from sqlmodel import Session

from registry.db import session_scope
from registry.errors import NotFound
from registry.exports.dicom_sr import GradingReport, ReferencedSeries, ReportedStudy, build_sr, to_bytes
from registry.exports.raters import rater_pseudonym
from registry.models import Grading, Patient, Study, User
from registry.repositories import exports as exports_repo
from registry.repositories import gradings as gradings_repo
from registry.services import audit
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
    """The Comprehensive SR (DICOM Part 10 bytes) of a grading version.

    The SR names the patient as the hospital knows them (id, name, birth date, sex), so that it files
    with the images: handing it out is a read of identifying data, recorded (``patient.read``) in a
    transaction of its own before the document is returned.
    """
    report, reported = grading_report(session, grading_id, version, viewer)
    grading = session.get(Grading, grading_id)  # loaded by grading_report: no query
    study = session.get(Study, grading.study_id) if grading is not None else None
    assert study is not None  # the report was just read
    with session_scope(session.get_bind(), write=True) as writer:  # type: ignore[arg-type]
        audit.record(
            writer,
            viewer,
            "patient.read",
            "patient",
            study.patient_id,
            purpose="grading SR",
            grading=grading_id,
            version=report.version,
        )
        writer.commit()
    return to_bytes(build_sr(report, reported))
