"""The ``modic`` command line in real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

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


def test_every_subcommand_has_help() -> None:
    top = _modic("--help")
    assert top.returncode == 0
    for command in ("serve", "user"):
        assert _modic(command, "--help").returncode == 0


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
