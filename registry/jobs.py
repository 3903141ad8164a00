"""Background work that runs once across the processes of a site.

Several ``modic serve`` processes (``--workers N``, or several hosts) share one database; work that is
not a request (the date re-evaluation of eligibility, a pull from the PACS) must run in one of them
only. :func:`exclusive` holds a lock named after the job while it runs:

- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a connection of its own.
  The server releases it when that connection ends, so a process that dies frees its jobs.
- SQLite: an exclusive ``flock`` on a file beside the database (``<database>.locks/``), which the
  kernel releases when the process ends; an in-memory database has one process, so a lock of this
  process is enough.

A periodic job (:func:`run_once` with ``every``) is also recorded in ``background_jobs``: the process
that holds the lock skips the run when any process started it less than one period ago, so N
processes that wake together (at start, or hourly) run it once between them. ``MODIC_BACKGROUND``
says whether a process takes part at all (:class:`registry.settings.BackgroundMode`).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

from registry.db import session_scope
from registry.models import BackgroundJob
from registry.models.base import utcnow

REEVALUATION_JOB = "eligibility-reevaluation"
"""The periodic re-evaluation of decisions whose date criteria may have changed."""

_local_locks: dict[str, threading.Lock] = {}
_local_locks_guard = threading.Lock()


def node() -> str:
    """This process, as ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _advisory_key(name: str) -> int:
    """A signed 64-bit key for ``pg_try_advisory_lock``, derived from the job's name."""
    return int.from_bytes(hashlib.sha256(f"modic-job:{name}".encode()).digest()[:8], "big", signed=True)


def _local_lock(name: str) -> threading.Lock:
    with _local_locks_guard:
        return _local_locks.setdefault(name, threading.Lock())


@contextmanager
def _postgresql_lock(engine: Engine, name: str) -> Iterator[bool]:
    key = _advisory_key(name)
    connection = engine.connect()
    held = False
    try:
        held = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())
        connection.commit()  # a session-level lock outlives the transaction that took it
        yield held
    finally:
        try:
            if held:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
        except Exception:
            connection.invalidate()  # the server frees the locks of a connection that ends
        connection.close()


@contextmanager
def _file_lock(database: str, name: str) -> Iterator[bool]:
    directory = Path(f"{database}.locks")
    directory.mkdir(exist_ok=True)
    path = directory / f"{hashlib.sha256(name.encode()).hexdigest()[:24]}.lock"
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = True
        except BlockingIOError:
            held = False
        try:
            yield held
        finally:
            if held:
                fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def exclusive(engine: Engine, name: str) -> Iterator[bool]:
    """Take the site-wide lock ``name`` if no thread or process holds it; yields whether it was taken.
    It is held until the block ends."""
    local = _local_lock(f"{engine.url}#{name}")
    if not local.acquire(blocking=False):
        yield False
        return
    try:
        database = engine.url.database
        if engine.dialect.name == "postgresql":
            with _postgresql_lock(engine, name) as held:
                yield held
        elif database and database != ":memory:" and not database.startswith("file:"):
            with _file_lock(database, name) as held:
                yield held
        else:
            yield True
    finally:
        local.release()


def _claim(engine: Engine, name: str, every: dt.timedelta) -> bool:
    """Record a run of ``name`` unless one started less than ``every`` ago; whether it is this one's."""
    now = utcnow()
    with session_scope(engine, write=True) as session:
        job = session.get(BackgroundJob, name)
        if job is not None and now - job.started_at < every:
            return False
        if job is None:
            job = BackgroundJob(name=name, started_at=now, node=node())
        job.runs += 1
        job.started_at, job.finished_at, job.node, job.error = now, None, node(), None
        session.add(job)
        session.commit()
    return True


def _finish(engine: Engine, name: str, error: str | None) -> None:
    with session_scope(engine, write=True) as session:
        job = session.get(BackgroundJob, name)
        if job is not None:
            job.finished_at, job.error = utcnow(), error
            session.add(job)
            session.commit()


@contextmanager
def run_once(engine: Engine, name: str, *, every: dt.timedelta | None = None) -> Iterator[bool]:
    """Yields True in the one process (and thread) that should run job ``name`` now, False elsewhere.

    Without ``every`` the job runs wherever its lock is free (a pull: never twice at once). With
    ``every``, the run is also skipped when the job started less than ``every`` ago in any process, and
    each run is counted in ``background_jobs``.
    """
    with exclusive(engine, name) as held:
        if not held or (every is not None and not _claim(engine, name, every)):
            yield False
            return
        if every is None:
            yield True
            return
        try:
            yield True
        except BaseException as exc:
            _finish(engine, name, type(exc).__name__)
            raise
        _finish(engine, name, None)


def job_runs(engine: Engine, name: str) -> int:
    """How many times job ``name`` was started, by any process."""
    with session_scope(engine) as session:
        job = session.get(BackgroundJob, name)
        return job.runs if job is not None else 0
