"""The ``modic`` command line in real subprocesses."""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import api.commands
from api.commands import SUMMARIES
from bench.common import free_port

ROOT = Path(__file__).resolve().parents[2]


def _modic(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_user_add_prints_the_token_last_and_refuses_a_duplicate(database_url: str) -> None:
    first = _modic("user", "add", "carla", "--role", "screener", "--database-url", database_url)
    assert first.returncode == 0, first.stderr
    token = first.stdout.strip().splitlines()[-1]
    assert token.startswith("mdc_") and len(token) > 40
    again = _modic("user", "add", "carla", "--role", "screener", "--database-url", database_url)
    assert again.returncode == 1 and again.stderr.strip() == "modic: error: user 'carla' already exists"


def test_user_add_rejects_an_unknown_role(database_url: str) -> None:
    result = _modic("user", "add", "dora", "--role", "surgeon", "--database-url", database_url)
    assert result.returncode != 0 and "surgeon" in result.stderr


def test_a_database_that_cannot_be_opened_is_one_line_naming_the_reason(tmp_path: Path) -> None:
    not_a_database = tmp_path / "notes.db"
    not_a_database.write_text("these are notes, not a database\n")
    for url in (f"sqlite:///{not_a_database}", f"postgresql://nobody@127.0.0.1:{free_port()}/none"):
        result = _modic("user", "add", "erik", "--role", "screener", "--database-url", url)
        assert result.returncode == 1, result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("modic: error: the database could not be used: ")
        assert "not a database" in line or "refused" in line or "failed" in line
    assert not_a_database.read_text() == "these are notes, not a database\n"


_PROBE = (
    "import atexit, runpy, sys\n"
    "atexit.register(lambda: print('MODULES', *sorted(sys.modules), file=sys.stderr))\n"
    "runpy.run_module('api.cli', run_name='__main__')"
)
"""Runs ``modic`` with the arguments after ``-c`` and prints, on exit, the modules it imported."""

_HEAVY = ("alembic", "fastapi", "httpx", "numpy", "pydicom", "pynetdicom", "starlette", "uvicorn")
"""What neither ``modic --help`` nor ``modic user add`` needs: the web stack, imaging, migrations."""


def _imported(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``modic ARGS``; the result and the modules it imported."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    listing = [line for line in result.stderr.splitlines() if line.startswith("MODULES ")]
    assert len(listing) == 1, result.stderr
    return result, set(listing[0].split()[1:])


def _packages(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_the_summaries_name_every_subcommand_module() -> None:
    modules = {m.name for m in pkgutil.iter_modules(api.commands.__path__) if not m.name.startswith("_")}
    assert set(SUMMARIES) == modules


def test_every_subcommand_has_help() -> None:
    top = _modic("--help")
    assert top.returncode == 0
    for command, summary in SUMMARIES.items():
        assert command in top.stdout and summary.split()[0] in top.stdout
        assert _modic(command, "--help").returncode == 0, command


def test_help_imports_no_subcommand_and_no_database_layer() -> None:
    result, modules = _imported("--help")
    assert result.returncode == 0 and "user" in result.stdout
    assert not _packages(modules) & {*_HEAVY, "sqlalchemy", "sqlmodel", "pydantic", "registry", "grading"}
    assert not {m for m in modules if m.startswith("api.commands.")}


_SLOW_TO_IMPORT = ("sqlalchemy", "sqlmodel", "pydantic", "pydantic_settings", "cryptography")
"""What ``modic user add`` and ``modic user registrar`` leave alone: the ORM, the settings library and the
patient data's cipher (they run ``registry.services.accounts`` on the database's DB-API driver)."""


@pytest.mark.parametrize("registrar", [False, True])
def test_user_add_imports_no_orm_and_no_settings_library(database_url: str, registrar: bool) -> None:
    flags = ["--registrar"] if registrar else []
    result, modules = _imported("user", "add", "fiona", "--role", "admin", *flags, "--database-url", database_url)
    assert result.returncode == 0, result.stderr
    assert ("(registrar)" in result.stdout) is registrar
    assert not _packages(modules) & {*_HEAVY, *_SLOW_TO_IMPORT}
    assert not {m for m in modules if m.startswith("registry.models")}
    assert {m for m in modules if m.startswith("api.")} == {"api.commands", "api.commands._common", "api.commands.user"}
    result, modules = _imported("user", "registrar", "fiona", "--off", "--database-url", database_url)
    assert result.returncode == 0 and "may no longer" in result.stdout, result.stderr
    assert not _packages(modules) & {*_HEAVY, *_SLOW_TO_IMPORT}


def test_user_add_refuses_a_setting_as_the_settings_do(database_url: str) -> None:
    """A value the quick reader does not vouch for is read by ``Settings``, which refuses it as before."""
    args = ("user", "add", "gus", "--role", "admin", "--database-url", database_url)
    bad = _modic(*args, env={"MODIC_WORKER_THREADS": "0"})
    assert bad.returncode == 1 and "worker_threads" in bad.stderr and "greater than or equal to 1" in bad.stderr
    unsupported = _modic("user", "add", "gus", "--role", "admin", "--database-url", "mysql://db/modic")
    assert unsupported.returncode == 1 and "is not supported; use sqlite:///PATH or postgresql://" in unsupported.stderr
    short_key = _modic(*args, env={"MODIC_PATIENT_KEY": "c2hvcnQ="})
    assert short_key.returncode == 1 and short_key.stdout == ""
    assert short_key.stderr == (
        "modic: error: MODIC_PATIENT_KEY must be 32 bytes in URL-safe base64 (44 characters); "
        "make one with `modic key new`\n"
    )
    odd_but_valid = _modic(*args, env={"MODIC_TOKEN_LIFETIME_DAYS": " 7 "})  # read by Settings: 7 days
    assert odd_but_valid.returncode == 0, odd_but_valid.stderr


def test_pull_leaves_out_the_web_stack_the_nifti_reader_and_the_metrics_client(database_url: str) -> None:
    # An archive that cannot be reached: the pull runs its course as far as the first query.
    args = ("pull", "--dicomweb", "http://127.0.0.1:1/dicom-web", "--patient", "H-1", "--database-url", database_url)
    result, modules = _imported(*args)
    assert result.returncode == 1 and "cannot be reached" in result.stderr, result.stderr
    assert {"registry.services.pulls", "registry.services.imaging", "dicomweb_client"} <= modules
    assert not _packages(modules) & {"fastapi", "starlette", "uvicorn", "httpx", "nibabel", "prometheus_client"}


def test_serve_answers_health_and_accepts_the_token(database_url: str, tmp_path: Path) -> None:
    token = _modic("user", "add", "erik", "--role", "radiologist", "--database-url", database_url).stdout.splitlines()[
        -1
    ]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MODIC_DATABASE_URL": database_url, "MODIC_DATA_DIR": str(tmp_path / "data")},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "modic serve did not answer"
                time.sleep(0.2)
        assert health.json() == {"status": "ok"}
        studies = httpx.get(f"http://127.0.0.1:{port}/api/v1/studies", headers={"Authorization": f"Bearer {token}"})
        assert studies.status_code == 200 and studies.json()["items"] == []
    finally:
        server.terminate()
        server.wait(timeout=30)
