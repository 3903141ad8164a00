"""Image stores: where the DICOM files of the registry are kept, keyed by SOP Instance UID.

Two kinds (``MODIC_IMAGE_STORE``, see docs/imaging.md#image-stores) behind one protocol,
:class:`ImageStore`: :class:`FileStore`, files under a data directory (the default, also on storage
several hosts mount), and :class:`~registry.imaging.dicomweb_store.DicomwebStore`, a DICOM archive
reached by DICOMweb. :func:`open_store` opens the configured one.

The file store:

File names come only from a validated UID (``^[0-9]+(\\.[0-9]+)*$``, at most 64 characters), never from
user input. Writes go to a temporary file in the target folder and are renamed into place, so several
processes (``serve``, ``receive``, ``ingest``) can share one data directory; an existing file is left
as it is (re-ingest is idempotent). A file ingested from disk is hard-linked when it lives on the same
file system, copied otherwise.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import shutil
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from registry.errors import InvalidInput, NotFound
from registry.imaging.dicom import is_valid_uid
from registry.settings import ImageStoreKind, Settings


class StoreError(InvalidInput):
    """A SOP Instance UID that cannot name a file (a registry error: the API answers 422)."""


class ImageMissing(NotFound):
    """The store does not hold the instance (404)."""


@dataclass(frozen=True)
class InstanceAddress:
    """Where an instance sits in the DICOM hierarchy: an archive reads it at
    ``studies/{study}/series/{series}/instances/{sop}``; the file store does not need it."""

    study_instance_uid: str
    series_instance_uid: str


class ImageStore(Protocol):
    """What ingest, the receiver, pulls and rendering need from an image store."""

    label: str
    """How messages name the store ("data directory", "image archive"): no path, URL or credentials."""

    def contains(self, sop_instance_uid: str) -> bool:
        """True when the instance is already stored."""

    def put(self, sop_instance_uid: str, data: bytes | Path) -> object:
        """Store the instance (bytes, or a file to copy) unless it is already there."""

    def read(self, sop_instance_uid: str, where: InstanceAddress | None = None) -> bytes:
        """The stored bytes of an instance; :class:`ImageMissing` when it is not stored."""

    def content(self, sop_instance_uid: str) -> bytes | Path:
        """What ingest reads back of an instance just stored: a local file when there is one, else its bytes."""

    def not_ready(self) -> str | None:
        """Why the store cannot take images now (a cheap check for readiness probes), or None when it can.
        The reason names no path, URL or credential (the probe is open without a token)."""


def open_store(settings: Settings) -> ImageStore:
    """The store the settings name (``MODIC_IMAGE_STORE``): the one way the service, the receiver and the
    command line open it (the API opens it once per app)."""
    if settings.image_store is ImageStoreKind.dicomweb:
        from registry.imaging.dicomweb_store import DicomwebStore

        return DicomwebStore.of(settings)
    return FileStore.of(settings)


class FileStore:
    """DICOM files under ``root/dicom/<2 hex digits>/<SOP Instance UID>.dcm``."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.label = "data directory"
        self._files = os.path.join(self.root, "dicom")
        self._folders: set[str] = set()
        self._counter = itertools.count()

    @classmethod
    def of(cls, settings: Settings) -> FileStore:
        """The store under the configured data directory (``MODIC_DATA_DIR``)."""
        return cls(settings.data_dir)

    def path_for(self, sop_instance_uid: str) -> Path:
        """Where the file of ``sop_instance_uid`` lives; the UID is validated first."""
        return Path(self._file(sop_instance_uid))

    def _file(self, sop_instance_uid: str) -> str:
        """:meth:`path_for` as text (a pull handles thousands of files: no path objects on the way)."""
        if not is_valid_uid(sop_instance_uid):
            raise StoreError(
                f"SOP Instance UID {sop_instance_uid!r} is not a valid UID (digits and dots, at most 64 characters)"
            )
        shard = hashlib.sha1(sop_instance_uid.encode("ascii")).hexdigest()[:2]
        return f"{self._files}/{shard}/{sop_instance_uid}.dcm"

    def contains(self, sop_instance_uid: str) -> bool:
        """True when the instance is already stored."""
        return os.path.isfile(self._file(sop_instance_uid))

    def put(self, sop_instance_uid: str, data: bytes | Path) -> Path:
        """Store ``data`` (bytes, or a file to copy) as the file of ``sop_instance_uid`` unless it is already
        there; return its path."""
        target = self._file(sop_instance_uid)
        if os.path.isfile(target):
            return Path(target)
        folder = os.path.dirname(target)
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)
        # A name no other writer uses (process, thread, counter), created exclusively, then renamed.
        temp = f"{folder}/.incoming-{os.getpid()}-{threading.get_ident()}-{next(self._counter)}.tmp"
        if isinstance(data, Path) and self._link(data, Path(temp), Path(target)):
            return Path(target)
        try:
            handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            if isinstance(data, Path):
                with os.fdopen(handle, "wb") as out, data.open("rb") as source:
                    shutil.copyfileobj(source, out, 1 << 20)
            else:
                try:
                    _write_all(handle, data)
                finally:
                    os.close(handle)
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        return Path(target)

    @staticmethod
    def _link(source: Path, temp: Path, target: Path) -> bool:
        """Keep a file on the same file system as a hard link instead of a copy (no data is written).

        A SOP Instance UID names one unchanging object, and tools that edit DICOM files write new ones,
        so sharing the inode is safe; any failure (another file system, permissions) means a copy.
        """
        try:
            os.link(source, temp)
        except OSError:
            return False
        try:
            os.replace(temp, target)
        except OSError:
            temp.unlink(missing_ok=True)
            return False
        return True

    def read(self, sop_instance_uid: str, where: InstanceAddress | None = None) -> bytes:
        """The stored bytes of an instance (``where`` is not needed: files are named by the UID alone)."""
        try:
            return self.path_for(sop_instance_uid).read_bytes()
        except FileNotFoundError:
            raise ImageMissing(f"instance {sop_instance_uid} is missing from the data directory") from None

    def content(self, sop_instance_uid: str) -> Path:
        """The file of an instance."""
        return self.path_for(sop_instance_uid)

    def not_ready(self) -> str | None:
        """Whether a file can be written under the data directory (an empty file is written and removed)."""
        probe = self.root / f".ready-{uuid.uuid4().hex}"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            return f"not writable ({type(exc).__name__}: {exc.strerror})"
        return None


def _write_all(handle: int, data: bytes) -> None:
    """Write every byte of ``data`` to the open file ``handle`` (straight to the system call, no buffer)."""
    with memoryview(data) as view:
        written = 0
        while written < len(view):
            written += os.write(handle, view[written:])
