"""Read DICOM headers (no pixels) into :class:`grading.series.InstanceHeader` values.

Both single-frame and Enhanced multi-frame MR are read; for multi-frame images every frame becomes one
header, with IOP/IPP/spacing/TR/TE looked up at the top level, then in the per-frame functional group
of that frame, then the shared group, then per-frame item 0 (``docs/imaging.md#enhanced-mr``).

A file is accepted only when it carries the ``DICM`` preamble or a SOP Class UID (``force=True``
happily "reads" text files) and is an MR image storage object; anything else is rejected with an
:class:`~registry.imaging.errors.ImagingError` that names the file.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pydicom
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag
from pydicom.uid import UID

from grading.errors import GradingError
from grading.series import InstanceHeader, slice_normal
from registry.imaging.errors import InvalidDicomError, NotDicomError, NotMRImageError
from registry.imaging.fastheader import FastHeader, fast_value, header_value, read_fast, tag_set
from registry.imaging.pixeldata import PixelDataLayout, pixel_data_problem
from registry.imaging.window import usable_window

MR_IMAGE_STORAGE_CLASSES: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.4": "MR Image Storage",
    "1.2.840.10008.5.1.4.1.1.4.1": "Enhanced MR Image Storage",
    "1.2.840.10008.5.1.4.1.1.4.3": "Enhanced MR Color Image Storage",
    "1.2.840.10008.5.1.4.1.1.4.4": "Legacy Converted Enhanced MR Image Storage",
}
"""The SOP classes accepted: MR images, single- and multi-frame."""

UID_PATTERN = re.compile(r"^[0-9]+(\.[0-9]+)*$")
"""The UID grammar of PS3.5 §9.1 (without the leading-zero rule, which real scanners break)."""

ValueReader = Callable[[Any, str], Any]
"""How the value of an attribute (by keyword) is read from a dataset, ``None`` when missing or malformed:
:func:`~registry.imaging.fastheader.header_value` for a header the fast path read,
:func:`~registry.imaging.fastheader.fast_value` for a dataset pydicom read, or :func:`plain_value` (pydicom's
public API alone); for a query answer in the DICOM JSON model, :func:`json_value`."""


def plain_value(ds: Dataset, keyword: str) -> Any:
    """The value of the attribute ``keyword`` of ``ds`` as pydicom's public API gives it; ``None`` when it is
    missing or malformed (bad VR, bad length)."""
    try:
        return ds.get(keyword)
    except Exception:  # pydicom raises many kinds on a malformed value; every one means "missing"
        return None


def is_valid_uid(value: object) -> bool:
    """True for a string of at most 64 characters matching the UID grammar."""
    return isinstance(value, str) and 0 < len(value) <= 64 and UID_PATTERN.match(value) is not None


@dataclass(frozen=True)
class PatientIdentity:
    """The identifying data of a patient: kept only in the patients table."""

    patient_id: str
    name: str
    birth_date: dt.date | None
    sex: str


@dataclass(frozen=True)
class DicomInstance:
    """One accepted DICOM MR file: its identity, its per-frame headers and the study data it carries."""

    source: str
    sop_class_uid: str
    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    transfer_syntax_uid: str
    number_of_frames: int
    headers: tuple[InstanceHeader, ...]
    patient: PatientIdentity
    study_date: dt.date | None
    study_description: str
    window: tuple[float, float] | None

    @property
    def field_strength_t(self) -> float | None:
        """The field strength of the first frame, in tesla."""
        return self.headers[0].field_strength_t if self.headers else None


_SCALARS = (str, int, float)
"""Values that are not sequences: checked first, since a check against pydicom's MultiValue (an abstract
base class) costs a Python call and the header of every image has dozens of values."""
_SEQUENCES = (list, tuple, pydicom.multival.MultiValue)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, _SCALARS) and isinstance(value, _SEQUENCES):
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _strings(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if not isinstance(value, _SCALARS) and isinstance(value, _SEQUENCES):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(v.strip() for v in str(value).split("\\") if v.strip())


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if not isinstance(value, _SCALARS) and isinstance(value, _SEQUENCES):
        if not value:
            return None
        value = value[0]
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def _floats(value: Any, count: int) -> tuple[float, ...] | None:
    if value is None or isinstance(value, _SCALARS) or not isinstance(value, _SEQUENCES) or len(value) != count:
        return None
    numbers = []
    for item in value:
        number = _float(item)
        if number is None:
            return None
        numbers.append(number)
    return tuple(numbers)


def _int(value: Any) -> int | None:
    number = _float(value)
    return None if number is None else int(number)


def _date(value: Any) -> dt.date | None:
    text = _text(value)
    if len(text) >= 8 and text[:8].isdigit():
        try:
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
        except ValueError:
            return None
    return None


_HEADER_KEYWORDS = (
    "SpecificCharacterSet", "ImageType", "SOPClassUID", "SOPInstanceUID", "StudyDate", "Modality", "Manufacturer",
    "StudyDescription", "SeriesDescription", "ManufacturerModelName", "PatientName", "PatientID",
    "PatientBirthDate", "PatientSex", "ScanningSequence", "SequenceVariant", "SliceThickness", "RepetitionTime",
    "EchoTime", "InversionTime", "ImagingFrequency", "MagneticFieldStrength", "SpacingBetweenSlices",
    "SequenceName", "PulseSequenceName", "EchoPulseSequence", "InversionRecovery", "EchoPlanarPulseSequence",
    "AcquisitionContrast", "StudyInstanceUID", "SeriesInstanceUID", "SeriesNumber", "InstanceNumber",
    "ImagePositionPatient", "ImageOrientationPatient", "SharedFunctionalGroupsSequence",
    "PerFrameFunctionalGroupsSequence", "SamplesPerPixel", "NumberOfFrames", "Rows", "Columns", "PixelSpacing",
    "BitsAllocated", "WindowCenter", "WindowWidth",
)  # fmt: skip
"""The top-level attributes ingestion reads; the rest of the header is skipped, not parsed."""
_HEADER_TAGS = [BaseTag(tag_for_keyword(k) or 0) for k in _HEADER_KEYWORDS]
_HEADER_TAG_SET = tag_set(_HEADER_TAGS)


def _find_in_group(item: Dataset | None, keyword: str, get: ValueReader) -> Any:
    """A value in one functional group item: it sits one sequence (item 0) deep, or two for MR echo."""
    if item is None:
        return None
    for element in item:
        if element.VR != "SQ":
            continue
        for nested in element.value[:1]:
            value = get(nested, keyword)
            if value is not None:
                return value
    return None


def _lookup(
    ds: Dataset | FastHeader, get: ValueReader, frame: int = 0, shared_seq: Any = None, per_frame_seq: Any = None
) -> Callable[[str], Any]:
    """Top level, the frame's per-frame item, the shared item, then per-frame item 0."""
    if not shared_seq and not per_frame_seq:
        return lambda keyword: get(ds, keyword)
    shared = shared_seq[0] if shared_seq else None
    own = per_frame_seq[frame] if per_frame_seq and frame < len(per_frame_seq) else None
    first = per_frame_seq[0] if per_frame_seq else None

    def find(keyword: str) -> Any:
        for candidate in (get(ds, keyword), _find_in_group(own, keyword, get), _find_in_group(shared, keyword, get)):
            if candidate is not None and candidate != "":
                return candidate
        return _find_in_group(first, keyword, get)

    return find


