"""kill -9 loses nothing acknowledged: ``modic serve`` under 16 concurrent graders, and ``modic ingest``
mid-folder, on the database under test (SQLite, or PostgreSQL with MODIC_TEST_POSTGRES_URL)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from bench.common import ROOT, ServerProcess
from registry.db import dispose_engine, get_engine, migrate, session_scope
from registry.imaging.store import FileStore
from registry.services.assignments import add_assignment
from registry.services.studies import register_study
from registry.services.users import add_user
from tests.api.helpers import endplates
from tests.imaging_support import SAMPLE_STUDIES

GRADERS = 16
STUDIES_PER_GRADER = 12


def _prepare(database_url: str) -> list[tuple[str, list[str]]]:
    """16 radiologists (tokens), each with studies of their own to grade."""
    engine = get_engine(database_url)
    migrate(engine)
    graders = []
    with session_scope(engine, write=True) as session:
        admin, _ = add_user(session, "crash-admin", "admin")
        for g in range(GRADERS):
            rater, token = add_user(session, f"crash-rad-{g}", "radiologist")
            studies = [
                register_study(session, admin, f"1.2.826.0.1.3680043.9.7.{g}.{s}", f"CRASH-{g}-{s}", None, 0.2)[0]
                for s in range(STUDIES_PER_GRADER)
            ]
            for view in studies:
                add_assignment(session, view.study, rater, admin)
            session.commit()
            graders.append((token, [v.study.id for v in studies]))
    dispose_engine(database_url)
    return graders


@pytest.mark.slow
def test_kill_9_of_serve_under_16_graders_loses_no_acknowledged_grading(database_url: str, tmp_path: Path) -> None:
    graders = _prepare(database_url)
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    serve = ["-m", "api.cli", "serve", "--port", "{port}", "--database-url", database_url]
    with ServerProcess(serve, env={"MODIC_DATA_DIR": str(tmp_path / "data")}) as server:

        def grade(token: str, studies: list[str]) -> None:
            with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
                for study in studies:
                    if stop.is_set():
                        return
                    try:
                        answer = http.post(f"/api/v1/studies/{study}/gradings", json={"endplates": endplates()})
                    except httpx.TransportError:
                        return  # the server is gone
                    if answer.status_code == 201:
                        with lock:
                            acknowledged.append(answer.json()["id"])

        threads = [threading.Thread(target=grade, args=g) for g in graders]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < GRADERS * 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.pid is not None
        os.kill(server.pid, signal.SIGKILL)
        stop.set()
        for thread in threads:
            thread.join()
    assert len(acknowledged) >= GRADERS * 2
    dispose_engine(database_url)
    with session_scope(get_engine(database_url)) as session:
        connection = session.connection()
        for grading_id in acknowledged:
            params = {"id": grading_id}
            assert connection.execute(text("SELECT current_version FROM gradings WHERE id = :id"), params).scalar() == 1
            versions = "SELECT count(*) FROM grading_versions WHERE grading_id = :id AND version = 1"
            assert connection.execute(text(versions), params).scalar() == 1
            events = "SELECT count(*) FROM audit_events WHERE action = 'grading.create' AND entity_id = :id"
            assert connection.execute(text(events), params).scalar() == 1
            decisions = "SELECT count(*) FROM eligibility_decisions WHERE grading_id = :id"
            assert connection.execute(text(decisions), params).scalar() >= 1, f"no decision for grading {grading_id}"
    dispose_engine(database_url)


def _ingest(database_url: str, data_dir: Path, folder: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "ingest", str(folder), "--database-url", database_url],
        cwd=ROOT,
        env={**os.environ, "MODIC_DATA_DIR": str(data_dir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_kill_9_of_ingest_mid_folder_then_the_rerun_completes(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "incoming"
    for study in SAMPLE_STUDIES:
        shutil.copytree(study, folder / study.name, ignore=shutil.ignore_patterns("*.json"))
    files = sorted(folder.rglob("*.dcm"))
    data_dir = tmp_path / "data"
    killed = _ingest(database_url, data_dir, folder)
    deadline = time.monotonic() + 120
    while not list(data_dir.rglob("*.dcm")) and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=60)
    stored_then = len(list(data_dir.rglob("*.dcm")))
    assert stored_then < len(files), "the ingest finished before it could be killed"
    rerun = _ingest(database_url, data_dir, folder)
    _out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    store = FileStore(data_dir)
    with session_scope(get_engine(database_url)) as session:
        connection = session.connection()
        uids = connection.execute(text("SELECT DISTINCT sop_instance_uid FROM instances")).scalars().all()
        studies = connection.execute(text("SELECT count(*) FROM studies")).scalar()
    assert studies == len(SAMPLE_STUDIES)
    assert len(uids) == len(files)
    assert all(store.contains(uid) for uid in uids)  # the database names no file the store lacks
    assert len(list(data_dir.rglob("*.dcm"))) == len(files)  # and the store holds no file the database lacks
    dispose_engine(database_url)
