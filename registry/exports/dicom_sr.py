"""Gradings as DICOM Structured Reports: a Comprehensive SR holding a TID 1500 Measurement Report
built with highdicom, and its reader.

Each grading version is one SR document: one TID 1501 measurement group per endplate (finding
site = the vertebra with a superior/inferior topographical modifier, qualitative evaluations for
the Modic type and size, or for why the endplate is not assessable, and the extension as a
percentage when the rater gave it), the rater as person observer (by pseudonym), and the T1/T2
series graded as evidence. Codes are SNOMED CT, DICOM and UCUM where those have the concept, and
the private scheme ``99MODIC`` (declared in the document) where not. ``docs/dicom-sr.md`` lists
every code.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import highdicom as hd
from pydicom import Dataset, dcmread
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import ComprehensiveSRStorage, generate_uid
from pydicom.valuerep import DA, TM, PersonName

from grading.endplates import ENDPLATE_IDS, ENDPLATES, Endplate
from grading.nordic import TYPE_LABELS, Size
from registry.errors import InvalidInput
from registry.exports.codebook import NOT_ASSESSABLE_REASONS

SCHEME = "99MODIC"
"""The designator of the project's private coding scheme (private designators start with ``99``)."""
SCHEME_NAME = "Modic registry codes for the Nordic Modic classification"
SCHEME_VERSION = "1"


def _private(value: str, meaning: str) -> Code:
    return Code(value, SCHEME, meaning)


MODIC_CHANGE = _private("MC", "Modic change")
"""Finding type of every group: a vertebral endplate marrow signal change (Modic)."""
MODIC_TYPE = _private("MT", "Modic type")
MODIC_SIZE = _private("MS", "Modic size")
NOT_ASSESSABLE = _private("NA", "Endplate not assessable")
EXTENSION = _private("EXT", "Modic change extension into vertebral body height")
S1_VERTEBRA = _private("S1", "S1 vertebra")

TYPE_CODES: dict[str, Code] = {
    label: _private(
        f"MT-{label.replace('/', '-').upper()}", "No Modic change" if label == "none" else f"Modic type {label}"
    )
    for label in TYPE_LABELS
}
"""The value of the type evaluation for each canonical type label."""
SIZE_CODES: dict[str, Code] = {s.value: _private(f"MS-{s.value}", f"Modic size {s.value}") for s in Size}
_REASON_MEANINGS = {
    "artefact": "image artefact",
    "outside_fov": "outside the field of view",
    "transitional": "transitional vertebra",
    "other": "other reason",
}
REASON_CODES: dict[str, Code] = {
    reason: _private(f"NA-{reason.upper().replace('_', '-')}", f"Not assessable: {_REASON_MEANINGS[reason]}")
    for reason in NOT_ASSESSABLE_REASONS
}
VERTEBRA_CODES: dict[str, Code] = {
    "L1": codes.SCT.L1Vertebra,
    "L2": codes.SCT.L2Vertebra,
    "L3": codes.SCT.L3Vertebra,
    "L4": codes.SCT.L4Vertebra,
    "L5": codes.SCT.L5Vertebra,
    "S1": S1_VERTEBRA,
}
SUPERIOR = Code("264217000", "SCT", "Superior")
INFERIOR = Code("261089000", "SCT", "Inferior")
PERCENT = codes.UCUM.Percent
NOTE = codes.DCM.Comment
MANUFACTURER = "Modic grading & registry"
PSEUDONYMISED = "Modic registry pseudonyms for patient and rater; UIDs kept"
"""The De-identification Method of an SR that names the patient by pseudonym."""
SERIES_NUMBER = 9901
"""The series number of the SR series of every grading (one series per grading, one instance per version)."""


class SrError(InvalidInput):
    """A DICOM SR that is not a Modic grading report of this project."""


@dataclass(frozen=True)
class ReferencedSeries:
    """One graded series: its UID and the SOP class and instance UID of each of its images."""

    series_instance_uid: str
    instances: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ReportedStudy:
    """The study and patient attributes an SR document copies from the images it reports on."""

    study_instance_uid: str
    study_date: dt.date | None
    patient_id: str
    patient_name: str = ""
    patient_birth_date: dt.date | None = None
    patient_sex: str = ""
    series: tuple[ReferencedSeries, ...] = ()
    pseudonymised: bool = False
    """The patient is named by a pseudonym (Patient Identity Removed YES, with the method stated)."""


@dataclass(frozen=True)
class GradingReport:
    """One version of a grading, as put into and read back from an SR document."""

    grading_id: str
    version: int
    rater: str
    """The rater's pseudonym (in the SR, the family-name component of the observer's name)."""
    endplates: Mapping[str, Mapping[str, Any]]
    """The stored endplate entries, keyed by endplate id, in anatomical order."""
    recorded_at: dt.datetime
    referenced_series: tuple[str, ...] = field(default=())
    """The Series Instance UIDs of the graded images (read back from the evidence)."""


