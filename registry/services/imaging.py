"""Ingesting images: files (upload, folder, C-STORE) → headers → classification → study and series stored.

The data flow of docs/architecture.md#data-flow: :mod:`registry.imaging` reads the headers and keeps the files in the
store (by SOP Instance UID, before any database work, so nothing received is lost by a later
failure); :mod:`grading.series` classifies every stack of the study, with the images it already had;
the study, its series and instances are written in one transaction per study. Re-ingesting the same
images changes nothing (same study id, same series ids, no duplicates).

Patient identifiers (PatientID, PatientName, PatientBirthDate, PatientSex) go to the patients table
only; everything else refers to the patient by id and pseudonym.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from grading.errors import GradingError
from grading.field_strength import DEFAULT_FIELD_STRENGTH_T
from grading.series import InstanceHeader, Stack, StackGeometry, StudyClassification, classify_study, stack_geometry
from registry.errors import Cancelled, InvalidInput, NotFound, StudyOfAnotherPatient
from registry.imaging.archive import ArchiveLimits
from registry.imaging.dicom import DicomInstance, PatientIdentity
from registry.imaging.nifti import NiftiMetadata
from registry.imaging.render import render_png
from registry.imaging.sources import (
    Rejection,
    SourceFile,
    expand,
    iter_paths,
)
from registry.imaging.store import FileStore
from registry.models import Instance, Patient, Series, Study, User
from registry.models.base import new_id, utcnow
from registry.repositories import studies as studies_repo
from registry.services import audit
from registry.services.studies import StudyView, assign_registrant, ensure_patient, study_view

ProgressCallback = Callable[[str], None]


@dataclass
class _StudyBatch:
    """What one ingest call brought for one study."""

    study_instance_uid: str
    patient: PatientIdentity
    study_date: dt.date | None
    instances: dict[tuple[str, int], tuple[InstanceHeader, str]] = field(default_factory=dict)
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


_HEADER_FIELDS = tuple(f.name for f in dataclasses.fields(InstanceHeader))


def header_to_json(header: InstanceHeader) -> dict[str, Any]:
    """The header as JSON values (tuples become lists)."""
    values = (getattr(header, name) for name in _HEADER_FIELDS)
    return {name: list(v) if isinstance(v, tuple) else v for name, v in zip(_HEADER_FIELDS, values, strict=True)}


_TUPLE_FIELDS = {f.name for f in dataclasses.fields(InstanceHeader) if "tuple" in str(f.type)}


def header_from_json(data: dict[str, Any]) -> InstanceHeader:
    """The header stored by :func:`header_to_json`."""
    known = {f.name for f in dataclasses.fields(InstanceHeader)}
    values: dict[str, Any] = {
        k: tuple(v) if k in _TUPLE_FIELDS and isinstance(v, list) else v for k, v in data.items() if k in known
    }
    return InstanceHeader(**values)


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
    store: FileStore,
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
    batches: dict[str, _StudyBatch] = {}
    rejections: list[Rejection] = []
    for done, item in enumerate(expand(items, nifti=nifti, limits=limits)):
        if cancelled is not None and cancelled():
            raise Cancelled(f"the ingest stopped after {done} files: the client has gone")
        if isinstance(item, Rejection):
            rejections.append(item)
            if progress is not None:
                progress(item.source)
            continue
        store.put(item.instance.sop_instance_uid, item.content)
        _collect(batches, item.instance)
        if progress is not None:
            progress(item.instance.source)
    return _write_batches(session, batches, rejections, actor, expected_field_strength_t)


def ingest_paths(
    session: Session,
    store: FileStore,
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
        batch.instances.setdefault(header.instance_key, (header, instance.transfer_syntax_uid))
    if instance.window is not None:
        batch.windows.setdefault(instance.series_instance_uid, instance.window)


def _patient_for(session: Session, batch: _StudyBatch, actor: User | None) -> Patient:
    identity = batch.patient
    hospital_id = identity.patient_id.strip()[:64]
    if not hospital_id:
        # No PatientID: the study itself identifies the patient, so its images stay together.
        hospital_id = "NO-PATIENT-ID-" + hashlib.sha256(batch.study_instance_uid.encode()).hexdigest()[:16]
    patient = ensure_patient(session, hospital_id, actor)
    if patient.name is None and identity.name:
        patient.name = identity.name[:200]
    if patient.birth_date is None and identity.birth_date is not None:
        patient.birth_date = identity.birth_date
    if patient.sex is None and identity.sex[:1] in ("M", "F", "O"):
        patient.sex = identity.sex[:1]
    session.add(patient)
    return patient


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
    statement = select(Study).where(Study.study_instance_uid == batch.study_instance_uid)
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    study = session.exec(statement).first()
    created = study is None
    if study is None:
        patient = _patient_for(session, batch, actor)
        study = Study(
            study_instance_uid=batch.study_instance_uid,
            patient_id=patient.id,
            study_date=batch.study_date,
            created_by=None if actor is None else actor.id,
        )
        session.add(study)
        session.flush()
        assign_registrant(session, study, actor)
    else:
        patient = studies_repo.patients_by_ids(session, {study.patient_id})[study.patient_id]
        incoming = batch.patient.patient_id.strip()
        if incoming and incoming != patient.hospital_id and not patient.hospital_id.startswith("NO-PATIENT-ID-"):
            raise StudyOfAnotherPatient(batch.study_instance_uid, study.id, "its images were not attached")
        if study.study_date is None:
            study.study_date = batch.study_date
    rows = session.execute(
        select(
            Instance.id,  # type: ignore[call-overload]
            Instance.sop_instance_uid,
            Instance.frame_index,
            Instance.series_id,
            Instance.slice_index,
            Instance.header,
        ).where(Instance.study_id == study.id)
    ).all()
    existing = {(row.sop_instance_uid, row.frame_index): row for row in rows}
    new_keys = [key for key in batch.instances if key not in existing]
    if new_keys or created:
        headers = [header_from_json(row.header) for row in rows] + [batch.instances[k][0] for k in new_keys]
        try:
            classification = classify_study(headers, expected_field_strength_t=expected_field_strength_t)
        except GradingError as exc:
            raise InvalidInput(f"study {study.study_instance_uid}: {exc}") from None
        placement, stale, series_rows = _store_series(session, study, classification, batch.windows)
        for key, row in existing.items():
            target = placement.get(key, (None, None))
            if (row.series_id, row.slice_index) != target:
                session.execute(
                    update(Instance)
                    .where(col(Instance.id) == row.id)
                    .values(series_id=target[0], slice_index=target[1])
                )
        if new_keys:
            now = utcnow()
            session.execute(
                insert(Instance),
                [
                    {
                        "id": new_id(),
                        "study_id": study.id,
                        "sop_instance_uid": key[0],
                        "frame_index": key[1],
                        "series_id": placement.get(key, (None, None))[0],
                        "slice_index": placement.get(key, (None, None))[1],
                        "transfer_syntax_uid": batch.instances[key][1][:64],
                        "header": header_to_json(batch.instances[key][0]),
                        "created_at": now,
                    }
                    for key in new_keys
                ],
            )
        for series in stale:
            session.delete(series)
        audit.record(session, actor, "study.ingest", "study", study.id, images=len(new_keys), total=len(headers))
    else:
        series_rows = None
    session.add(study)
    session.commit()
    if series_rows is None:
        view = study_view(session, study.id)
    else:
        # The same view study_view() would read back, without querying again.
        view = StudyView(study, patient.pseudonym, sorted(series_rows, key=lambda s: (s.created_at, s.id)))
    return IngestedStudy(view, received=len(batch.instances), new=len(new_keys))


def _store_series(
    session: Session,
    study: Study,
    classification: StudyClassification,
    windows: dict[str, tuple[float, float]],
) -> tuple[dict[tuple[str, int], tuple[str, int]], list[Series], list[Series]]:
    """Bring the study's series rows up to date (ids are kept) and choose its grading series.

    Returns where each image goes (series id, slice index), the series rows no stack needs any more
    and the rows kept.
    """
    current = {
        (s.series_instance_uid, s.stack_key): s for s in session.exec(select(Series).where(Series.study_id == study.id))
    }
    kept: set[str] = set()
    rows: list[Series] = []
    ids: dict[int, str] = {}
    placement: dict[tuple[str, int], tuple[str, int]] = {}
    for stack in classification.stacks:
        key = stack_key(stack)
        series = current.get((stack.series_instance_uid, key))
        if series is None:
            series = Series(
                id=new_id(),
                study_id=study.id,
                series_instance_uid=stack.series_instance_uid,
                stack_key=key,
                plane="",
                weighting="",
            )
        previous_window = series.details.get("window") if series.details else None
        window = windows.get(stack.series_instance_uid) or previous_window
        series.description = stack.description[:200]
        series.plane = stack.plane.value
        series.weighting = stack.weighting.value
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
        session.add(series)
        rows.append(series)
        kept.add(series.id)
        ids[id(stack)] = series.id
        for index, header in enumerate(stack.instances):
            placement[header.instance_key] = (series.id, index)
    session.flush()
    chosen = classification.grading_series
    study.t1_series_id = None if chosen.t1 is None else ids[id(chosen.t1)]
    study.t2_series_id = None if chosen.t2 is None else ids[id(chosen.t2)]
    study.field_strength_t = classification.field_strength_t or study.field_strength_t
    study.warnings = list(classification.warnings)
    return placement, [s for s in current.values() if s.id not in kept], rows


@dataclass(frozen=True)
class SliceLocation:
    """Where the pixels of one slice of a series are: the stored file and the frame within it."""

    sop_instance_uid: str
    frame_index: int
    window: tuple[float, float] | None
    slices: int


def locate_slice(session: Session, series_id: str, index: int) -> SliceLocation:
    """The image at position ``index`` (0-based, spatial order) of a series; :class:`NotFound` otherwise."""
    series = session.get(Series, series_id)
    if series is None:
        raise NotFound(f"series {series_id!r} does not exist")
    if not 0 <= index < series.slices:
        raise NotFound(f"slice {index} does not exist; series {series_id!r} has slices 0 to {series.slices - 1}")
    row = session.exec(
        select(Instance).where(Instance.series_id == series_id, col(Instance.slice_index) == index)
    ).first()
    if row is None:
        raise NotFound(f"slice {index} of series {series_id!r} has no stored image")
    window = series.details.get("window") if series.details else None
    return SliceLocation(
        row.sop_instance_uid, row.frame_index, None if window is None else (window[0], window[1]), series.slices
    )


def series_geometry(session: Session, series_id: str) -> StackGeometry | None:
    """Where each displayed slice of a series lies in patient space (for a linked cursor, positions
    in mm and a scale bar); None when a slice lacks the geometry headers or a slice has no image."""
    series = session.get(Series, series_id)
    if series is None:
        raise NotFound(f"series {series_id!r} does not exist")
    rows = session.exec(
        select(Instance).where(Instance.series_id == series_id).order_by(col(Instance.slice_index))
    ).all()
    if len(rows) != series.slices or any(row.slice_index != i for i, row in enumerate(rows)):
        return None
    return stack_geometry([header_from_json(row.header) for row in rows])


def render_slice(
    session: Session,
    store: FileStore,
    series_id: str,
    index: int,
    *,
    window_center: float | None = None,
    window_width: float | None = None,
) -> bytes:
    """The PNG of slice ``index`` of a series in display orientation (anterior left, head up)."""
    where = locate_slice(session, series_id, index)
    path = store.path_for(where.sop_instance_uid)
    if not path.is_file():
        raise NotFound(f"the image file of slice {index} of series {series_id!r} is missing from the data directory")
    return render_png(
        path.read_bytes(),
        frame=where.frame_index,
        window_center=window_center,
        window_width=window_width,
        source=f"series {series_id} slice {index}",
    )


SAMPLE_DICOM_DIR = Path(__file__).resolve().parents[2] / "sample_dicom"
"""The synthetic 0.2 T phantom studies shipped with the project (``sample_dicom/generate.py``)."""


def ingest_sample_studies(
    session: Session,
    store: FileStore,
    *,
    expected_field_strength_t: float = DEFAULT_FIELD_STRENGTH_T,
    folder: Path = SAMPLE_DICOM_DIR,
    actor: User | None = None,
) -> list[str]:
    """Ingest the sample studies (``modic serve --demo``) on behalf of ``actor`` (a radiologist is
    assigned to them); one printable line per study or problem."""
    files = sorted(folder.rglob("*.dcm"))
    if not files:
        return [f"no sample studies found in {folder}"]
    result = ingest_files(
        session, store, iter_paths(files), actor=actor, expected_field_strength_t=expected_field_strength_t
    )
    lines = [
        f"sample study {s.view.study.study_instance_uid} ({s.view.pseudonym}): id {s.view.study.id}, "
        f"{len(s.view.series)} series, {s.new} new images"
        for s in result.studies
    ]
    return lines + [f"sample file rejected: {message}" for message in result.warnings]
