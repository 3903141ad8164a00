"""The demo loader: the synthetic 0.2 T phantom studies of ``sample_dicom/`` ingested for ``modic serve --demo``."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from grading.field_strength import DEFAULT_FIELD_STRENGTH_T
from registry.imaging.sources import iter_paths
from registry.imaging.store import ImageStore
from registry.models import User
from registry.services.imaging import ingest_files

SAMPLE_DICOM_DIR = Path(__file__).resolve().parents[2] / "sample_dicom"
"""The synthetic 0.2 T phantom studies shipped with the project (``sample_dicom/generate.py``)."""


def ingest_sample_studies(
    session: Session,
    store: ImageStore,
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
