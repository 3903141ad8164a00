"""An image store in a DICOM archive reached by DICOMweb (docs/imaging.md#image-stores).

Ingest stores each instance with STOW-RS; rendering reads an instance with WADO-RS
(``studies/{study}/series/{series}/instances/{sop}``, in the transfer syntax the archive keeps it in)
through a bounded in-memory cache, least recently used out first (``MODIC_IMAGE_CACHE_BYTES`` per
process); QIDO-RS answers whether an instance is there and, when the caller cannot say, where it is.
The registry keeps only UIDs. Connections, TLS, credentials and the mapping of HTTP failures are those
of the pull adapter (:class:`~registry.imaging.pacs.DicomwebArchive`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import pydicom
from cachetools import LRUCache

from registry.imaging.dicom import is_valid_uid
from registry.imaging.pacs import ArchiveRefused, ArchiveUnavailable, DicomwebArchive, DicomwebOptions
from registry.imaging.store import ImageMissing, InstanceAddress, StoreError
from registry.settings import Settings

READY_TIMEOUT_S = 5.0
"""How long a readiness check waits for the archive to answer a study query."""


@dataclass(frozen=True)
class CacheStats:
    """How often rendering found an instance in this process's cache."""

    hits: int
    misses: int
    bytes: int
    limit_bytes: int

    @property
    def hit_rate(self) -> float | None:
        """Hits over lookups (``None`` before the first lookup)."""
        lookups = self.hits + self.misses
        return None if lookups == 0 else self.hits / lookups


class InstanceCache:
    """Instance bytes by SOP Instance UID, at most ``limit_bytes`` in all (an instance larger than that is
    not kept), least recently used out first; safe to share between threads."""

    def __init__(self, limit_bytes: int):
        self.limit_bytes = limit_bytes
        self._items: LRUCache[str, bytes] = LRUCache(maxsize=max(limit_bytes, 1), getsizeof=len)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
            else:
                self.hits += 1
            return value

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._items

    def put(self, key: str, value: bytes) -> None:
        if len(value) > self.limit_bytes:
            return
        with self._lock:
            self._items[key] = value

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self.hits, self.misses, int(self._items.currsize), self.limit_bytes)


class DicomwebStore:
    """Instances in a DICOMweb archive, read through an :class:`InstanceCache`."""

    def __init__(self, options: DicomwebOptions, *, cache_bytes: int = 256 * 1024 * 1024):
        self.label = "image archive"
        self.url = options.url
        self._web = DicomwebArchive(options, self)  # its connections and error mapping only
        self.cache = InstanceCache(cache_bytes)

    @classmethod
    def of(cls, settings: Settings) -> DicomwebStore:
        """The archive of ``MODIC_IMAGE_STORE_URL`` (with its credentials and CA file)."""
        assert settings.image_store_url is not None  # checked by the settings
        password = settings.image_store_password
        options = DicomwebOptions(
            url=settings.image_store_url.rstrip("/"),
            username=settings.image_store_username,
            password=None if password is None else password.get_secret_value(),
            ca_file=settings.image_store_ca_file,
        )
        return cls(options, cache_bytes=settings.image_cache_bytes)

    def _checked(self, sop_instance_uid: str) -> str:
        if not is_valid_uid(sop_instance_uid):
            raise StoreError(
                f"SOP Instance UID {sop_instance_uid!r} is not a valid UID (digits and dots, at most 64 characters)"
            )
        return sop_instance_uid

    def locate(self, sop_instance_uid: str) -> InstanceAddress | None:
        """The study and series of an instance in the archive (QIDO-RS), or ``None`` when it is not there."""
        found = self._web._search(
            "the instance lookup",
            "search_for_instances",
            search_filters={"SOPInstanceUID": self._checked(sop_instance_uid)},
            fields=["StudyInstanceUID", "SeriesInstanceUID"],
        )
        for answer in found:
            study, series = answer.text("StudyInstanceUID"), answer.text("SeriesInstanceUID")
            if study and series:
                return InstanceAddress(study, series)
        return None

    def contains(self, sop_instance_uid: str) -> bool:
        """True when the archive holds the instance (the cache answers first)."""
        return sop_instance_uid in self.cache or self.locate(sop_instance_uid) is not None

    def put(self, sop_instance_uid: str, data: bytes | Path) -> None:
        """Store one instance with STOW-RS (the archive keeps one copy of an instance stored twice) and keep
        its bytes in the cache, since it is usually read back at once."""
        self.put_many([(self._checked(sop_instance_uid), data)])

    def put_many(self, items: list[tuple[str, bytes | Path]]) -> None:
        """Store several instances in one STOW-RS request; :class:`ArchiveRefused` names any the archive
        did not accept."""
        if not items:
            return
        contents = [(uid, data.read_bytes() if isinstance(data, Path) else data) for uid, data in items]
        datasets = [pydicom.dcmread(BytesIO(content), force=True) for _, content in contents]
        with self._web._answer("the STOW-RS request"):
            answer = self._web._client().store_instances(datasets)
        failed = [str(item.get("ReferencedSOPInstanceUID", "?")) for item in answer.get("FailedSOPSequence", [])]
        if failed:
            raise ArchiveRefused(f"{self.label} did not store instance(s) {', '.join(failed[:5])}")
        for uid, content in contents:
            self.cache.put(uid, content)

    def read(self, sop_instance_uid: str, where: InstanceAddress | None = None) -> bytes:
        """The instance's bytes: from the cache, else WADO-RS (located by QIDO-RS when ``where`` is not given)."""
        cached = self.cache.get(self._checked(sop_instance_uid))
        if cached is not None:
            return cached
        where = where or self.locate(sop_instance_uid)
        if where is None:
            raise ImageMissing(f"instance {sop_instance_uid} is not in the image archive {self.url}")
        try:
            content = self._web.instance_bytes(where.study_instance_uid, where.series_instance_uid, sop_instance_uid)
        except ArchiveRefused as exc:
            if "HTTP 404" in exc.message:
                raise ImageMissing(f"instance {sop_instance_uid} is not in the image archive {self.url}") from None
            raise
        self.cache.put(sop_instance_uid, content)
        return content

    def content(self, sop_instance_uid: str) -> bytes:
        """The instance's bytes (usually still in the cache after :meth:`put`)."""
        return self.read(sop_instance_uid)

    def not_ready(self) -> str | None:
        """Whether the archive answers a QIDO-RS query for one study within :data:`READY_TIMEOUT_S` (whether it
        accepts a STOW-RS request shows at the first one: nothing is written to check)."""
        try:
            status = self._web.study_query_status(READY_TIMEOUT_S)
        except ArchiveUnavailable:
            return f"not reachable (no answer to a study query within {READY_TIMEOUT_S:g} s)"
        return None if status < 400 else f"refused a study query (HTTP {status})"

    def series_instances(self, study_instance_uid: str, series_instance_uid: str) -> set[str]:
        """The SOP Instance UIDs the archive holds for one series (QIDO-RS, every page)."""
        found = self._web._search(
            "the series listing",
            "search_for_instances",
            study_instance_uid=study_instance_uid,
            series_instance_uid=series_instance_uid,
            fields=["SOPInstanceUID"],
        )
        return {answer.text("SOPInstanceUID") for answer in found} - {""}
