"""``modic receive``: a DICOM Storage SCP; every received study is ingested as by ``modic ingest``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from api.commands._common import add_database_option, fail, settings_from
from api.schemas.studies import StudyPublic
from registry.db import get_engine, migrate
from registry.imaging.scp import StorageReceiver
from registry.imaging.store import open_store
from registry.services.imaging import IngestResult


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = "Receive images by DICOM C-STORE; prints one JSON object per ingested study on stdout."
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=11112, help="port to listen on (default 11112)")
    parser.add_argument("--ae-title", default="MODIC", help="the receiver's AE title (default MODIC)")
    add_database_option(parser)
    parser.set_defaults(func=_receive)


def _report(result: IngestResult) -> None:

    for study in result.studies:
        print(json.dumps(StudyPublic.of(study.view).model_dump(mode="json")), flush=True)
    for rejection in result.rejections:
        print(f"modic: rejected {rejection.message}", file=sys.stderr, flush=True)


def _receive(args: argparse.Namespace) -> int:
    if not 0 < len(args.ae_title) <= 16:
        return fail(f"--ae-title {args.ae_title!r} must be 1-16 characters")

    settings = settings_from(args)
    engine = get_engine(settings.database_url)
    migrate(engine)
    receiver = StorageReceiver(
        engine,
        open_store(settings),
        ae_title=args.ae_title,
        host=args.host,
        port=args.port,
        expected_field_strength_t=settings.expected_field_strength_t,
        on_result=_report,
    )
    try:
        receiver.start()
    except OSError as exc:
        return fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"modic receive: {args.ae_title} listening on {args.host}:{args.port}", file=sys.stderr, flush=True)
    try:
        stop.wait()
    finally:
        receiver.stop()
    return 0