def _scanning_sequence(find: Callable[[str], Any]) -> tuple[str, ...]:
    scanning = _strings(find("ScanningSequence"))
    if scanning:
        return scanning
    derived: list[str] = []
    pulse = _text(find("EchoPulseSequence")).upper()
    if pulse in ("SPIN", "BOTH"):
        derived.append("SE")
    if pulse in ("GRADIENT", "BOTH"):
        derived.append("GR")
    if _text(find("InversionRecovery")).upper() == "YES":
        derived.append("IR")
    if _text(find("EchoPlanarPulseSequence")).upper() == "YES":
        derived.append("EP")
    return tuple(derived)


def _headers(
    ds: Dataset, get: ValueReader, source: str, frames: int, uids: tuple[str, str, str]
) -> tuple[InstanceHeader, ...]:
    headers = []
    shared = get(ds, "SharedFunctionalGroupsSequence")
    per_frame = get(ds, "PerFrameFunctionalGroupsSequence")
    count = frames if per_frame or frames > 1 else 1
    common: dict[str, Any] = {
        "sop_class_uid": str(get(ds, "SOPClassUID") or ""),
        "modality": _text(get(ds, "Modality")),
        "series_number": _int(get(ds, "SeriesNumber")),
        "instance_number": _int(get(ds, "InstanceNumber")),
        "series_description": _text(get(ds, "SeriesDescription")),
        "rows": _int(get(ds, "Rows")),
        "columns": _int(get(ds, "Columns")),
        "magnetic_field_strength_t": _positive(_float(get(ds, "MagneticFieldStrength"))),
        "manufacturer": _text(get(ds, "Manufacturer")),
        "model_name": _text(get(ds, "ManufacturerModelName")),
    }
    for frame in range(count):
        find = _lookup(ds, get, frame, shared, per_frame)
        inversion = _float(find("InversionTime"))
        if inversion is None:
            inversion = _float(find("InversionTimes"))
        echo = _float(find("EchoTime"))
        if echo is None:
            echo = _float(find("EffectiveEchoTime"))
        image_type = _strings(get(ds, "ImageType")) or _strings(find("FrameType"))
        position = _floats(find("ImagePositionPatient"), 3)
        orientation = _floats(find("ImageOrientationPatient"), 6)
        if frame and not per_frame and position is not None and orientation is not None:
            # A multi-frame image without functional groups: frames are stacked along the normal with
            # SpacingBetweenSlices (or SliceThickness), the first at ImagePositionPatient.
            step = _positive(_float(find("SpacingBetweenSlices"))) or _positive(_float(find("SliceThickness"))) or 1.0
            try:
                normal = slice_normal(orientation)
            except GradingError:
                normal = (0.0, 0.0, 0.0)
            position = tuple(p + frame * step * n for p, n in zip(position, normal, strict=True))
        frame_source = source if count == 1 else f"{source} frame {frame + 1}"
        headers.append(
            InstanceHeader(
                source=frame_source,
                sop_instance_uid=uids[0],
                study_instance_uid=uids[1],
                series_instance_uid=uids[2],
                frame_index=frame,
                image_type=image_type,
                scanning_sequence=_scanning_sequence(find),
                sequence_variant=_strings(find("SequenceVariant")),
                sequence_name=_text(find("SequenceName") or find("PulseSequenceName")),
                acquisition_contrast=_text(find("AcquisitionContrast")),
                repetition_time_ms=_float(find("RepetitionTime")),
                echo_time_ms=echo,
                inversion_time_ms=inversion,
                image_orientation=orientation,
                image_position=position,
                pixel_spacing=_floats(find("PixelSpacing"), 2),
                slice_thickness_mm=_positive(_float(find("SliceThickness"))),
                spacing_between_slices_mm=_positive(_float(find("SpacingBetweenSlices"))),
                imaging_frequency_mhz=_positive(_float(find("ImagingFrequency"))),
                **common,
            )
        )
    return tuple(headers)


