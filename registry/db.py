"""Database engines and sessions: SQLite (WAL, foreign keys, immediate write transactions) or
PostgreSQL, selected by URL; the schema is migrated with Alembic at start."""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, create_engine

from registry.dbapi import AUTOCHECKPOINT_PAGES as AUTOCHECKPOINT_PAGES
from registry.dbapi import MIGRATIONS, SQLITE_PRAGMAS, SQLITE_TIMEOUT_S, declared_heads

_WRITE_OPTION = "modic_write"
_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()
_log = logging.getLogger(__name__)


def _normalise_url(url: str) -> str:
    """Use the psycopg (v3) driver for plain ``postgresql://`` URLs."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


class _WalCheckpointer:
    """Checkpoints an SQLite database's write-ahead log on a thread of its own.

    SQLite's default is to checkpoint inside the COMMIT that grows the log past 1000 pages, so that
    one write (and every request queued behind it) waits while 4 MB are copied into the database
    file. Here, after commits, this thread runs a PASSIVE checkpoint (which blocks neither readers
    nor writers) every ``interval_s`` on a connection of its own, and it ends once nothing has been
    committed for an interval. Under a steady stream of writes a passive checkpoint never quite
    catches up, so commits still checkpoint past :data:`AUTOCHECKPOINT_PAGES`, but by then little is
    left to copy, and the log can start over. When the last connection closes, SQLite checkpoints as
    usual.
    """

    def __init__(self, database: str, *, uri: bool, interval_s: float = 0.1):
        self._database = database
        self._uri = uri
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._busy = threading.Lock()
        """Held during a checkpoint."""
        self._dirty = False
        self._running = False

    def committed(self) -> None:
        """Note a commit; starts the thread when it is not running."""
        if self._dirty and self._running:
            return  # already due: the running thread will see it
        with self._lock:
            self._dirty = True
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="wal-checkpoint", daemon=True).start()

    def quiesce(self) -> None:
        """Cancel the checkpoint due and wait for one in progress (the engine is being disposed)."""
        with self._lock:
            self._dirty = False
        self._busy.acquire()  # held by the thread while it checkpoints
        self._busy.release()

    def _run(self) -> None:
        while True:
            time.sleep(self._interval_s)
            with self._lock:
                if not self._dirty:
                    self._running = False
                    return
                self._dirty = False
                self._busy.acquire()
            try:
                connection = sqlite3.connect(self._database, uri=self._uri, timeout=30)
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
                finally:
                    connection.close()
            except sqlite3.Error:  # the next commit asks again; a failed checkpoint loses nothing
                _log.warning("SQLite WAL checkpoint of %s failed", self._database, exc_info=True)
            finally:
                self._busy.release()


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys and a busy timeout on every connection; write transactions take the
    write lock up front (``BEGIN IMMEDIATE``) so concurrent writers queue instead of failing.

    Writers of one process first take turns on a lock held from BEGIN to COMMIT/ROLLBACK: SQLite
    has one writer at a time anyway, and queueing in-process is fairer and faster than SQLite's
    sleeping busy handler (which still arbitrates between processes). Checkpoints of the log run
    apart from commits (:class:`_WalCheckpointer`).
    """
    write_lock = threading.Lock()
    database = engine.url.database
    checkpointer = (
        _WalCheckpointer(database, uri=bool(engine.url.query.get("uri")))
        if database and database != ":memory:"
        else None
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if not connection.get_execution_options().get(_WRITE_OPTION, False):
            connection.exec_driver_sql("BEGIN")
            return
        write_lock.acquire()
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            write_lock.release()
            raise
        connection.info[_WRITE_OPTION] = True

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(connection: Any) -> None:
        if connection.info.pop(_WRITE_OPTION, False):
            write_lock.release()

    if checkpointer is not None:
        event.listen(engine, "commit", lambda _connection: checkpointer.committed())
        event.listen(engine, "engine_disposed", lambda _engine: checkpointer.quiesce())


def get_engine(url: str) -> Engine:
    """The engine for ``url``, created once per process.

    Statement parameters are left out of error messages (``hide_parameters``): they can hold
    hospital identifiers, and error messages end up in logs.
    """
    url = _normalise_url(url)
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                database = make_url(url).database
                if database and database != ":memory:":
                    Path(database).parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(
                    url, connect_args={"check_same_thread": False, "timeout": SQLITE_TIMEOUT_S}, hide_parameters=True
                )
                _configure_sqlite(engine)
            else:
                engine = create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True, hide_parameters=True)
            _engines[url] = engine
        return engine


@functools.lru_cache(maxsize=64)
def write_engine(engine: Engine) -> Engine:
    """The same engine, marked so that its transactions are write transactions (made once per engine)."""
    return engine.execution_options(**{_WRITE_OPTION: True})


def open_session(engine: Engine, *, write: bool = False) -> Session:
    """A new session (no I/O until first used); the caller closes it."""
    return Session(write_engine(engine) if write else engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine, *, write: bool = False) -> Iterator[Session]:
    """A session for one unit of work; services commit, anything left is rolled back."""
    with open_session(engine, write=write) as session:
        yield session


def _schema_is_current(engine: Engine) -> bool:
    heads = declared_heads()
    if heads is None:
        return False
    try:
        return schema_revisions(engine) == heads
    except SQLAlchemyError:  # no alembic_version table yet: a new database
        return False


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision; safe when several processes start at once.
    A schema already current is left alone without loading Alembic (quick command-line start)."""
    if _schema_is_current(engine):
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with write_engine(engine).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(472251)"))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@functools.lru_cache(maxsize=1)
def migration_heads() -> tuple[str, ...]:
    """The newest Alembic revisions of this version of the code."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return tuple(sorted(ScriptDirectory.from_config(config).get_heads()))


def schema_revisions(engine: Engine) -> tuple[str, ...]:
    """The Alembic revisions the database is at (a query: raises when the database cannot be reached)."""
    with engine.connect() as connection:
        return tuple(sorted(connection.execute(text("SELECT version_num FROM alembic_version")).scalars()))


def dispose_engines() -> None:
    """Close every pooled connection (tests and shutdown)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
    write_engine.cache_clear()


def dispose_engine(url: str) -> None:
    """Close and forget the engine of one URL."""
    with _engines_lock:
        engine = _engines.pop(_normalise_url(url), None)
    if engine is not None:
        engine.dispose()
