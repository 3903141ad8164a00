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
from registry.imaging.dicom import HEAD_BYTES, DicomInstance, read_dicom
from registry.imaging.errors import ArchiveError, ImagingError, NiftiError
from registry.imaging.nifti import NiftiMetadata, looks_like_nifti, nifti_to_dicom

MAX_FILE_BYTES = 2 << 30
"""The largest single file read from a folder."""


@dataclass(frozen=True)
class SourceFile:
    """One file to ingest, held in memory (``data``) or on disk (``path``), and the name it is reported under."""

    name: str
    data: bytes | None = None
    path: Path | None = None

    @classmethod
    def of(cls, name: str, content: bytes | Path) -> SourceFile:
        """A file given as bytes or as a path (what :meth:`ImageStore.content` answers)."""
        return cls(name, path=content) if isinstance(content, Path) else cls(name, data=content)

    def head(self, size: int) -> bytes:
        """The first ``size`` bytes (all of them when the file is in memory)."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        with self.path.open("rb") as handle:
            return handle.read(size)

    def read(self) -> bytes:
        """All the bytes."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()

    @property
    def content(self) -> bytes | Path:
        """The bytes, or the path when the file is on disk (read lazily)."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path


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
    """A DICOM MR image that passed the header checks, with its bytes or the path of its file."""

    instance: DicomInstance
    content: bytes | Path
    stored: bool = False
    """Already in the image store (a pull writes each image as it arrives): ingest does not store it again."""


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
        return SourceFile(str(path), path=path)
    except OSError as exc:
        return Rejection(str(path), f"cannot be read ({exc.strerror or exc})")


def read_sources(
    items: Iterable[SourceFile | Rejection],
    *,
    nifti: NiftiMetadata | None = None,
    limits: ArchiveLimits | None = None,
) -> Iterator[AcceptedInstance | Rejection]:
    """Accept or reject every file: archives are opened, NIfTI converted, DICOM headers checked."""
    for item in items:
        if isinstance(item, Rejection):
            yield item
            continue
        try:
            head = item.head(HEAD_BYTES)
        except OSError as exc:
            yield Rejection(item.name, f"cannot be read ({exc.strerror or exc})")
            continue
        if is_zip(head):
            try:
                for name, member in iter_zip_members(item.read(), item.name, limits):
                    if isinstance(member, ArchiveError):
                        yield Rejection(member.source, member.reason)
                    else:
                        yield from _one(SourceFile(name, member), member, nifti)
            except ArchiveError as exc:
                yield Rejection(exc.source, exc.reason)
        else:
            yield from _one(item, head, nifti)


def _one(item: SourceFile, head: bytes, nifti: NiftiMetadata | None) -> Iterator[AcceptedInstance | Rejection]:
    if is_zip(head):
        yield Rejection(item.name, "nested archive; unpack it or send its files")
        return
    if looks_like_nifti(item.name, head):
        if nifti is None:
            yield Rejection(item.name, "NIfTI file needs the study data: --patient-id, --study-date and --weighting")
            return
        try:
            converted = nifti_to_dicom(item.read(), item.name, nifti)
        except NiftiError as exc:
            yield Rejection(exc.source, exc.reason)
            return
        for name, data in converted:
            yield from _one(SourceFile(name, data), data, None)
        return
    try:
        yield AcceptedInstance(read_dicom(item.content, item.name, head=head), item.content)
    except ImagingError as exc:
        yield Rejection(exc.source, exc.reason)
    except OSError as exc:
        yield Rejection(item.name, f"cannot be read ({exc.strerror or exc})")
