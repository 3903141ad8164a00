"""The multipart face of ``POST /studies``: parts named ``files`` (DICOM files or .zip archives).

Limits: the whole request and the sum of the parts may not exceed ``MODIC_MAX_UPLOAD_BYTES`` (413),
at most ``MODIC_MAX_UPLOAD_FILES`` parts, archives within ``MODIC_MAX_ARCHIVE_*``. When the client
disconnects, the ingest stops before its next file.
Bad files are reported by file name in the study's ``warnings`` while the valid ones are kept; an
upload without a single usable MR image is 422. Uploaded file names are used in messages only.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session
from starlette.datastructures import UploadFile

from api.schemas.studies import StudyPublic
from registry.errors import Cancelled, InvalidInput, PayloadTooLarge
from registry.imaging.sources import Rejection, SourceFile
from registry.models import User
from registry.services.imaging import IngestResult, ingest_files
from registry.settings import Settings

_CHUNK = 1 << 20
_log = logging.getLogger(__name__)
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")


def _display_name(filename: str | None, index: int) -> str:
    """The part's file name for messages: its last path component, without control characters."""
    name = _UNPRINTABLE.sub("", (filename or "").replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return name[:200] or f"part {index + 1}"


async def _read_parts(request: Request, settings: Settings) -> list[SourceFile | Rejection]:
    limit = settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"upload of {declared} bytes is larger than the limit of {limit} bytes")
    form = await request.form(max_files=settings.max_upload_files, max_fields=100)
    try:
        parts = form.getlist("files")
        if not parts:
            raise InvalidInput("files: no part named 'files'; send DICOM files or .zip archives as parts named 'files'")
        items: list[SourceFile | Rejection] = []
        total = 0
        for index, part in enumerate(parts):
            if not isinstance(part, UploadFile):
                items.append(Rejection(f"part {index + 1}", "files: this part is a text field, not a file"))
                continue
            chunks = []
            while chunk := await part.read(_CHUNK):
                total += len(chunk)
                if total > limit:
                    raise PayloadTooLarge(f"the files of the upload are larger than the limit of {limit} bytes")
                chunks.append(chunk)
            items.append(SourceFile(_display_name(part.filename, index), b"".join(chunks)))
        return items
    finally:
        await form.close()


def _shape(result: IngestResult) -> StudyPublic:
    if not result.studies:
        if result.conflicts:
            raise result.conflicts[0]
        reasons = "; ".join(result.warnings[:20]) or "the upload was empty"
        raise InvalidInput(f"files: no DICOM MR image could be used: {reasons}")
    main = max(result.studies, key=lambda s: s.received)
    public = StudyPublic.of(main.view)
    others = [
        f"this upload also held study {s.view.study.study_instance_uid} (id {s.view.study.id})"
        for s in result.studies
        if s is not main
    ]
    public.warnings = [*public.warnings, *result.warnings, *others]
    return public


async def upload_study(request: Request, user: User, session: Session, settings: Settings) -> StudyPublic:
    """Read the parts, ingest them and answer with the study that received the most images."""
    # The authentication query opened a (write) transaction: end it before the long upload.
    await run_in_threadpool(session.commit)
    items = await _read_parts(request, settings)
    gone = threading.Event()
    watcher = asyncio.create_task(_watch_disconnect(request, gone))
    try:
        result = await run_in_threadpool(
            ingest_files,
            session,
            request.app.state.store,
            items,
            actor=user,
            limits=settings.archive_limits(),
            expected_field_strength_t=settings.expected_field_strength_t,
            cancelled=gone.is_set,
        )
    except Cancelled as exc:
        _log.info("upload by %s: %s", user.name, exc.message)
        raise
    finally:
        watcher.cancel()
    return _shape(result)


async def _watch_disconnect(request: Request, gone: threading.Event) -> None:
    """Set ``gone`` when the client disconnects (the body has been read: the next message says so)."""
    message = await request.receive()
    while message["type"] != "http.disconnect":
        message = await request.receive()
    gone.set()
