"""Fixtures: a fresh migrated database per test (SQLite, or PostgreSQL when
``MODIC_TEST_POSTGRES_URL`` is set), the app, clients and users of each role, a live server."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import select

from api.app import create_app
from bench.common import free_port
from registry.db import dispose_engine, dispose_engines, get_engine, migrate, session_scope
from registry.models import Patient
from registry.services.users import add_user, set_registrar
from registry.settings import Settings

POSTGRES_URL = os.environ.get("MODIC_TEST_POSTGRES_URL")
TEST_PATIENT_KEY = "bW9kaWMtdGVzdC1wYXRpZW50LWtleS0zMi1ieXRlcyE="
"""The patient key of the test session (32 bytes), set before any settings are read (over the
benchmarks' default, which importing ``bench.common`` put there); commands run by tests inherit it."""
os.environ["MODIC_PATIENT_KEY"] = TEST_PATIENT_KEY


def _admin_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database that each test copies: a file on SQLite, a template database on PostgreSQL."""
    if POSTGRES_URL is None:
        path = tmp_path_factory.mktemp("template") / "template.db"
        url = f"sqlite:///{path}"
        migrate(get_engine(url))
        dispose_engine(url)
        yield str(path)
        return
    name = f"modic_tmpl_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_admin_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(_admin_url(POSTGRES_URL)).set(database=name).render_as_string(hide_password=False)
    migrate(get_engine(url))
    dispose_engine(url)
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class _SuiteLog(logging.Handler):
    """Every log record of the test session, formatted with its traceback, to be searched at the end."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


SUITE_LOG = _SuiteLog()
HOSPITAL_IDS: set[str] = set()
"""Every hospital id a test's database held: none may appear in any log line of the suite."""


def _collect_hospital_ids(url: str) -> None:
    with session_scope(get_engine(url)) as session:
        HOSPITAL_IDS.update(session.exec(select(Patient.hospital_id)))  # decrypted


@pytest.fixture
def database_url(_template: str, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, migrated database for this test."""
    if POSTGRES_URL is None:
        path = tmp_path / "modic.db"
        shutil.copyfile(_template, path)
        url = f"sqlite:///{path}"
        yield url
        _collect_hospital_ids(url)
        dispose_engine(url)
        return
    name = f"modic_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_admin_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{_template}"'))
    url = make_url(_admin_url(POSTGRES_URL)).set(database=name).render_as_string(hide_password=False)
    yield url
    _collect_hospital_ids(url)
    dispose_engine(url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings on the fresh database and a private data directory."""
    return Settings(database_url=database_url, data_dir=tmp_path / "data")


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


TokenFactory = Callable[..., dict[str, str]]


@pytest.fixture
def auth(app: FastAPI) -> TokenFactory:
    """``auth("radiologist")`` creates a user of that role and returns its Authorization header.

    A radiologist made here is a registrar unless ``registrar=False``: most tests have a radiologist
    register the study they then grade (and so be assigned to it).
    """
    counter = iter(range(1_000_000))

    def make(role: str, name: str | None = None, *, registrar: bool | None = None) -> dict[str, str]:
        name = name or f"{role}-{next(counter)}"
        with session_scope(app.state.engine, write=True) as session:
            _, token = add_user(session, name, role)
            if registrar if registrar is not None else role == "radiologist":
                set_registrar(session, name, True, None)
        return {"Authorization": f"Bearer {token}"}

    return make


class LiveServer:
    """The app served by a real uvicorn server in a background thread."""

    def __init__(self, app: FastAPI):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # log_config=None: uvicorn's records go to the root logger, where the suite's log is kept.
        # A test's HTTP client may sit idle through long browser steps: with uvicorn's default 5 s
        # keep-alive the server can close the connection just as the client reuses it
        # ("Server disconnected without sending a response").
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", log_config=None, timeout_keep_alive=300
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the live server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=20)


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


def pytest_configure(config: pytest.Config) -> None:
    """Keep every log record of the session; workers (pytest-xdist) report what leaked to a shared folder."""
    root = logging.getLogger()
    root.addHandler(SUITE_LOG)
    root.setLevel(min(root.level, logging.INFO))
    if not hasattr(config, "workerinput"):
        os.environ["MODIC_TEST_LEAK_DIR"] = tempfile.mkdtemp(prefix="modic-log-leaks-")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Search the session's log for every hospital id the tests stored; any found fails the run."""
    dispose_engines()
    leak_dir = Path(os.environ["MODIC_TEST_LEAK_DIR"])
    log = "\n".join(SUITE_LOG.lines)
    leaked = sorted(h for h in HOSPITAL_IDS if len(h) >= 6 and h in log)  # shorter ones match by chance
    worker = getattr(session.config, "workerinput", {}).get("workerid", "main")
    (leak_dir / f"{worker}.txt").write_text("".join(f"{h}\n" for h in leaked))
    if worker != "main":
        return
    found = sorted({line for path in leak_dir.glob("*.txt") for line in path.read_text().splitlines()})
    shutil.rmtree(leak_dir, ignore_errors=True)
    if found:
        print(f"\nhospital ids found in the log of the test session: {', '.join(map(repr, found))}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """With ``MODIC_TEST_NO_SKIP=1`` (set by CI) a skipped test fails: in CI every component is present.

    The one exception is a ``postgres``-marked test in the SQLite pass: CI runs it in its PostgreSQL pass.
    """
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    waiting_for_postgres = POSTGRES_URL is None and item.get_closest_marker("postgres") is not None
    strict = os.environ.get("MODIC_TEST_NO_SKIP") == "1"
    if strict and report.skipped and not waiting_for_postgres and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where nothing may skip: {report.longrepr}"
