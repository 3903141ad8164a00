"""``modic serve``: run the HTTP service."""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

from api.app import create_app
from api.commands._common import add_database_option, settings_from
from registry.db import session_scope
from registry.models import Role
from registry.repositories import studies as studies_repo
from registry.services.assignments import add_assignment
from registry.services.eligibility import PeriodicReevaluation
from registry.services.imaging import ingest_sample_studies
from registry.services.users import ensure_user_with_new_token, set_registrar


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="run the HTTP service")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="load the sample studies of sample_dicom/ and create one demo user per role, printing their tokens; "
        "without MODIC_PATIENT_KEY the demo keeps its own key in the data folder (demo-patient.key)",
    )
    add_database_option(parser)
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    app = create_app(settings_from(args, demo=args.demo))
    if args.demo:
        with session_scope(app.state.engine, write=True) as session:
            for role in Role:
                name = f"demo-{role.value}"
                token = ensure_user_with_new_token(session, name, role.value)
                print(f"{role.value:<12} {name:<18} token: {token}")
        with session_scope(app.state.engine, write=True) as session:
            # The demo radiologist registers studies and is assigned the sample studies.
            radiologist = set_registrar(session, f"demo-{Role.radiologist.value}", True, None)
            store = app.state.store
            expected = app.state.settings.expected_field_strength_t
            for line in ingest_sample_studies(session, store, expected_field_strength_t=expected, actor=radiologist):
                print(line)
            for study in studies_repo.list_studies(session, None, 100):
                add_assignment(session, study, radiologist, None)
            session.commit()
    print(f"Modic service on http://{args.host}:{args.port}/  (API docs: /docs)", flush=True)
    reevaluation = PeriodicReevaluation(app.state.engine).start()
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        reevaluation.stop()
    return 0
