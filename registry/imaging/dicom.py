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
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pydicom
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag
from pydicom.uid import UID

from grading.errors import GradingError
from grading.series import InstanceHeader, slice_normal
from registry.imaging.errors import InvalidDicomError, NotDicomError, NotMRImageError
from registry.imaging.fastheader import read_fast
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

_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)


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


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _strings(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(v.strip() for v in str(value).split("\\") if v.strip())


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        if not value:
            return None
        value = value[0]
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def _floats(value: Any, count: int) -> tuple[float, ...] | None:
    if value is None or not isinstance(value, (list, tuple, pydicom.multival.MultiValue)) or len(value) != count:
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


_ASCII_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "IS", "TM", "UI"})
"""Value representations whose characters are ASCII by definition: decoded here without pydicom's hooks."""
_TEXT_VRS = frozenset({"LO", "SH", "PN", "ST", "LT", "UC", "UT"})
"""Text that depends on the character set, decoded here only when it is plain ASCII (no escape sequences)."""
_BINARY_VRS = {"US": "H", "SS": "h", "UL": "I", "SL": "i"}
_NO_FAST_PATH = object()


def _fast_raw(ds: Dataset, element: RawDataElement) -> Any:
    """The value of a raw element of a common VR, decoded directly (a large share of ingest time otherwise)."""
    vr = element.VR
    if vr is None:
        try:
            vr = dictionary_VR(element.tag)
        except KeyError:
            return _NO_FAST_PATH
    raw = element.value
    if raw is None or len(raw) == 0:
        return ""
    if vr in _TEXT_VRS and raw.isascii() and b"\x1b" not in raw:
        text = raw.decode("ascii").rstrip("\x00 ").strip()
        if vr in ("LO", "SH", "PN") and "\\" in text:
            return [part.strip() for part in text.split("\\")]
        return text
    if vr in _ASCII_VRS:
        text = raw.decode("ascii", "replace").rstrip("\x00 ").strip()
        if "\\" in text:
            return [part.strip() for part in text.split("\\")]
        return text
    code = _BINARY_VRS.get(vr)
    if code is not None:
        size = struct.calcsize(code)
        if len(raw) % size:
            return _NO_FAST_PATH
        little = ds.original_encoding[1] is not False
        values = struct.unpack(("<" if little else ">") + code * (len(raw) // size), raw)
        return values[0] if len(values) == 1 else list(values)
    return _NO_FAST_PATH


def _get(ds: Dataset, keyword: str) -> Any:
    tag = _TAGS.get(keyword)
    if tag is None:
        number = tag_for_keyword(keyword)
        if number is None:
            return None
        tag = _TAGS[keyword] = BaseTag(number)
    try:
        # The element as stored (raw until first accessed); Dataset.get_item without its tag conversions.
        element = ds._dict.get(tag)
    except Exception:  # a malformed element counts as missing
        return None
    if element is None:
        return None
    if isinstance(element, RawDataElement):
        value = _fast_raw(ds, element)
        if value is not _NO_FAST_PATH:
            return value
        try:
            return ds[tag].value
        except Exception:  # a malformed value (bad VR, bad length) counts as missing
            return None
    return element.value


_TAGS: dict[str, BaseTag] = {}

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


def _find_in_group(item: Dataset | None, keyword: str) -> Any:
    """A value in one functional group item: it sits one sequence (item 0) deep, or two for MR echo."""
    if item is None:
        return None
    for element in item:
        if element.VR != "SQ":
            continue
        for nested in element.value[:1]:
            value = _get(nested, keyword)
            if value is not None:
                return value
    return None


def _lookup(ds: Dataset, frame: int, shared_seq: Any = None, per_frame_seq: Any = None) -> Callable[[str], Any]:
    """Top level, the frame's per-frame item, the shared item, then per-frame item 0."""
    if not shared_seq and not per_frame_seq:
        return lambda keyword: _get(ds, keyword)
    shared = shared_seq[0] if shared_seq else None
    own = per_frame_seq[frame] if per_frame_seq and frame < len(per_frame_seq) else None
    first = per_frame_seq[0] if per_frame_seq else None

    def find(keyword: str) -> Any:
        for candidate in (_get(ds, keyword), _find_in_group(own, keyword), _find_in_group(shared, keyword)):
            if candidate is not None and candidate != "":
                return candidate
        return _find_in_group(first, keyword)

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


def _headers(ds: Dataset, source: str, frames: int, uids: tuple[str, str, str]) -> tuple[InstanceHeader, ...]:
    headers = []
    shared = _get(ds, "SharedFunctionalGroupsSequence")
    per_frame = _get(ds, "PerFrameFunctionalGroupsSequence")
    count = frames if per_frame or frames > 1 else 1
    common: dict[str, Any] = {
        "sop_class_uid": str(_get(ds, "SOPClassUID") or ""),
        "modality": _text(_get(ds, "Modality")),
        "series_number": _int(_get(ds, "SeriesNumber")),
        "instance_number": _int(_get(ds, "InstanceNumber")),
        "series_description": _text(_get(ds, "SeriesDescription")),
        "rows": _int(_get(ds, "Rows")),
        "columns": _int(_get(ds, "Columns")),
        "magnetic_field_strength_t": _positive(_float(_get(ds, "MagneticFieldStrength"))),
        "manufacturer": _text(_get(ds, "Manufacturer")),
        "model_name": _text(_get(ds, "ManufacturerModelName")),
    }
    for frame in range(count):
        find = _lookup(ds, frame, shared, per_frame)
        inversion = _float(find("InversionTime"))
        if inversion is None:
            inversion = _float(find("InversionTimes"))
        echo = _float(find("EchoTime"))
        if echo is None:
            echo = _float(find("EffectiveEchoTime"))
        image_type = _strings(_get(ds, "ImageType")) or _strings(find("FrameType"))
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


def headers_from_metadata(ds: Dataset, source: str) -> tuple[InstanceHeader, ...]:
    """The classification headers of one instance described by a query answer (QIDO-RS JSON turned into a
    dataset, or a C-FIND identifier): the same reading as for a file; :class:`InvalidDicomError` names
    ``source`` when a UID is missing."""
    uids = []
    for keyword in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
        value = str(_get(ds, keyword) or "").strip()
        if not is_valid_uid(value):
            raise InvalidDicomError(source, f"{keyword} {value!r} is missing or not a valid UID")
        uids.append(value)
    frames = max(1, _int(_get(ds, "NumberOfFrames")) or 1)
    try:
        return _headers(ds, source, frames, (uids[0], uids[1], uids[2]))
    except GradingError as exc:
        raise InvalidDicomError(source, str(exc)) from None


def _positive(value: float | None) -> float | None:
    return value if value is not None and value > 0 else None


_NATIVE_SYNTAXES = frozenset(
    {
        pydicom.uid.ImplicitVRLittleEndian,
        pydicom.uid.ExplicitVRLittleEndian,
        pydicom.uid.ExplicitVRBigEndian,
    }
)


def _transfer_syntax(ds: Dataset) -> str:
    """The transfer syntax of the file meta, as text (implicit VR little endian when missing)."""
    meta = ds.file_meta
    element = meta.get("TransferSyntaxUID") if meta is not None else None
    return str(element or "1.2.840.10008.1.2").strip()


def _pixel_problem(fp: BinaryIO, ds: Dataset, size: int) -> str | None:
    """Check cheaply, without decoding, that pixel data exists and is not cut short (native syntaxes)."""
    transfer_syntax = _transfer_syntax(ds)
    if transfer_syntax == pydicom.uid.DeflatedExplicitVRLittleEndian:
        return None
    start = fp.tell()
    head = fp.read(12)
    if len(head) < 8:
        return "no pixel data"
    implicit, little = ds.original_encoding
    if implicit is None or little is None:
        implicit, little = transfer_syntax == pydicom.uid.ImplicitVRLittleEndian, True
    group, element = struct.unpack("<HH" if little else ">HH", head[:4])
    if (group << 16 | element) not in _PIXEL_TAGS:
        return "no pixel data"
    if not implicit:
        length = struct.unpack("<I" if little else ">I", head[8:12])[0]
        value_start = start + 12
    else:
        length = struct.unpack("<I", head[4:8])[0]
        value_start = start + 8
    frames = _int(_get(ds, "NumberOfFrames")) or 1
    if length == 0xFFFFFFFF:
        return _fragments_problem(fp, value_start, size, frames)
    if value_start + length > size:
        return f"pixel data cut short: {size - value_start} of {length} bytes present"
    if transfer_syntax in _NATIVE_SYNTAXES:
        rows, columns = _int(_get(ds, "Rows")) or 0, _int(_get(ds, "Columns")) or 0
        samples = _int(_get(ds, "SamplesPerPixel")) or 1
        bits = _int(_get(ds, "BitsAllocated")) or 16
        needed = rows * columns * samples * frames * bits // 8
        if length < needed:
            return f"pixel data too short: {length} bytes for {frames} frame(s) of {rows}x{columns} needing {needed}"
    return None


def _fragments_problem(fp: BinaryIO, position: int, size: int, frames: int) -> str | None:
    """Walk the items of encapsulated pixel data (offset table, fragments, delimiter) by their lengths:
    a file cut short, a malformed item or fewer fragments than frames is a problem."""
    items = 0
    while True:
        fp.seek(position)
        item = fp.read(8)
        if len(item) < 8:
            return "pixel data cut short: its fragments end without the sequence delimiter"
        group, element, length = struct.unpack("<HHI", item)
        if (group, element) == (0xFFFE, 0xE0DD):
            break
        if (group, element) != (0xFFFE, 0xE000):
            return f"pixel data malformed: ({group:04X},{element:04X}) where a fragment item was expected"
        position += 8 + length
        items += 1
        if position > size:
            return f"pixel data cut short: a fragment of {length} bytes runs past the end of the file"
    if items - 1 < frames:
        return f"pixel data has {max(0, items - 1)} fragment(s) for {frames} frame(s)"
    return None


def read_dicom(data: bytes | Path, source: str, *, head: bytes | None = None) -> DicomInstance:
    """Parse the header of a DICOM file held in memory or on disk (pixels are left alone).

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
            return _read(handle, size, source)
    return _read_fast(data, len(data), source) or _read(io.BytesIO(data), len(data), source)


HEAD_BYTES = 1 << 16
"""How much of a file on disk the fast reader looks at; longer headers go to pydicom."""


def _read_fast(head: bytes, size: int, source: str, handle: BinaryIO | None = None) -> DicomInstance | None:
    """The instance through :mod:`registry.imaging.fastheader`, or ``None`` when pydicom must read it.

    ``handle`` is the open file when ``head`` is only its beginning (the pixel data is checked in it).
    """
    found = read_fast(head, _HEADER_TAGS)
    if found is None:
        return None
    ds, pixel_offset = found
    if len(head) < size and pixel_offset + 12 > len(head):
        return None  # the header goes on beyond the part that was read
    fp = handle if handle is not None and len(head) < size else io.BytesIO(head)
    fp.seek(pixel_offset)
    return _instance(ds, fp, size, source, has_preamble=True)


def read_dicom_with_pydicom(data: bytes, source: str) -> DicomInstance:
    """:func:`read_dicom` without the fast path (to compare the two)."""
    return _read(io.BytesIO(data), len(data), source)


def _read(fp: BinaryIO, size: int, source: str) -> DicomInstance:
    preamble = fp.read(132)
    fp.seek(0)
    has_preamble = len(preamble) == 132 and preamble[128:132] == b"DICM"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(fp, stop_before_pixels=True, force=True, specific_tags=_HEADER_TAGS)
    except Exception as exc:  # pydicom raises many kinds on garbage input; every one means "unreadable"
        raise NotDicomError(source, f"not a readable DICOM file ({type(exc).__name__}: {exc})") from None
    return _instance(ds, fp, size, source, has_preamble=has_preamble)


def _instance(ds: Dataset, fp: BinaryIO, size: int, source: str, *, has_preamble: bool) -> DicomInstance:
    """Check the header read into ``ds`` (``fp`` at the pixel data) and turn it into an instance."""
    sop_class = str(_get(ds, "SOPClassUID") or ds.file_meta.get("MediaStorageSOPClassUID", "") or "")
    if not has_preamble and not sop_class:
        raise NotDicomError(source, "not a DICOM file (no DICM preamble and no SOP Class UID)")
    if not sop_class:
        raise NotDicomError(source, "DICOM file without a SOP Class UID")
    modality = _text(_get(ds, "Modality"))
    if sop_class not in MR_IMAGE_STORAGE_CLASSES:
        name = UID(sop_class).name if is_valid_uid(sop_class) else repr(sop_class)
        raise NotMRImageError(
            source,
            f"not an MR image (SOP class {name}, modality {modality or 'missing'}); only MR image storage is accepted",
        )
    if modality and modality != "MR":
        raise NotMRImageError(source, f"not an MR image (modality {modality})")
    uids = []
    for keyword in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
        value = str(_get(ds, keyword) or "").strip()
        if not is_valid_uid(value):
            raise InvalidDicomError(source, f"{keyword} {value!r} is missing or not a valid UID")
        uids.append(value)
    rows, columns = _int(_get(ds, "Rows")), _int(_get(ds, "Columns"))
    if not rows or not columns:
        raise InvalidDicomError(source, f"image matrix missing (Rows {rows!r}, Columns {columns!r})")
    problem = _pixel_problem(fp, ds, size)
    if problem:
        raise InvalidDicomError(source, problem)
    frames = _int(_get(ds, "NumberOfFrames")) or 1
    try:
        headers = _headers(ds, source, max(1, frames), (uids[0], uids[1], uids[2]))
    except GradingError as exc:
        raise InvalidDicomError(source, str(exc)) from None
    window = _window(ds)
    transfer_syntax = _transfer_syntax(ds)
    return DicomInstance(
        source=source,
        sop_class_uid=sop_class,
        sop_instance_uid=uids[0],
        study_instance_uid=uids[1],
        series_instance_uid=uids[2],
        transfer_syntax_uid=transfer_syntax,
        number_of_frames=max(1, frames),
        headers=headers,
        patient=PatientIdentity(
            patient_id=_text(_get(ds, "PatientID")),
            name=_text(_get(ds, "PatientName")),
            birth_date=_date(_get(ds, "PatientBirthDate")),
            sex=_text(_get(ds, "PatientSex")),
        ),
        study_date=_date(_get(ds, "StudyDate")),
        study_description=_text(_get(ds, "StudyDescription")),
        window=window,
    )


def _window(ds: Dataset) -> tuple[float, float] | None:
    find = _lookup(ds, 0, _get(ds, "SharedFunctionalGroupsSequence"), _get(ds, "PerFrameFunctionalGroupsSequence"))
    return usable_window(_float(find("WindowCenter")), _float(find("WindowWidth")))
