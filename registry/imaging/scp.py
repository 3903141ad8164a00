"""A DICOM Storage SCP (C-STORE receiver) that ingests every study it receives.

It supports every storage SOP class with every transfer syntax pynetdicom knows, stores each dataset
exactly as received (``event.encoded_dataset()``, which keeps the sender's transfer syntax) in the
file store by SOP Instance UID, and when the association ends ingests what arrived, as ``modic
ingest`` does (``docs/imaging.md#dicom-peers``). It runs with ``block=False`` inside the
calling process, which shuts it down with :meth:`StorageReceiver.stop`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from sqlalchemy import Engine

from grading.field_strength import DEFAULT_FIELD_STRENGTH_T
from registry.db import session_scope
from registry.errors import RegistryError
from registry.imaging.dicom import is_valid_uid, read_dicom
from registry.imaging.errors import ImagingError
from registry.imaging.sources import Rejection, SourceFile
from registry.imaging.store import ImageStore
from registry.services.imaging import IngestResult, ingest_files

log = logging.getLogger(__name__)

STATUS_SUCCESS = 0x0000
STATUS_CANNOT_UNDERSTAND = 0xC210
STATUS_OUT_OF_RESOURCES = 0xA700


@dataclass
class _Association:
    """What one association has delivered so far."""

    calling_ae: str
    stored: list[str] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


class StorageReceiver:
    """A Storage SCP on ``host:port`` that ingests each association's images when it ends.

    ``on_result`` is called (in the association's thread) with the result of each ingest, ``on_stored``
    with the SOP Instance UID of each image stored. Without an ``engine`` the images are only stored (a
    pull ingests what it moved here itself).
    """

    def __init__(
        self,
        engine: Engine | None,
        store: ImageStore,
        *,
        ae_title: str = "MODIC",
        host: str = "127.0.0.1",
        port: int = 11112,
        expected_field_strength_t: float = DEFAULT_FIELD_STRENGTH_T,
        on_result: Callable[[IngestResult], None] | None = None,
        on_stored: Callable[[str], None] | None = None,
    ):
        self.engine = engine
        self.store = store
        self.host = host
        self.port = port
        self.expected_field_strength_t = expected_field_strength_t
        self.on_result = on_result
        self.on_stored = on_stored
        self._ae = AE(ae_title=ae_title)
        for context in AllStoragePresentationContexts:
            if context.abstract_syntax is not None:
                self._ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        self._ae.add_supported_context(Verification, ALL_TRANSFER_SYNTAXES)
        self._ae.maximum_pdu_size = 0
        self._server: Any = None
        self._lock = threading.Lock()
        self._associations: dict[int, _Association] = {}

    def start(self) -> None:
        """Listen (without blocking the caller)."""
        handlers: list[Any] = [
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_RELEASED, self._on_end),
            (evt.EVT_ABORTED, self._on_end),
        ]
        self._server = self._ae.start_server((self.host, self.port), block=False, evt_handlers=handlers)

    def stop(self) -> None:
        """Stop listening and close every association."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def _state(self, event: Any) -> _Association:
        key = id(event.assoc)
        with self._lock:
            state = self._associations.get(key)
            if state is None:
                state = _Association(str(event.assoc.requestor.ae_title).strip())
                self._associations[key] = state
            return state

    def _on_store(self, event: Any) -> int:
        state = self._state(event)
        uid = str(event.request.AffectedSOPInstanceUID or "").strip()
        name = f"C-STORE from {state.calling_ae} {uid or '<no SOP Instance UID>'}"
        if not is_valid_uid(uid):
            state.rejections.append(Rejection(name, "AffectedSOPInstanceUID is not a valid UID"))
            return STATUS_CANNOT_UNDERSTAND
        try:
            data = event.encoded_dataset()
        except Exception as exc:  # a dataset pynetdicom cannot encode back
            state.rejections.append(Rejection(name, f"dataset cannot be decoded ({exc})"))
            return STATUS_CANNOT_UNDERSTAND
        try:
            read_dicom(data, name)
        except ImagingError as exc:
            # Well-formed DICOM that is not an MR image (or lacks what ingestion needs): acknowledged,
            # reported, not kept.
            state.rejections.append(Rejection(exc.source, exc.reason))
            return STATUS_SUCCESS
        try:
            self.store.put(uid, data)
        except (OSError, RegistryError) as exc:  # a full disk, an archive store that refused or is unreachable
            log.error("%s: cannot be stored: %s", name, exc)
            return STATUS_OUT_OF_RESOURCES
        state.stored.append(uid)
        if self.on_stored is not None:
            self.on_stored(uid)
        return STATUS_SUCCESS

    def _on_end(self, event: Any) -> None:
        with self._lock:
            state = self._associations.pop(id(event.assoc), None)
        if state is None or self.engine is None:
            return
        items: list[SourceFile | Rejection] = list(state.rejections)
        for uid in dict.fromkeys(state.stored):
            items.append(SourceFile.of(f"C-STORE from {state.calling_ae} {uid}", self.store.content(uid)))
        try:
            with session_scope(self.engine, write=True) as session:
                result = ingest_files(
                    session, self.store, items, expected_field_strength_t=self.expected_field_strength_t
                )
        except Exception:  # the receiver keeps running; the files stay in the store for a later ingest
            log.exception("ingest of the association from %s failed", state.calling_ae)
            return
        if self.on_result is not None:
            self.on_result(result)
