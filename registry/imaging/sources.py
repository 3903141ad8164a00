"""Turn what arrives (paths, uploaded parts, received datasets) into accepted DICOM instances or rejections.

Folders are walked recursively in name order, ``.zip`` archives are read in memory
(:mod:`registry.imaging.archive`), NIfTI volumes are converted with the caller's study data
(:mod:`registry.imaging.nifti`). Every file is either accepted or rejected with a reason that names
it; nothing raises for a bad file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from registry.imaging.archive import ArchiveLimits, is_zip, iter_zip_members
from registry.imaging.dicom import DicomInstance, read_dicom
from registry.imaging.errors import ArchiveError, ImagingError, NiftiError
from registry.imaging.nifti import NiftiMetadata, looks_like_nifti, nifti_to_dicom

MAX_FILE_BYTES = 2 << 30
"""The largest single file read from a folder."""


@dataclass(frozen=True)
class SourceFile:
    """The bytes of one file and the name it is reported under."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Rejection:
    """A file that was not used, and why."""

    source: str
    reason: str

    @property
    def message(self) -> str:
        """``<file>: <reason>``, as reported in warnings and on stderr."""
        return f"{self.source}: {self.reason}"


@dataclass(frozen=True)
class AcceptedInstance:
    """A DICOM MR image that passed the header checks, with its bytes."""

    instance: DicomInstance
    data: bytes


def count_files(paths: Sequence[Path]) -> int:
    """The number of files under ``paths`` (for a progress bar)."""
    total = 0
    for path in paths:
        if path.is_dir():
            total += sum(len(files) for _, _, files in os.walk(path))
        else:
            total += 1
    return total


def walk_paths(paths: Sequence[Path]) -> Iterator[Path | Rejection]:
    """The files named by ``paths``: files as given, folders recursively in name order."""
    for path in paths:
        if path.is_dir():
            for folder, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    yield Path(folder) / name
        elif path.exists():
            yield path
        else:
            yield Rejection(str(path), "no such file or folder")


def iter_paths(paths: Sequence[Path]) -> Iterator[SourceFile | Rejection]:
    """The contents of the files named by ``paths`` (see :func:`walk_paths`), read one at a time."""
    for path in walk_paths(paths):
        yield path if isinstance(path, Rejection) else _read_file(path)


def _read_file(path: Path) -> SourceFile | Rejection:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return Rejection(str(path), f"{size} bytes; at most {MAX_FILE_BYTES} are read")
        return SourceFile(str(path), path.read_bytes())
    except OSError as exc:
        return Rejection(str(path), f"cannot be read ({exc.strerror or exc})")


def expand(
    items: Iterable[SourceFile | Rejection],
    *,
    nifti: NiftiMetadata | None = None,
    limits: ArchiveLimits | None = None,
) -> Iterator[AcceptedInstance | Rejection]:
    """Accept or reject every file: archives are opened, NIfTI converted, DICOM headers checked."""
    for item in items:
        if isinstance(item, Rejection):
            yield item
        elif is_zip(item.data):
            try:
                for name, member in iter_zip_members(item.data, item.name, limits):
                    if isinstance(member, ArchiveError):
                        yield Rejection(member.source, member.reason)
                    else:
                        yield from _one(SourceFile(name, member), nifti)
            except ArchiveError as exc:
                yield Rejection(exc.source, exc.reason)
        else:
            yield from _one(item, nifti)


def _one(item: SourceFile, nifti: NiftiMetadata | None) -> Iterator[AcceptedInstance | Rejection]:
    if is_zip(item.data):
        yield Rejection(item.name, "nested archive; unpack it or send its files")
        return
    if looks_like_nifti(item.name, item.data):
        if nifti is None:
            yield Rejection(item.name, "NIfTI file needs the study data: --patient-id, --study-date and --weighting")
            return
        try:
            converted = nifti_to_dicom(item.data, item.name, nifti)
        except NiftiError as exc:
            yield Rejection(exc.source, exc.reason)
            return
        for name, data in converted:
            yield from _one(SourceFile(name, data), None)
        return
    try:
        yield AcceptedInstance(read_dicom(item.data, item.name), item.data)
    except ImagingError as exc:
        yield Rejection(exc.source, exc.reason)