METADATA_KEYWORDS = tuple(
    keyword
    for keyword in _HEADER_KEYWORDS
    if not keyword.startswith(("Patient", "SpecificCharacterSet", "StudyDate", "StudyDescription", "Window"))
    and not keyword.endswith("FunctionalGroupsSequence")
)
"""The attributes classification reads, to ask an archive for by query (QIDO-RS ``includefield``, C-FIND
return keys) so that series are classified before any pixel data moves; no patient attribute."""


def _uids(ds: Any, get: ValueReader, source: str) -> tuple[str, str, str]:
    """SOP Instance, Study Instance and Series Instance UIDs; :class:`InvalidDicomError` when one is not a UID."""
    uids = []
    for keyword in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
        value = str(get(ds, keyword) or "").strip()
        if not is_valid_uid(value):
            raise InvalidDicomError(source, f"{keyword} {value!r} is missing or not a valid UID")
        uids.append(value)
    return uids[0], uids[1], uids[2]


def _frame_headers(ds: Any, get: ValueReader, source: str, uids: tuple[str, str, str]) -> tuple[InstanceHeader, ...]:
    """One header per frame; :class:`InvalidDicomError` when a value is out of its domain."""
    frames = max(1, _int(get(ds, "NumberOfFrames")) or 1)
    try:
        return _headers(ds, get, source, frames, uids)
    except GradingError as exc:
        raise InvalidDicomError(source, str(exc)) from None


