"""NIfTI volumes (nibabel) turned into MR Image Storage instances, with study data from the caller.

A NIfTI file carries no patient, date or sequence parameters, so the caller supplies the patient id,
the study date and the weighting (``modic ingest --patient-id --study-date --weighting``). The volume
becomes one DICOM series whose slices run along the third voxel axis; the affine (RAS) is turned into
ImageOrientationPatient/ImagePositionPatient (LPS), and the weighting is written as Enhanced MR
AcquisitionContrast, the third rule of the weighting order in ``docs/imaging.md#weighting``. UIDs are
derived from the file's content, so ingesting the same file again is idempotent.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_ROOT_UID, UID, ExplicitVRLittleEndian, MRImageStorage, generate_uid

from registry.imaging.errors import NiftiError

if TYPE_CHECKING:
    import nibabel

NIFTI_WEIGHTINGS = ("T1", "T2")
"""The weightings a NIfTI volume may be declared as: the two grading contrasts."""

MAX_NIFTI_BYTES = 2 << 30


@dataclass(frozen=True)
class NiftiMetadata:
    """What the caller knows about a NIfTI volume."""

    patient_id: str
    study_date: dt.date
    weighting: str

    def __post_init__(self) -> None:
        if not self.patient_id.strip():
            raise ValueError("patient id is required for NIfTI files (--patient-id)")
        if self.weighting not in NIFTI_WEIGHTINGS:
            raise ValueError(f"weighting {self.weighting!r} is not allowed; allowed: {', '.join(NIFTI_WEIGHTINGS)}")


def looks_like_nifti(name: str, data: bytes) -> bool:
    """True for ``.nii``/``.nii.gz`` names or a NIfTI-1/2 header (sizeof_hdr 348 or 540)."""
    lowered = name.lower()
    if lowered.endswith((".nii", ".nii.gz")):
        return True
    return len(data) >= 348 and int.from_bytes(data[:4], "little") in (348, 540) and data[344:347] in (b"n+1", b"n+2")


def _uid(*names: object) -> str:
    return generate_uid(PYDICOM_ROOT_UID, ["modic-nifti", *(str(n) for n in names)])


def _load(data: bytes, source: str) -> nibabel.spatialimages.SpatialImage:
    import nibabel  # only when a NIfTI file comes: it takes long to import

    if data[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
                data = stream.read(MAX_NIFTI_BYTES + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise NiftiError(source, f"not a readable gzip file ({exc})") from None
        if len(data) > MAX_NIFTI_BYTES:
            raise NiftiError(source, f"more than {MAX_NIFTI_BYTES} bytes uncompressed")
    if len(data) < 348:
        raise NiftiError(source, "too short for a NIfTI header")
    sizeof_hdr = int.from_bytes(data[:4], "little")
    if sizeof_hdr not in (348, 540):
        sizeof_hdr = int.from_bytes(data[:4], "big")
    image_class = {348: nibabel.Nifti1Image, 540: nibabel.Nifti2Image}.get(sizeof_hdr)
    if image_class is None:
        raise NiftiError(source, "not a NIfTI-1 or NIfTI-2 file")
    try:
        return image_class.from_bytes(data)
    except Exception as exc:  # nibabel raises several kinds on bad headers
        raise NiftiError(source, f"not a readable single-file NIfTI image ({type(exc).__name__}: {exc})") from None


def _pixels(volume: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], int]:
    """The volume as uint16 or int16 (value kept when integral and in range, else scaled to 12 bits)."""
    finite = np.nan_to_num(volume.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(finite.min()), float(finite.max())
    integral = bool(np.all(finite == np.round(finite)))
    if integral and low >= 0 and high <= 65535:
        return finite.astype(np.uint16), 0
    if integral and low >= -32768 and high <= 32767:
        return finite.astype(np.int16), 1
    span = high - low if high > low else 1.0
    return np.round((finite - low) / span * 4095).astype(np.uint16), 0


def nifti_to_dicom(data: bytes, source: str, metadata: NiftiMetadata) -> list[tuple[str, bytes]]:
    """Convert a NIfTI volume to MR Image Storage files: ``[(name for messages, bytes), ...]``."""
    image = _load(data, source)
    try:
        volume = np.asanyarray(image.dataobj)
    except Exception as exc:  # truncated data, unsupported data type
        raise NiftiError(source, f"image data cannot be read ({type(exc).__name__}: {exc})") from None
    while volume.ndim > 3 and volume.shape[-1] == 1:
        volume = volume[..., 0]
    if volume.ndim == 4:
        volume = volume[..., 0]
    if volume.ndim == 2:
        volume = volume[..., None]
    if volume.ndim != 3 or min(volume.shape) < 1:
        raise NiftiError(source, f"expected a 3-D volume, got shape {volume.shape}")
    if np.iscomplexobj(volume) or volume.dtype.fields is not None:
        raise NiftiError(source, f"data type {volume.dtype} is not a scalar image")
    affine = np.asarray(image.affine, dtype=float)
    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine
    axes = lps[:3, :3]
    spacing = np.linalg.norm(axes, axis=0)
    if not np.all(np.isfinite(axes)) or np.any(spacing <= 0):
        raise NiftiError(source, "the affine has a zero or non-finite voxel axis")
    row_dir, col_dir = axes[:, 0] / spacing[0], axes[:, 1] / spacing[1]
    pixels, signed = _pixels(volume)
    digest = hashlib.sha256(data).hexdigest()
    study_uid = _uid("study", metadata.patient_id, metadata.study_date.isoformat())
    series_uid = _uid("series", digest, metadata.weighting)
    stem = source.rsplit("/", 1)[-1]
    description = f"nifti {metadata.weighting} {stem}"[:64]
    out: list[tuple[str, bytes]] = []
    for k in range(pixels.shape[2]):
        position = lps[:3, :3] @ np.array([0.0, 0.0, float(k)]) + lps[:3, 3]
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
        sop_uid: str = _uid("instance", digest, metadata.weighting, k)
        ds.file_meta.MediaStorageSOPInstanceUID = UID(sop_uid)
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = sop_uid
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = _uid("frame-of-reference", digest)
        ds.Modality = "MR"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "NIFTI"]
        ds.PatientID = metadata.patient_id
        ds.PatientName = ""
        ds.StudyDate = metadata.study_date.strftime("%Y%m%d")
        ds.SeriesDescription = description
        ds.SeriesNumber = 1000 + int(digest[:4], 16) % 1000
        ds.InstanceNumber = k + 1
        ds.AcquisitionContrast = metadata.weighting
        ds.ImageOrientationPatient = [f"{v:.6f}" for v in (*row_dir, *col_dir)]
        ds.ImagePositionPatient = [f"{v:.4f}" for v in position]
        ds.PixelSpacing = [f"{spacing[1]:.6f}", f"{spacing[0]:.6f}"]
        ds.SliceThickness = f"{spacing[2]:.6f}"
        ds.SpacingBetweenSlices = f"{spacing[2]:.6f}"
        slice_pixels = np.ascontiguousarray(pixels[:, :, k].T)
        ds.Rows, ds.Columns = slice_pixels.shape
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = signed
        ds.PixelData = slice_pixels.tobytes()
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        out.append((f"{source} slice {k + 1}", buffer.getvalue()))
    return out
