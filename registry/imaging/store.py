"""The image file store: DICOM files under a data directory, keyed by SOP Instance UID.

File names come only from a validated UID (``^[0-9]+(\\.[0-9]+)*$``, at most 64 characters), never from
user input. Writes go to a temporary file in the target folder and are renamed into place, so several
processes (``serve``, ``receive``, ``ingest``) can share one data directory; an existing file is left
as it is (re-ingest is idempotent).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from registry.imaging.dicom import is_valid_uid


class StoreError(ValueError):
    """A SOP Instance UID that cannot name a file."""


class FileStore:
    """DICOM files under ``root/dicom/<2 hex digits>/<SOP Instance UID>.dcm``."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    def path_for(self, sop_instance_uid: str) -> Path:
        """Where the file of ``sop_instance_uid`` lives; the UID is validated first."""
        if not is_valid_uid(sop_instance_uid):
            raise StoreError(
                f"SOP Instance UID {sop_instance_uid!r} is not a valid UID (digits and dots, at most 64 characters)"
            )
        shard = hashlib.sha1(sop_instance_uid.encode("ascii")).hexdigest()[:2]
        return self.root / "dicom" / shard / f"{sop_instance_uid}.dcm"

    def contains(self, sop_instance_uid: str) -> bool:
        """True when the instance is already stored."""
        return self.path_for(sop_instance_uid).is_file()

    def put(self, sop_instance_uid: str, data: bytes) -> Path:
        """Store ``data`` as the file of ``sop_instance_uid`` unless it is already there; return its path."""
        target = self.path_for(sop_instance_uid)
        if target.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=".incoming-", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        return target

    def read(self, sop_instance_uid: str) -> bytes:
        """The stored bytes of an instance."""
        return self.path_for(sop_instance_uid).read_bytes()
