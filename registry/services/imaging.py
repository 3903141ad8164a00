"""Ingesting images: files (upload, folder, C-STORE) → headers → classification → study and series stored.

The data flow of docs/architecture.md#data-flow: :mod:`registry.imaging` reads the headers and keeps the files in the
store (by SOP Instance UID, before any database work, so nothing received is lost by a later
failure); :mod:`grading.series` classifies every stack of the study, with the images it already had;
the study, its series and instances are written in one transaction per study. Re-ingesting the same
images changes nothing (same study id, same series ids, no duplicates). The queries are in
:mod:`registry.repositories.imaging`; reading slices back is :mod:`registry.services.slices`.

Patient identifiers (PatientID, PatientName, PatientBirthDate, PatientSex) go to the patients table
only; everything else refers to the patient by id and pseudonym.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from grading.errors import GradingError
from grading.field_strength import DEFAULT_FIELD_STRENGTH_T
from grading.series import InstanceHeader, Stack, StudyClassification, classify_study
from registry.errors import Cancelled, InvalidInput, StudyOfAnotherPatient
from registry.imaging.archive import ArchiveLimits
from registry.imaging.dicom import DicomInstance, PatientIdentity
from registry.imaging.nifti import NiftiMetadata
from registry.imaging.sources import (
    AcceptedInstance,
    Rejection,
    SourceFile,
    iter_paths,
    read_sources,
)
from registry.imaging.store import ImageStore
from registry.models import Patient, Series, Study, User
from registry.models.base import new_id, utcnow
from registry.repositories import imaging as imaging_repo
from registry.repositories import studies as studies_repo
from registry.repositories.imaging import InstanceKey, NewInstance, Placement, StoredInstance
from registry.services import audit
from registry.services.studies import StudyView, patient_and_event, registrant_assignment, study_view

ProgressCallback = Callable[[str], None]

_UNPLACED: Placement = (None, None)
_NO_PATIENT_ID = "NO-PATIENT-ID-"
"""The prefix of the hospital id given to a patient whose images carry no PatientID."""


@dataclass
class _StudyBatch:
    """What one ingest call brought for one study."""

    study_instance_uid: str
    patient: PatientIdentity
    study_date: dt.date | None
    instances: dict[InstanceKey, NewInstance] = field(default_factory=dict)
    windows: dict[str, tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class IngestedStudy:
    """A study touched by an ingest call: its view and how many of the images were new."""

    view: StudyView
    received: int
    new: int


@dataclass(frozen=True)
class IngestResult:
    """Every study touched, and every file that was not used (with the reason naming it)."""

    studies: list[IngestedStudy]
    rejections: list[Rejection]
    conflicts: list[StudyOfAnotherPatient] = field(default_factory=list)
    """The studies among the rejections whose UID is registered for another patient."""

    @property
    def warnings(self) -> list[str]:
        """The rejections as ``<file>: <reason>`` lines."""
        return [r.message for r in self.rejections]


def stack_key(stack: Stack) -> str:
    """A stable name for a stack within its series: matrix, most common orientation, echo/inversion time
    and image type, so that a stack keeps its series id when more of its images arrive."""
    first = stack.instances[0]
    orientations = Counter(
        ",".join(f"{v:.1f}" for v in h.image_orientation) if h.image_orientation is not None else "none"
        for h in stack.instances
    )
    orientation = min(orientations.items(), key=lambda item: (-item[1], item[0]))[0]
    parts = [
        f"{first.rows}x{first.columns}",
        orientation,
        f"TE{first.echo_time_ms:g}" if first.echo_time_ms is not None else "TE-",
        f"TI{first.inversion_time_ms:g}" if first.inversion_time_ms is not None else "TI-",
        "\\".join(first.image_type),
    ]
    key = "|".join(parts)
    return key if len(key) <= 200 else hashlib.sha256(key.encode()).hexdigest()


def ingest_files(
    session: Session,
    store: ImageStore,
    items: Iterable[SourceFile | Rejection],
    *,
    actor: User | None = None,
    nifti: NiftiMetadata | None = None,
    limits: ArchiveLimits | None = None,
    expected_field_strength_t: float = DEFAULT_FIELD_STRENGTH_T,
    progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> IngestResult:
    """Ingest every file of ``items`` (see :mod:`registry.imaging.sources`) into the registry.

    Files are stored first; then each study is classified and written in its own transaction.
    ``progress`` is called with each file's name once it has been read. When ``cancelled`` answers
    true (the client has gone), the work stops with :class:`Cancelled` before the next file; the files
    already stored are kept (sending them again finds them) and no study is written.
    """
    accepted = read_sources(items, nifti=nifti, limits=limits)
    return ingest_accepted(
        session,
        store,
        accepted,
        actor=actor,
        expected_field_strength_t=expected_field_strength_t,
        progress=progress,
        cancelled=cancelled,
    )


def ingest_accepted(
    session: Session,
    store: ImageStore,
    items: Iterable[AcceptedInstance | Rejection],
    *,
    actor: User | None = None,
    expected_field_strength_t: float = DEFAULT_FIELD_STRENGTH_T,
    progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> IngestResult:
    """:func:`ingest_files` for images whose headers were read already (a pull reads each image as it
    arrives): each is stored unless marked as stored already (a no-op when its file is in the store),
    then each study is classified and written in its own transaction."""
    batches: dict[str, _StudyBatch] = {}
    rejections: list[Rejection] = []
    stored = rejected = studies = 0
    try:  # the files stored are counted even when the ingest stops part way
        for done, item in enumerate(items):
            if cancelled is not None and cancelled():
                raise Cancelled(f"the ingest stopped after {done} files: the client has gone")
            if isinstance(item, Rejection):
                rejections.append(item)
                if progress is not None:
                    progress(item.source)
                continue
            if not item.stored:
                store.put(item.instance.sop_instance_uid, item.content)
            stored += 1
            _collect(batches, item.instance)
            if progress is not None:
                progress(item.instance.source)
        rejected = len(rejections)
        result = _write_batches(session, batches, rejections, actor, expected_field_strength_t)
        studies = len(result.studies)
    finally:
        _count(stored, rejected, studies)
    return result


def _count(stored: int, rejected: int, studies: int) -> None:
    """Add to the ingest metrics of a process that has them: a server loads them to serve ``/metrics``, and
    a process writing them for a server to add up has ``PROMETHEUS_MULTIPROC_DIR``. Any other process (a
    command) is not made to load the Prometheus client for counts that no one could read."""
    if "registry.metrics" not in sys.modules and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    from registry import metrics

    metrics.INGESTED_FILES.labels("stored").inc(stored)
    metrics.INGESTED_FILES.labels("rejected").inc(rejected)
    metrics.INGESTED_STUDIES.inc(studies)


def ingest_paths(
    session: Session,
    store: ImageStore,
    paths: Sequence[Path],
    *,
    actor: User | None = None,
    nifti: NiftiMetadata | None = None,
    expected_field_strength_t: float = DEFAULT_FIELD_STRENGTH_T,
    progress: ProgressCallback | None = None,
    limits: ArchiveLimits | None = None,
) -> IngestResult:
    """Ingest files, folders (recursively, in name order) and archives, as :func:`ingest_files`."""
    return ingest_files(
        session,
        store,
        iter_paths(paths),
        actor=actor,
        nifti=nifti,
        limits=limits,
        expected_field_strength_t=expected_field_strength_t,
        progress=progress,
    )


def _write_batches(
    session: Session,
    batches: dict[str, _StudyBatch],
    rejections: list[Rejection],
    actor: User | None,
    expected_field_strength_t: float,
) -> IngestResult:
    studies: list[IngestedStudy] = []
    conflicts: list[StudyOfAnotherPatient] = []
    if session.in_transaction():
        session.commit()
    for batch in batches.values():
        try:
            studies.append(_write_study(session, batch, actor, expected_field_strength_t))
        except (InvalidInput, StudyOfAnotherPatient) as exc:
            session.rollback()
            rejections.append(Rejection(f"study {batch.study_instance_uid}", exc.message))
            if isinstance(exc, StudyOfAnotherPatient):
                conflicts.append(exc)
    if session.in_transaction():
        session.commit()
    return IngestResult(studies, rejections, conflicts)


def _collect(batches: dict[str, _StudyBatch], instance: DicomInstance) -> None:
    batch = batches.get(instance.study_instance_uid)
    if batch is None:
        batch = _StudyBatch(instance.study_instance_uid, instance.patient, instance.study_date)
        batches[instance.study_instance_uid] = batch
    for header in instance.headers:
        batch.instances.setdefault(header.instance_key, NewInstance(header, instance.transfer_syntax_uid))
    if instance.window is not None:
        batch.windows.setdefault(instance.series_instance_uid, instance.window)


def _write_study(
    session: Session, batch: _StudyBatch, actor: User | None, expected_field_strength_t: float
) -> IngestedStudy:
    for attempt in range(2):
        try:
            return _write_study_once(session, batch, actor, expected_field_strength_t)
        except IntegrityError:
            # Another process created the same patient, study or instance at the same moment: retry once.
            session.rollback()
            if attempt:
                raise
    raise AssertionError("unreachable")


def _write_study_once(
    session: Session, batch: _StudyBatch, actor: User | None, expected_field_strength_t: float
) -> IngestedStudy:
    """One transaction: find or create the study, and when images are new, classify the whole study
    again and bring its series and instances up to date. The audit events of the transaction are written
    together at its end, in the order they happened."""
    study, patient, created, events = _find_or_create_study(session, batch, actor)
    # A study created now has no images nor series yet: nothing to read back.
    stored = {} if created else imaging_repo.instances_of_study(session, study.id)
    new_keys = [key for key in batch.instances if key not in stored]
    series_rows = None
    if new_keys or created:
        series_rows = _reclassify(session, study, batch, stored, new_keys, created, expected_field_strength_t)
        events.append(
            audit.event(
                actor, "study.ingest", "study", study.id, images=len(new_keys), total=len(stored) + len(new_keys)
            )
        )
    audit.record_many(session, events)
    session.add(study)
    session.commit()
    if series_rows is None:
        view = study_view(session, study.id)
    else:
        # The same view study_view() would read back, without querying again.
        view = StudyView(study, patient.pseudonym, sorted(series_rows, key=lambda s: (s.created_at, s.id)))
    return IngestedStudy(view, received=len(batch.instances), new=len(new_keys))


def _find_or_create_study(
    session: Session, batch: _StudyBatch, actor: User | None
) -> tuple[Study, Patient, bool, list[dict[str, Any]]]:
    """The batch's study (locked) and its patient, whether the study was created now, and the audit events
    still to write; :class:`StudyOfAnotherPatient` when the study is known under another patient id."""
    study = imaging_repo.study_by_uid_for_update(session, batch.study_instance_uid)
    if study is None:
        patient, events = _patient_for(session, batch, actor)
        study = Study(  # every default given: a default factory costs a signature inspection in pydantic
            id=new_id(),
            study_instance_uid=batch.study_instance_uid,
            patient_id=patient.id,
            study_date=batch.study_date,
            warnings=[],
            created_by=None if actor is None else actor.id,
            created_at=utcnow(),
        )
        session.add(study)
        session.flush()
        events += registrant_assignment(session, study, actor)
        return study, patient, True, events
    patient = studies_repo.patients_by_ids(session, {study.patient_id})[study.patient_id]
    incoming = batch.patient.patient_id.strip()
    if incoming and incoming != patient.hospital_id and not patient.hospital_id.startswith(_NO_PATIENT_ID):
        raise StudyOfAnotherPatient(batch.study_instance_uid, study.id, "its images were not attached")
    if study.study_date is None:
        study.study_date = batch.study_date
    return study, patient, False, []


def _patient_for(session: Session, batch: _StudyBatch, actor: User | None) -> tuple[Patient, list[dict[str, Any]]]:
    """The patient the batch's identity names, created when new, and its audit event; identity fields fill
    gaps only (a new patient is inserted with them)."""
    identity = batch.patient
    hospital_id = identity.patient_id.strip()[:64]
    if not hospital_id:
        # No PatientID: the study itself identifies the patient, so its images stay together.
        hospital_id = _NO_PATIENT_ID + hashlib.sha256(batch.study_instance_uid.encode()).hexdigest()[:16]

    def fill_gaps(patient: Patient) -> None:
        if patient.name is None and identity.name:
            patient.name = identity.name[:200]
        if patient.birth_date is None and identity.birth_date is not None:
            patient.birth_date = identity.birth_date
        if patient.sex is None and identity.sex[:1] in ("M", "F", "O"):
            patient.sex = identity.sex[:1]

    patient, event = patient_and_event(session, hospital_id, actor, complete=fill_gaps)
    fill_gaps(patient)
    session.add(patient)
    return patient, [] if event is None else [event]


def _reclassify(
    session: Session,
    study: Study,
    batch: _StudyBatch,
    stored: dict[InstanceKey, StoredInstance],
    new_keys: list[InstanceKey],
    created: bool,
    expected_field_strength_t: float,
) -> list[Series]:
    """Classify the study with every image it has, store its series, place every image; the series kept."""
    headers = [s.header for s in stored.values()] + [batch.instances[k].header for k in new_keys]
    classification = _classify(study, headers, expected_field_strength_t)
    placement, stale, series_rows = _store_series(session, study, classification, batch.windows, created)
    for key, instance in stored.items():
        target = placement.get(key, _UNPLACED)
        if instance.placement != target:
            imaging_repo.move_instance(session, instance.id, target)
    imaging_repo.add_instances(
        session, study.id, [(batch.instances[k], placement.get(k, _UNPLACED)) for k in new_keys], utcnow()
    )
    for series in stale:
        session.delete(series)
    return series_rows


def _classify(study: Study, headers: list[InstanceHeader], expected_field_strength_t: float) -> StudyClassification:
    try:
        return classify_study(headers, expected_field_strength_t=expected_field_strength_t)
    except GradingError as exc:
        raise InvalidInput(f"study {study.study_instance_uid}: {exc}") from None


def _store_series(
    session: Session,
    study: Study,
    classification: StudyClassification,
    windows: dict[str, tuple[float, float]],
    created: bool,
) -> tuple[dict[InstanceKey, Placement], list[Series], list[Series]]:
    """Bring the study's series rows up to date (ids are kept) and choose its grading series (a study
    ``created`` in this transaction has no series rows yet).

    Returns where each image goes (series id, slice index), the series rows no stack needs any more
    and the rows kept.
    """
    existing = [] if created else imaging_repo.series_of_study(session, study.id)
    current = {(s.series_instance_uid, s.stack_key): s for s in existing}
    rows: list[Series] = []
    ids: dict[int, str] = {}
    placement: dict[InstanceKey, Placement] = {}
    for stack in classification.stacks:
        series = _series_row(study, stack, current, windows)
        session.add(series)
        rows.append(series)
        ids[id(stack)] = series.id
        for index, header in enumerate(stack.instances):
            placement[header.instance_key] = (series.id, index)
    session.flush()
    chosen = classification.grading_series
    study.t1_series_id = None if chosen.t1 is None else ids[id(chosen.t1)]
    study.t2_series_id = None if chosen.t2 is None else ids[id(chosen.t2)]
    study.field_strength_t = classification.field_strength_t or study.field_strength_t
    study.warnings = list(classification.warnings)
    kept = {series.id for series in rows}
    return placement, [s for s in current.values() if s.id not in kept], rows


def _series_row(
    study: Study, stack: Stack, current: dict[tuple[str, str], Series], windows: dict[str, tuple[float, float]]
) -> Series:
    """The series row of a stack (the one it had, matched by stack key, or a new one) with the stack's values."""
    key = stack_key(stack)
    series = current.get((stack.series_instance_uid, key))
    if series is None:
        series = Series(  # every value given: a default factory costs a signature inspection in pydantic
            id=new_id(),
            study_id=study.id,
            series_instance_uid=stack.series_instance_uid,
            stack_key=key,
            plane=stack.plane,
            weighting=stack.weighting,
            details={},
            created_at=utcnow(),
        )
    previous_window = series.details.get("window") if series.details else None
    window = windows.get(stack.series_instance_uid) or previous_window
    series.description = stack.description[:200]
    series.plane = stack.plane
    series.weighting = stack.weighting
    series.field_strength_t = stack.field_strength_t
    series.slices = stack.slices
    series.gradable = stack.gradable
    series.details = {
        "series_number": stack.series_number,
        "stack_index": stack.stack_index,
        "reason": stack.reason.value,
        "not_gradable_reason": stack.not_gradable_reason,
        "warnings": list(stack.warnings),
        "slice_spacing_mm": stack.slice_spacing_mm,
        "window": None if window is None else list(window),
    }
    return series
