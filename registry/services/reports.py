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
from registry.settings import SrIdentity


def grading_report(
    session: Session,
    grading_id: str,
    version: int | None,
    viewer: User | None,
    identity: SrIdentity = SrIdentity.pseudonym,
) -> tuple[GradingReport, ReportedStudy]:
    """A version (default: the current one) of a grading ``viewer`` may read (``None``: the service itself,
    storing SRs to the archive), and the study it reports on; patient and rater as ``identity`` says."""
    if viewer is not None:
        gradings_service.get_grading(session, grading_id, viewer)  # the access rules of reading the grading
    grading = session.get(Grading, grading_id)
    if grading is None:
        raise NotFound(f"grading {grading_id!r} does not exist")
    number = grading.current_version if version is None else version
    stored = gradings_repo.version_of(session, grading_id, number)
    if stored is None:
        raise NotFound(
            f"grading {grading_id} has no version {number}; its current version is {grading.current_version}"
        )
    study = session.get(Study, grading.study_id)
    assert study is not None  # a grading's study is never deleted
    patient = session.get(Patient, study.patient_id)
    assert patient is not None
    series_ids = [s for s in (study.t1_series_id, study.t2_series_id) if s is not None]
    series = tuple(
        ReferencedSeries(uid, instances) for uid, instances in exports_repo.graded_images(session, series_ids)
    )
    if identity is SrIdentity.hospital:
        rater = session.get(User, grading.rater_id)
        report = GradingReport(grading_id, number, rater.name if rater else "", stored.endplates, stored.at)
        reported = ReportedStudy(
            study.study_instance_uid,
            study.study_date,
            patient.hospital_id,
            patient.name or "",
            patient.birth_date,
            patient.sex or "",
            series,
        )
    else:
        report = GradingReport(grading_id, number, rater_pseudonym(grading.rater_id), stored.endplates, stored.at)
        reported = ReportedStudy(
            study.study_instance_uid,
            study.study_date,
            patient.pseudonym,
            f"{patient.pseudonym}^",  # the family-name component, as the rater's pseudonym
            series=series,
            pseudonymised=True,
        )
    return report, reported


def grading_sr(
    session: Session, grading_id: str, version: int | None, viewer: User | None, identity: SrIdentity
) -> bytes:
    """The Comprehensive SR (DICOM Part 10 bytes) of a grading version, naming patient and rater as the
    site's ``identity`` policy says.

    Under the ``hospital`` policy the SR names the patient as the hospital knows them (id, name, birth
    date, sex), so that it files with the images: handing it to a user is then a read of identifying
    data, recorded (``patient.read``) in a transaction of its own before the document is returned.
    """
    report, reported = grading_report(session, grading_id, version, viewer, identity)
    if viewer is not None and identity is SrIdentity.hospital:
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
