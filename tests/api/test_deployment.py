"""Several ``modic serve`` processes on one database (docs/deployment.md): the periodic re-evaluation
runs once between them, ``--workers N`` serves one port with metrics of every worker, and the logs
are JSON lines when asked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from api.cli import main
from bench.common import ROOT, free_port
from registry.db import get_engine, session_scope
from registry.jobs import REEVALUATION_JOB, job_runs

METRICS_TOKEN = "metrics-token-for-the-test"


@contextmanager
def serving(args: list[str], env: dict[str, str], log: Path) -> Iterator[str]:
    """``modic serve ARGS`` on a free port until the block ends; yields its base URL once it is ready."""
    port = free_port()
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port), *args],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 300
            while not _ready(url):
                assert process.poll() is None, f"modic serve stopped: {log.read_text()}"
                assert time.monotonic() < deadline, f"modic serve was not ready in time: {log.read_text()}"
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_finished_run(database_url: str) -> None:
    deadline = time.monotonic() + 60
    query = text("SELECT finished_at FROM background_jobs WHERE name = :name")
    while True:
        with session_scope(get_engine(database_url)) as session:
            if session.connection().execute(query, {"name": REEVALUATION_JOB}).scalar() is not None:
                return
        assert time.monotonic() < deadline, "the re-evaluation did not run"
        time.sleep(0.1)


@pytest.mark.postgres
@pytest.mark.slow
def test_three_serve_processes_run_the_reevaluation_once(database_url: str, tmp_path: Path) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several processes share a PostgreSQL database (set MODIC_TEST_POSTGRES_URL)")
    env = {"MODIC_DATABASE_URL": database_url, "MODIC_DATA_DIR": str(tmp_path / "data")}
    with ExitStack() as stack:
        urls = [stack.enter_context(serving([], env, tmp_path / f"serve{i}.log")) for i in range(3)]
        _wait_for_finished_run(database_url)
        for url in urls:  # every process serves
            assert httpx.get(f"{url}/api/v1/health/live").json() == {"status": "ok"}
        assert job_runs(get_engine(database_url), REEVALUATION_JOB) == 1
    # A process started later, within the hour, does not run it again; one with MODIC_BACKGROUND=off never does.
    with serving([], env, tmp_path / "late.log"), serving([], {**env, "MODIC_BACKGROUND": "off"}, tmp_path / "off.log"):
        time.sleep(1)
        assert job_runs(get_engine(database_url), REEVALUATION_JOB) == 1


def _counts(metrics: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in metrics.splitlines():
        if not line.startswith(name + "{"):
            continue
        label_text, value = line[len(name) + 1 :].rsplit("} ", 1)
        if all(f'{k}="{v}"' in label_text for k, v in labels.items()):
            total += float(value)
    return total


@pytest.mark.postgres
@pytest.mark.slow
def test_workers_share_a_port_the_metrics_and_the_background_work(database_url: str, tmp_path: Path) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("--workers needs a PostgreSQL database (set MODIC_TEST_POSTGRES_URL)")
    env = {
        "MODIC_DATA_DIR": str(tmp_path / "data"),
        "MODIC_METRICS_TOKEN": METRICS_TOKEN,
        "MODIC_LOG_FORMAT": "json",
    }
    log = tmp_path / "serve.log"
    with serving(["--workers", "2", "--database-url", database_url], env, log) as url:
        for _ in range(30):
            with httpx.Client(base_url=url) as http:  # a new connection each time: any worker answers
                assert http.get("/api/v1/health/live").status_code == 200
        _wait_for_finished_run(database_url)
        answer = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert answer.status_code == 200
        count = _counts(answer.text, "modic_http_request_duration_seconds_count", route="/api/v1/health/live")
        assert count == 30  # added up over both workers
        assert job_runs(get_engine(database_url), REEVALUATION_JOB) == 1
    lines: list[dict[str, Any]] = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    requests = [line for line in lines if line.get("logger") == "modic.requests"]
    assert len([r for r in requests if r["route"] == "/api/v1/health/live"]) == 30
    assert {"time", "level", "process", "method", "route", "status", "ms"} <= set(requests[0])
    assert len({r["process"] for r in requests}) >= 1


def test_workers_need_postgresql(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    database = f"sqlite:///{tmp_path / 'one.db'}"
    assert main(["serve", "--workers", "2", "--database-url", database]) == 1
    assert capsys.readouterr().err.strip() == (
        "modic: error: --workers 2 needs a PostgreSQL database; SQLite has one writer: use one process"
    )


def _ready(url: str) -> bool:
    """Whether the process answers ready (a refused connection: not yet)."""
    try:
        return httpx.get(f"{url}/api/v1/health/ready", timeout=2).status_code == 200
    except httpx.TransportError:
        return False
