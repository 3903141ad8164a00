"""Shared helpers of the imaging tests: the sample studies, their ground truth, and the broken variants
of ``docs/imaging.md#broken-variants`` built from them in a temporary folder."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, generate_uid

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = ROOT / "sample_dicom"
SAMPLE_STUDIES = sorted(p for p in SAMPLE_DIR.iterdir() if (p / "ground_truth.json").is_file())


def ground_truth(study_dir: Path) -> dict[str, Any]:
    """The ground truth written by ``sample_dicom/generate.py``."""
    data: dict[str, Any] = json.loads((study_dir / "ground_truth.json").read_text())
    return data


def series_dir(study_dir: Path, role: str) -> Path:
    """The folder of the series with this role (``t1``, ``t2``, ``stir``, ``localizer``, ``axial_t2``)."""
    truth = ground_truth(study_dir)
    number = next(s["series_number"] for s in truth["series"] if s["role"] == role)
    return next(study_dir.glob(f"s{number:02d}_*"))


def sample_files(study_dir: Path) -> list[Path]:
    """Every DICOM file of a sample study, in name order."""
    return sorted(study_dir.rglob("*.dcm"))


def copy_study(study_dir: Path, target: Path) -> Path:
    """A private copy of a sample study to break."""
    shutil.copytree(study_dir, target)
    return target


def new_uid(*names: object) -> str:
    """A deterministic UID for test-made instances."""
    return generate_uid(entropy_srcs=["modic-test", *(str(n) for n in names)])


def rewrite(path: Path, change: Any) -> None:
    """Apply ``change(dataset)`` to a file in place."""
    ds = pydicom.dcmread(path)
    change(ds)
    ds.save_as(path, enforce_file_format=True)


def tilt(ds: Dataset, degrees: float = 5.0) -> None:
    """Rotate the slice normal of a sagittal slice by ``degrees`` about z."""
    a = math.radians(degrees)
    ds.ImageOrientationPatient = [f"{math.sin(a):.6f}", f"{math.cos(a):.6f}", "0", "0", "0", "-1"]


def as_field_strength(ds: Dataset, tesla: float = 1.5) -> None:
    """Make an image look as if acquired at another field strength."""
    ds.MagneticFieldStrength = f"{tesla:g}"
    ds.ImagingFrequency = f"{tesla * 42.577:.4f}"


def transcode(path: Path, target: Path, syntax: str) -> Path:
    """A copy of ``path`` in another transfer syntax (uncompressed or JPEG 2000 lossless)."""
    ds = pydicom.dcmread(path)
    ds.decompress(generate_instance_uid=False)
    if syntax == JPEG2000Lossless:
        ds.compress(JPEG2000Lossless, generate_instance_uid=False)
    elif syntax != ExplicitVRLittleEndian:
        raise ValueError(f"unsupported target syntax {syntax}")
    ds.save_as(target, enforce_file_format=True)
    return target


def enhanced_copy(series_folder: Path, target: Path) -> Path:
    """The series as one Legacy Converted Enhanced MR image (highdicom)."""
    from highdicom.legacy import LegacyConvertedEnhancedMRImage

    datasets = [pydicom.dcmread(p) for p in sorted(series_folder.glob("*.dcm"))]
    for ds in datasets:
        ds.decompress(generate_instance_uid=False)
    image = LegacyConvertedEnhancedMRImage(
        legacy_datasets=datasets,
        series_instance_uid=new_uid("enhanced-series", series_folder.name),
        series_number=99,
        sop_instance_uid=new_uid("enhanced", series_folder.name),
        instance_number=1,
    )
    image.save_as(target)
    return target


def dcmtk(tool: str) -> str | None:
    """The path of a dcmtk tool (``storescu``, ``echoscu``): pynetdicom installs commands of the same name."""
    for folder in [*os.environ.get("PATH", "").split(os.pathsep), "/usr/bin"]:
        candidate = Path(folder) / tool
        if candidate.is_file() and os.access(candidate, os.X_OK):
            try:
                out = subprocess.run([str(candidate), "--version"], capture_output=True, text=True, timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if "dcmtk" in (out.stdout + out.stderr).lower():
                return str(candidate)
    return None