def document_uids(grading_id: str, version: int) -> tuple[str, str]:
    """(Series Instance UID, SOP Instance UID) of a grading version's SR: the same every time it is made."""
    series = generate_uid(entropy_srcs=["modic-sr-series", grading_id])
    return series, generate_uid(entropy_srcs=["modic-sr", grading_id, str(version)])


def _finding_site(endplate: Endplate) -> hd.sr.FindingSite:
    return hd.sr.FindingSite(
        VERTEBRA_CODES[endplate.vertebra], topographical_modifier=SUPERIOR if endplate.is_superior else INFERIOR
    )


def _group(report: GradingReport, endplate: Endplate) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    entry = report.endplates[endplate.value]
    evaluations: list[hd.sr.QualitativeEvaluation] = []
    measurements: list[hd.sr.Measurement] = []
    reason = entry.get("not_assessable")
    if reason is not None:
        evaluations.append(hd.sr.QualitativeEvaluation(NOT_ASSESSABLE, REASON_CODES[reason]))
    else:
        evaluations.append(hd.sr.QualitativeEvaluation(MODIC_TYPE, TYPE_CODES[entry["type"]]))
        if entry.get("size") is not None:
            evaluations.append(hd.sr.QualitativeEvaluation(MODIC_SIZE, SIZE_CODES[entry["size"]]))
        if entry.get("extension_pct") is not None:
            measurements.append(hd.sr.Measurement(EXTENSION, float(entry["extension_pct"]), PERCENT))
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=generate_uid(entropy_srcs=["modic-sr-group", report.grading_id, str(report.version), endplate.value]),
            identifier=f"{endplate.value} of grading {report.grading_id}",
        ),
        finding_type=MODIC_CHANGE,
        finding_sites=[_finding_site(endplate)],
        measurements=measurements or None,
        qualitative_evaluations=evaluations,
    )
    note = entry.get("note")
    if reason is not None and note:
        group[0].ContentSequence.append(
            hd.sr.TextContentItem(NOTE, str(note), relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)
        )
    return group


def _evidence(study: ReportedStudy, sop_instance_uid: str) -> tuple[list[Dataset], bool]:
    """Datasets naming the patient, the study and each graded image; False when no image is referenced."""

    def dataset(series_uid: str, sop_class: str, sop_instance: str) -> Dataset:
        ds = Dataset()
        ds.PatientID = study.patient_id
        ds.PatientName = study.patient_name
        ds.PatientBirthDate = study.patient_birth_date.strftime("%Y%m%d") if study.patient_birth_date else ""
        ds.PatientSex = study.patient_sex
        ds.StudyInstanceUID = study.study_instance_uid
        ds.StudyDate = study.study_date.strftime("%Y%m%d") if study.study_date else ""
        ds.StudyTime = ""
        ds.StudyID = ""
        ds.AccessionNumber = ""
        ds.ReferringPhysicianName = ""
        ds.SeriesInstanceUID = series_uid
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = sop_instance
        return ds

    images = [dataset(s.series_instance_uid, c, i) for s in study.series for c, i in s.instances]
    if images:
        return images, True
    # Without images the study and patient still come from an evidence dataset; the SR names itself
    # there, and the evidence sequence (required only when images are referenced) is dropped after.
    return [dataset("", ComprehensiveSRStorage, sop_instance_uid)], False


def build_sr(report: GradingReport, study: ReportedStudy) -> hd.sr.ComprehensiveSR:
    """The Comprehensive SR of one grading version."""
    series_uid, sop_uid = document_uids(report.grading_id, report.version)
    observer = hd.sr.ObserverContext(
        observer_type=codes.cid270.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name=f"{report.rater}^"),
    )
    measurement_report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=observer),
        procedure_reported=codes.cid100.MRIUnspecifiedBodyRegion,
        imaging_measurements=[_group(report, e) for e in ENDPLATES],
    )
    evidence, has_images = _evidence(study, sop_uid)
    previous = []
    if report.version > 1:
        predecessor = Dataset()
        predecessor.StudyInstanceUID = study.study_instance_uid
        predecessor.SeriesInstanceUID = series_uid
        predecessor.SOPClassUID = ComprehensiveSRStorage
        predecessor.SOPInstanceUID = document_uids(report.grading_id, report.version - 1)[1]
        previous.append(predecessor)
    sr = hd.sr.ComprehensiveSR(
        evidence=evidence,
        content=measurement_report,
        series_instance_uid=series_uid,
        series_number=SERIES_NUMBER,
        sop_instance_uid=sop_uid,
        instance_number=report.version,
        manufacturer=MANUFACTURER,
        is_complete=True,
        previous_versions=previous or None,
        series_description="Modic grading",
    )
    if not has_images:
        del sr.CurrentRequestedProcedureEvidenceSequence
    if study.pseudonymised:
        sr.PatientIdentityRemoved = "YES"
        sr.DeidentificationMethod = PSEUDONYMISED
    at = report.recorded_at.astimezone(dt.UTC)
    sr.ContentDate, sr.ContentTime = DA(at.date()), TM(at.time())
    sr.TimezoneOffsetFromUTC = "+0000"
    scheme = Dataset()
    scheme.CodingSchemeDesignator = SCHEME
    scheme.CodingSchemeName = SCHEME_NAME
    scheme.CodingSchemeVersion = SCHEME_VERSION
    scheme.CodingSchemeResponsibleOrganization = MANUFACTURER
    sr.CodingSchemeIdentificationSequence = [scheme]
    return sr


