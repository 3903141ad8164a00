"""Backups of a site, taken while it runs, and their restore into an empty site (docs/deployment.md#backups).

A backup is a folder:

- ``manifest.json``: when, from which kind of database, at which schema revision, how many files;
- ``database.sqlite`` (SQLite's online backup API: a consistent copy page by page while readers and
  writers go on) or ``database.dump`` (``pg_dump --format=custom``: one consistent snapshot);
- ``data/``: the image store's directory (``MODIC_DATA_DIR``), file for file.

The database is copied first, the files after it. Images are written to the store before the
transaction that registers them commits, and a stored file never changes, so every file the copied
database refers to is in the copy (files that arrived meanwhile come along unreferenced, as after an
interrupted upload). A restore refuses a database or store that is not empty, then migrates the
database to this version's schema.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, inspect
from sqlalchemy.engine import URL, make_url

from registry.db import dispose_engine, get_engine, migrate, schema_revisions
from registry.errors import InvalidInput

FORMAT = 1
"""Version of the backup folder's layout."""
_SKIPPED_FILES = (".incoming-", ".ready-")
"""Files of the store that are being written (or probed) at the moment: never part of a backup."""


@dataclass(frozen=True)
class BackupReport:
    """What a backup or restore copied."""

    database: str
    """``sqlite`` or ``postgresql``."""
    files: int
    bytes: int
    seconds: float

    def line(self, verb: str, where: Path) -> str:
        return (
            f"{verb} {self.database} database and {self.files} files ({self.bytes / 1e6:.1f} MB) "
            f"{'to' if verb == 'backed up' else 'from'} {where} in {self.seconds:.1f} s"
        )


def _kind(url: URL) -> str:
    return "postgresql" if url.get_backend_name() == "postgresql" else "sqlite"


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The URL for pg_dump / pg_restore (the password goes in the environment, not on a command line)."""
    env = {**os.environ}
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise InvalidInput(f"{command[0]} failed (exit {done.returncode}): {last}")


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise InvalidInput(f"database {url.database!r} is in memory; back up a database file")
    return Path(url.database)


def _copy_tree(source: Path, target: Path) -> tuple[int, int]:
    """Copy the files under ``source`` (skipping files in flight); (files, bytes)."""
    files = size = 0
    if not source.is_dir():
        return 0, 0
    for folder, _dirs, names in os.walk(source):
        for name in sorted(names):
            if name.startswith(_SKIPPED_FILES):
                continue
            path = Path(folder) / name
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copy2(path, destination)
            except FileNotFoundError:
                continue  # removed while the backup ran
            files += 1
            size += destination.stat().st_size
    return files, size


def backup(database_url: str, data_dir: Path, destination: Path) -> BackupReport:
    """Back up the site on ``database_url`` and ``data_dir`` into the new folder ``destination``."""
    started = dt.datetime.now(dt.UTC)
    if destination.exists() and any(destination.iterdir()):
        raise InvalidInput(f"backup folder {str(destination)!r} is not empty; name a new folder")
    destination.mkdir(parents=True, exist_ok=True)
    url = make_url(database_url)
    kind = _kind(url)
    engine = get_engine(database_url)
    revisions = schema_revisions(engine)
    if kind == "sqlite":
        source = sqlite3.connect(_sqlite_path(url), timeout=30)
        target = sqlite3.connect(destination / "database.sqlite")
        try:
            source.backup(target)  # one step: a consistent snapshot of the database
        finally:
            target.close()
            source.close()
    else:
        libpq, env = _libpq(url)
        _run(["pg_dump", "--format=custom", "--no-owner", "--file", str(destination / "database.dump"), libpq], env)
    files, size = _copy_tree(data_dir, destination / "data")
    seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    manifest = {
        "format": FORMAT,
        "created_at": started.isoformat(),
        "database": kind,
        "schema_revisions": list(revisions),
        "files": files,
        "bytes": size,
    }
    (destination / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return BackupReport(kind, files, size, seconds)


def _manifest(source: Path) -> dict[str, object]:
    path = source / "manifest.json"
    if not path.is_file():
        raise InvalidInput(f"{str(source)!r} is not a backup: it has no manifest.json")
    manifest: dict[str, object] = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise InvalidInput(f"backup format {manifest.get('format')!r} is not supported; allowed: {FORMAT}")
    return manifest


def _is_empty(engine: Engine) -> bool:
    return not inspect(engine).get_table_names()


def restore(source: Path, database_url: str, data_dir: Path) -> BackupReport:
    """Restore the backup folder ``source`` into the empty database ``database_url`` and the empty
    ``data_dir``; the database is then migrated to this version's schema."""
    started = dt.datetime.now(dt.UTC)
    manifest = _manifest(source)
    url = make_url(database_url)
    kind = _kind(url)
    if manifest["database"] != kind:
        raise InvalidInput(f"the backup holds a {manifest['database']} database; restore it into one, not {kind}")
    if data_dir.exists() and any(data_dir.iterdir()):
        raise InvalidInput(f"data folder {str(data_dir)!r} is not empty; restore into an empty one")
    if kind == "sqlite":
        path = _sqlite_path(url)
        if path.exists() and path.stat().st_size > 0:
            raise InvalidInput(f"database {str(path)!r} exists; restore into a new file")
        path.parent.mkdir(parents=True, exist_ok=True)
        backup_copy = sqlite3.connect(source / "database.sqlite")
        target = sqlite3.connect(path)
        try:
            backup_copy.backup(target)
        finally:
            target.close()
            backup_copy.close()
    else:
        if not _is_empty(get_engine(database_url)):
            raise InvalidInput("the target PostgreSQL database has tables; restore into an empty database")
        dispose_engine(database_url)
        libpq, env = _libpq(url)
        dump = str(source / "database.dump")
        _run(["pg_restore", "--no-owner", "--exit-on-error", "--single-transaction", "--dbname", libpq, dump], env)
    files, size = _copy_tree(source / "data", data_dir)
    migrate(get_engine(database_url))
    seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    return BackupReport(kind, files, size, seconds)
