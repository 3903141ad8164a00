"""``modic serve``: run the HTTP service, in one process or ``--workers N`` (docs/deployment.md)."""

from __future__ import annotations

import argparse
import os
import tempfile
from typing import TYPE_CHECKING

from api.commands._common import add_database_option, fail, settings_from

if TYPE_CHECKING:
    from fastapi import FastAPI


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes serving requests on the same port (default 1; more than one needs PostgreSQL)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="load the sample studies of sample_dicom/ and create one demo user per role, printing their tokens; "
        "without MODIC_PATIENT_KEY the demo keeps its own key in the data folder (demo-patient.key)",
    )
    add_database_option(parser)
    parser.set_defaults(func=_serve)


def worker_app() -> FastAPI:
    """The app of one ``--workers`` process (uvicorn calls this in each): settings from the environment."""
    from api.app import create_app
    from api.logs import configure_logging
    from registry.settings import Settings

    settings = Settings()
    configure_logging(settings.log_format)
    return create_app(settings, background=True)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from api.logs import configure_logging

    settings = settings_from(args, demo=args.demo)
    if not 1 <= args.workers <= 64:
        return fail(f"--workers {args.workers} is out of range; allowed: 1 to 64")
    if args.workers > 1 and not settings.database_url.startswith("postgresql"):
        return fail(f"--workers {args.workers} needs a PostgreSQL database; SQLite has one writer: use one process")
    configure_logging(settings.log_format)
    app = create_app(settings, background=True)  # migrates, once, before any worker starts
    if args.demo:
        _load_demo(app)
    print(f"Modic service on http://{args.host}:{args.port}/  (API docs: /docs)", flush=True)
    if args.workers == 1:
        uvicorn.run(app, host=args.host, port=args.port, log_config=None, log_level="warning")
        return 0
    # Each worker is a new interpreter that reads its settings from the environment.
    os.environ["MODIC_DATABASE_URL"] = settings.database_url
    with tempfile.TemporaryDirectory(prefix="modic-metrics-") as metrics_dir:
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics_dir)  # /metrics adds up every worker's
        uvicorn.run(
            "api.commands.serve:worker_app",
            factory=True,
            workers=args.workers,
            host=args.host,
            port=args.port,
            log_config=None,
            log_level="warning",
        )
    return 0


def _load_demo(app: FastAPI) -> None:
    from registry.db import session_scope
    from registry.models import Role
    from registry.repositories import studies as studies_repo
    from registry.services.assignments import add_assignment
    from registry.services.sample_studies import ingest_sample_studies
    from registry.services.users import ensure_user_with_new_token, set_registrar

    with session_scope(app.state.engine, write=True) as session:
        for role in Role:
            name = f"demo-{role.value}"
            token = ensure_user_with_new_token(session, name, role.value)
            print(f"{role.value:<12} {name:<18} token: {token}")
    with session_scope(app.state.engine, write=True) as session:
        # The demo radiologist registers studies and is assigned the sample studies.
        radiologist = set_registrar(session, f"demo-{Role.radiologist.value}", True, None)
        expected = app.state.settings.expected_field_strength_t
        store = app.state.store
        for line in ingest_sample_studies(session, store, expected_field_strength_t=expected, actor=radiologist):
            print(line)
        for study in studies_repo.list_studies(session, None, 100):
            add_assignment(session, study, radiologist, None)
        session.commit()