def headers_from_metadata(ds: Any, source: str, get: ValueReader = fast_value) -> tuple[InstanceHeader, ...]:
    """The classification headers of one instance described by a query answer (a C-FIND identifier, read
    with :func:`fast_value`, or a QIDO-RS answer in the DICOM JSON model, read with :func:`json_value`):
    the same reading as for a file; :class:`InvalidDicomError` names ``source`` when a UID is missing."""
    return _frame_headers(ds, get, source, _uids(ds, get, source))


_JSON_TAGS: dict[str, str] = {}


def json_value(item: Mapping[str, Any], keyword: str) -> Any:
    """The value of the attribute ``keyword`` in a dataset of the DICOM JSON model (PS3.18 §F.2, a QIDO-RS
    answer), as :func:`fast_value` gives it for a dataset read from a file: one value as it is, several as
    a list, a person name as its alphabetic form; ``None`` when it is missing, empty or not a value
    (bulk data, a sequence)."""
    tag = _JSON_TAGS.get(keyword)
    if tag is None:
        number = tag_for_keyword(keyword)
        if number is None:
            return None
        tag = _JSON_TAGS[keyword] = f"{number:08X}"
    element = item.get(tag)
    if not isinstance(element, Mapping):
        return None
    values = element.get("Value")
    if not isinstance(values, list) or not values or element.get("vr") == "SQ":
        return None
    if element.get("vr") == "PN":
        values = [v.get("Alphabetic", "") if isinstance(v, Mapping) else v for v in values]
    return values[0] if len(values) == 1 else values


def _positive(value: float | None) -> float | None:
    return value if value is not None and value > 0 else None


def _transfer_syntax(ds: Dataset | FastHeader, get: ValueReader) -> str:
    """The transfer syntax of the file meta, as text (implicit VR little endian when missing)."""
    meta = ds.file_meta
    element = get(meta, "TransferSyntaxUID") if meta is not None else None
    return str(element or "1.2.840.10008.1.2").strip()


def _pixel_layout(ds: Dataset | FastHeader, get: ValueReader) -> PixelDataLayout:
    implicit, little = ds.original_encoding
    return PixelDataLayout(
        transfer_syntax_uid=_transfer_syntax(ds, get),
        implicit_vr=implicit,
        little_endian=little,
        frames=_int(get(ds, "NumberOfFrames")) or 1,
        rows=_int(get(ds, "Rows")) or 0,
        columns=_int(get(ds, "Columns")) or 0,
        samples_per_pixel=_int(get(ds, "SamplesPerPixel")) or 1,
        bits_allocated=_int(get(ds, "BitsAllocated")) or 16,
    )


def read_dicom(data: bytes | Path, source: str, *, head: bytes | None = None) -> DicomInstance:
    """Parse the header of a DICOM file held in memory or on disk (pixels are left alone), through the
    fast path of :mod:`registry.imaging.fastheader` when it can, through pydicom otherwise.

    Raises :class:`NotDicomError`, :class:`NotMRImageError` or :class:`InvalidDicomError`, each naming
    ``source`` and the reason. ``head``, when given, holds the first :data:`HEAD_BYTES` bytes of a file on
    disk (or more), already read by the caller.
    """
    if isinstance(data, Path):
        with data.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if head is None or (len(head) < HEAD_BYTES and len(head) < size):
                head = handle.read(HEAD_BYTES)
            fast = _read_fast(head, size, source, handle)
            if fast is not None:
                return fast
            handle.seek(0)
            return _read_with_pydicom(handle, size, source, fast_value)
    return _read_fast(data, len(data), source) or _read_with_pydicom(io.BytesIO(data), len(data), source, fast_value)


HEAD_BYTES = 1 << 16
"""How much of a file on disk the fast reader looks at; longer headers go to pydicom."""