def to_bytes(sr: Dataset) -> bytes:
    """The SR as a DICOM Part 10 file."""
    sink = io.BytesIO()
    sr.save_as(sink, enforce_file_format=True)
    return sink.getvalue()


def _lookup(table: Mapping[str, Code], code: Any, what: str) -> str:
    for key, known in table.items():
        if known.value == code.value and known.scheme_designator == code.scheme_designator:
            return key
    raise SrError(f"{what} code {code.value!r} ({code.scheme_designator}) is not one of this project's codes")


def read_sr(data: bytes) -> GradingReport:
    """Read a grading back from an SR document made by :func:`build_sr`."""
    dataset = dcmread(io.BytesIO(data))
    try:
        sr = hd.sr.ComprehensiveSR.from_dataset(dataset)
        content = sr.content
    except (AttributeError, ValueError, TypeError) as exc:
        raise SrError(f"not a TID 1500 measurement report: {exc}") from None
    if not isinstance(content, hd.sr.MeasurementReport):
        raise SrError("not a TID 1500 measurement report")
    endplates: dict[str, dict[str, Any]] = {}
    grading_id = ""
    for group in content.get_image_measurement_groups():
        identifier = group.tracking_identifier or ""
        endplate_id, _, grading_id = identifier.partition(" of grading ")
        endplates[endplate_id] = _entry(group)
    missing = [key for key in ENDPLATE_IDS if key not in endplates]
    if missing:
        raise SrError(f"the report has no measurement group for {', '.join(missing)}")
    person = content.get_observer_contexts(observer_type=codes.cid270.Person)
    rater = PersonName(person[0].observer_identifying_attributes.name or "").family_name if person else ""
    recorded = dt.datetime.combine(DA(str(sr.ContentDate)), TM(str(sr.ContentTime)), tzinfo=dt.UTC)
    return GradingReport(
        grading_id=grading_id,
        version=int(sr.InstanceNumber),
        rater=rater,
        endplates={key: endplates[key] for key in ENDPLATE_IDS},
        recorded_at=recorded,
        referenced_series=tuple(s.SeriesInstanceUID for s in _evidence_series(sr)),
    )


def _evidence_series(sr: Dataset) -> Sequence[Dataset]:
    return [
        s for study in sr.get("CurrentRequestedProcedureEvidenceSequence", []) for s in study.ReferencedSeriesSequence
    ]


def _entry(group: hd.sr.MeasurementsAndQualitativeEvaluations) -> dict[str, Any]:
    """One endplate's stored entry from its measurement group."""
    values = {(e.name.value, e.name.scheme_designator): e.value for e in group.get_qualitative_evaluations()}
    reason = values.get((NOT_ASSESSABLE.value, SCHEME))
    if reason is not None:
        entry: dict[str, Any] = {"not_assessable": _lookup(REASON_CODES, reason, "not-assessable reason")}
        notes = [
            item.TextValue
            for item in group[0].ContentSequence
            if item.ValueType == "TEXT" and item.ConceptNameCodeSequence[0].CodeValue == NOTE.value
        ]
        if notes:
            entry["note"] = notes[0]
        return entry
    type_code = values.get((MODIC_TYPE.value, SCHEME))
    if type_code is None:
        raise SrError("a measurement group has neither a Modic type nor a not-assessable reason")
    size_code = values.get((MODIC_SIZE.value, SCHEME))
    extension = [m.value for m in group.get_measurements(name=EXTENSION)]
    return {
        "type": _lookup(TYPE_CODES, type_code, "Modic type"),
        "size": None if size_code is None else _lookup(SIZE_CODES, size_code, "Modic size"),
        "extension_pct": float(extension[0]) if extension else None,
    }
