"""Moving a site's images from the data directory into a DICOM archive (``modic store migrate``).

Every image the registry knows (its instances table: SOP, series and study UIDs) is copied series by
series: the archive is asked which of the series' instances it already holds (QIDO-RS), only the others
are read from the data directory and stored (STOW-RS, a few per request), and the series is asked for
again to verify that every instance arrived. Running it again after an interruption copies only what is
still missing; a run that copies nothing and verifies everything confirms a finished migration. The data
directory is only read. See docs/imaging.md#moving-a-site-to-an-archive.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import col, select

from registry.db import session_scope
from registry.imaging.dicomweb_store import DicomwebStore
from registry.imaging.store import FileStore
from registry.models import Instance, Study

STOW_BATCH = 16
"""Instances per STOW-RS request."""


@dataclass
class MigrationReport:
    """What one run did: series and instances seen, copied, already there; what could not be verified."""

    series: int = 0
    instances: int = 0
    copied: int = 0
    already_there: int = 0
    missing_locally: list[str] = field(default_factory=list)
    """Instances the registry lists that are neither in the data directory nor in the archive."""
    unverified: list[str] = field(default_factory=list)
    """Instances stored in this run that the archive did not list afterwards."""

    @property
    def verified(self) -> bool:
        """Every instance of the registry is in the archive."""
        return not self.missing_locally and not self.unverified

    def summary(self) -> str:
        state = "verified" if self.verified else "NOT verified"
        return (
            f"{self.series} series, {self.instances} instances: {self.copied} copied, "
            f"{self.already_there} already in the archive, {len(self.missing_locally)} missing from the data "
            f"directory, {len(self.unverified)} not found after storing; {state}"
        )


def registry_series(engine: Engine) -> dict[tuple[str, str], set[str]]:
    """Every (study UID, series UID) of the registry with its SOP Instance UIDs."""
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    with session_scope(engine) as session:
        rows = session.execute(
            select(Study.study_instance_uid, Instance.sop_instance_uid, Instance.header)
            .join(Study, col(Study.id) == col(Instance.study_id))
            .order_by(col(Study.study_instance_uid))
        ).all()
    for study_uid, sop_uid, header in rows:
        found[(study_uid, str(header.get("series_instance_uid", "")))].add(sop_uid)
    return found


def migrate_to_archive(
    engine: Engine,
    source: FileStore,
    target: DicomwebStore,
    *,
    progress: Callable[[str], None] | None = None,
) -> MigrationReport:
    """Copy every image of the registry from ``source`` to ``target`` and verify it (see the module)."""
    report = MigrationReport()
    for (study_uid, series_uid), wanted in registry_series(engine).items():
        report.series += 1
        report.instances += len(wanted)
        present = target.series_instances(study_uid, series_uid)
        report.already_there += len(wanted & present)
        batch: list[tuple[str, bytes | Path]] = []
        stored: set[str] = set()
        for uid in sorted(wanted - present):
            if not source.contains(uid):
                report.missing_locally.append(uid)
                continue
            batch.append((uid, source.content(uid)))
            if len(batch) == STOW_BATCH:
                target.put_many(batch)
                stored.update(u for u, _ in batch)
                batch = []
        target.put_many(batch)
        stored.update(u for u, _ in batch)
        report.copied += len(stored)
        if stored:
            report.unverified += sorted(stored - target.series_instances(study_uid, series_uid))
        if progress is not None:
            progress(f"series {series_uid}: {len(stored)} copied, {len(wanted & present)} already in the archive")
    return report