def _read_fast(head: bytes, size: int, source: str, handle: BinaryIO | None = None) -> DicomInstance | None:
    """The instance through :mod:`registry.imaging.fastheader`, or ``None`` when pydicom must read it.

    ``handle`` is the open file when ``head`` is only its beginning (the pixel data is checked in it).
    """
    found = read_fast(head, _HEADER_TAG_SET)
    if found is None:
        return None
    header, pixel_offset = found
    if len(head) < size and pixel_offset + 12 > len(head):
        return None  # the header goes on beyond the part that was read
    fp = handle if handle is not None and len(head) < size else io.BytesIO(head)
    fp.seek(pixel_offset)
    return _instance(header, header_value, fp, size, source, has_preamble=True)


def read_dicom_with_pydicom(data: bytes, source: str) -> DicomInstance:
    """:func:`read_dicom` through pydicom and its public API alone, no fast path: the reference the fast
    path is tested against (``tests/registry/test_imaging_readers.py``)."""
    return _read_with_pydicom(io.BytesIO(data), len(data), source, plain_value)


def _read_with_pydicom(fp: BinaryIO, size: int, source: str, get: ValueReader) -> DicomInstance:
    preamble = fp.read(132)
    fp.seek(0)
    has_preamble = len(preamble) == 132 and preamble[128:132] == b"DICM"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(fp, stop_before_pixels=True, force=True, specific_tags=_HEADER_TAGS)
    except Exception as exc:  # pydicom raises many kinds on garbage input; every one means "unreadable"
        raise NotDicomError(source, f"not a readable DICOM file ({type(exc).__name__}: {exc})") from None
    return _instance(ds, get, fp, size, source, has_preamble=has_preamble)


def _instance(
    ds: Dataset | FastHeader, get: ValueReader, fp: BinaryIO, size: int, source: str, *, has_preamble: bool
) -> DicomInstance:
    """The acceptance rules: check the header read into ``ds`` (``fp`` at the pixel data) and turn it into
    an instance."""
    sop_class = str(get(ds, "SOPClassUID") or ds.file_meta.get("MediaStorageSOPClassUID", "") or "")
    if not has_preamble and not sop_class:
        raise NotDicomError(source, "not a DICOM file (no DICM preamble and no SOP Class UID)")
    if not sop_class:
        raise NotDicomError(source, "DICOM file without a SOP Class UID")
    modality = _text(get(ds, "Modality"))
    if sop_class not in MR_IMAGE_STORAGE_CLASSES:
        name = UID(sop_class).name if is_valid_uid(sop_class) else repr(sop_class)
        raise NotMRImageError(
            source,
            f"not an MR image (SOP class {name}, modality {modality or 'missing'}); only MR image storage is accepted",
        )
    if modality and modality != "MR":
        raise NotMRImageError(source, f"not an MR image (modality {modality})")
    uids = _uids(ds, get, source)
    rows, columns = _int(get(ds, "Rows")), _int(get(ds, "Columns"))
    if not rows or not columns:
        raise InvalidDicomError(source, f"image matrix missing (Rows {rows!r}, Columns {columns!r})")
    layout = _pixel_layout(ds, get)
    problem = pixel_data_problem(fp, size, layout)
    if problem:
        raise InvalidDicomError(source, problem)
    return DicomInstance(
        source=source,
        sop_class_uid=sop_class,
        sop_instance_uid=uids[0],
        study_instance_uid=uids[1],
        series_instance_uid=uids[2],
        transfer_syntax_uid=layout.transfer_syntax_uid,
        number_of_frames=max(1, layout.frames),
        headers=_frame_headers(ds, get, source, uids),
        patient=PatientIdentity(
            patient_id=_text(get(ds, "PatientID")),
            name=_text(get(ds, "PatientName")),
            birth_date=_date(get(ds, "PatientBirthDate")),
            sex=_text(get(ds, "PatientSex")),
        ),
        study_date=_date(get(ds, "StudyDate")),
        study_description=_text(get(ds, "StudyDescription")),
        window=_window(ds, get),
    )


def _window(ds: Dataset | FastHeader, get: ValueReader) -> tuple[float, float] | None:
    shared, per_frame = get(ds, "SharedFunctionalGroupsSequence"), get(ds, "PerFrameFunctionalGroupsSequence")
    find = _lookup(ds, get, 0, shared, per_frame)
    return usable_window(_float(find("WindowCenter")), _float(find("WindowWidth")))
