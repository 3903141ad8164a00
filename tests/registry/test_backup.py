"""``modic backup`` of a running site while a client writes gradings, and ``modic restore`` into an
empty site: every table and every file compared (SQLite, or PostgreSQL with MODIC_TEST_POSTGRES_URL)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from api.cli import main
from registry.db import dispose_engines, get_engine, session_scope
from registry.models import load_all
from registry.services.sample_studies import ingest_sample_studies
from registry.services.studies import register_study
from registry.services.users import add_user
from registry.settings import Settings
from tests.api.helpers import assign_every_study, endplates
from tests.conftest import POSTGRES_URL, LiveServer, _admin_url

STUDIES = 40


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Makes databases with nothing in them, of the kind under test; each call a new one."""
    made: list[str] = []
    admin = create_engine(_admin_url(POSTGRES_URL), isolation_level="AUTOCOMMIT") if POSTGRES_URL else None

    def make() -> str:
        name = f"modic_restore_{uuid.uuid4().hex[:12]}"
        made.append(name)
        if admin is None:
            return f"sqlite:///{tmp_path / name / 'modic.db'}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        assert POSTGRES_URL is not None
        return make_url(_admin_url(POSTGRES_URL)).set(database=name).render_as_string(hide_password=False)

    yield make
    if admin is not None:
        dispose_engines()
        with admin.connect() as conn:
            for name in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _tables(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (and the schema revision), in primary-key order."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    load_all()
    with session_scope(get_engine(database_url)) as session:
        connection = session.connection()
        for table in SQLModel.metadata.sorted_tables:
            order = ", ".join(c.name for c in table.primary_key.columns)
            rows[table.name] = [
                tuple(r) for r in connection.execute(text(f"SELECT * FROM {table.name} ORDER BY {order}"))
            ]
        rows["alembic_version"] = [
            tuple(r) for r in connection.execute(text("SELECT version_num FROM alembic_version"))
        ]
    return rows


def _canonical(row: tuple[Any, ...]) -> str:
    return json.dumps(row, default=str, sort_keys=True)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _restore(backup: Path, database_url: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODIC_DATA_DIR", str(data_dir))
    assert main(["restore", str(backup), "--database-url", database_url]) == 0


@pytest.mark.slow
def test_a_backup_of_a_running_site_restores_into_an_empty_one(
    app: FastAPI,
    settings: Settings,
    empty_database: Callable[[], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with session_scope(app.state.engine, write=True) as session:
        ingest_sample_studies(session, app.state.store)
        admin, _ = add_user(session, "backup-admin", "admin")
        token = add_user(session, "backup-rad", "radiologist")[1]
        studies = [
            register_study(session, admin, f"1.2.826.0.1.3680043.9.8.{s}", f"BACKUP-{s}", None, 0.2)[0].study.id
            for s in range(STUDIES)
        ]
    assign_every_study(app.state.engine)  # the radiologist reads what an admin assigned
    graded: list[str] = []
    started = threading.Event()

    def grade(url: str) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            for study in studies:
                answer = http.post(f"/api/v1/studies/{study}/gradings", json={"endplates": endplates()})
                assert answer.status_code == 201, answer.text
                graded.append(answer.json()["id"])
                started.set()

    monkeypatch.setenv("MODIC_DATA_DIR", str(settings.data_dir))
    with LiveServer(app) as server:
        writer = threading.Thread(target=grade, args=(server.url,))
        writer.start()
        assert started.wait(60)
        assert main(["backup", str(tmp_path / "during"), "--database-url", settings.database_url]) == 0
        written_during = len(graded)
        writer.join()
        assert main(["backup", str(tmp_path / "after"), "--database-url", settings.database_url]) == 0
    assert "backed up" in capsys.readouterr().out
    assert written_during < STUDIES  # the first backup was taken while gradings were being written
    source = _tables(settings.database_url)
    source_files = _files(settings.data_dir)

    # The backup taken after the writes: the restored site equals the source, table for table, file for file.
    first_url = empty_database()
    _restore(tmp_path / "after", first_url, tmp_path / "restored-data", monkeypatch)
    assert _tables(first_url) == source
    assert _files(tmp_path / "restored-data") == source_files
    assert len(source["gradings"]) == STUDIES

    # The backup taken during the writes: a consistent snapshot (every row it holds is in the source as it
    # is, each grading with its version and audit event), with every image file.
    second_url = empty_database()
    _restore(tmp_path / "during", second_url, tmp_path / "restored2-data", monkeypatch)
    during = _tables(second_url)
    counter = during.pop("eligibility_feed_counter")  # the one row updated in place: the last feed position
    with session_scope(get_engine(second_url)) as session:
        last = session.connection().execute(text("SELECT max(seq) FROM eligibility_decisions")).scalar()
    assert counter == [(1, last)]
    for table, rows in during.items():
        assert {_canonical(r) for r in rows} <= {_canonical(r) for r in source[table]}, table
    assert 0 < len(during["gradings"]) <= STUDIES
    assert len(during["grading_versions"]) == len(during["gradings"])
    created = [r for r in during["audit_events"] if "grading.create" in r]
    assert len(created) == len(during["gradings"])
    assert _files(tmp_path / "restored2-data") == source_files


def test_restore_refuses_a_site_that_is_not_empty(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MODIC_DATA_DIR", str(tmp_path / "data"))
    assert main(["backup", str(tmp_path / "b"), "--database-url", database_url]) == 0
    assert main(["restore", str(tmp_path / "b"), "--database-url", database_url]) == 1
    err = capsys.readouterr().err.strip()
    assert err in (
        f"modic: error: database {make_url(database_url).database!r} exists; restore into a new file",
        "modic: error: the target PostgreSQL database has tables; restore into an empty database",
    )
    assert main(["backup", str(tmp_path / "b"), "--database-url", database_url]) == 1
    assert capsys.readouterr().err.strip() == (
        f"modic: error: backup folder {str(tmp_path / 'b')!r} is not empty; name a new folder"
    )
    assert main(["restore", str(tmp_path), "--database-url", database_url]) == 1
    assert (
        capsys.readouterr().err.strip() == f"modic: error: {str(tmp_path)!r} is not a backup: it has no manifest.json"
    )
