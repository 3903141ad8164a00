"""The registry's database through its plain DB-API driver (``sqlite3``, or ``psycopg`` for PostgreSQL),
for work that must start quickly without SQLAlchemy (about half a second to import): ``modic user add``.

:class:`Db` runs statements on a driver connection and stores values as the SQLAlchemy tables do
(``registry/models``): a timestamp as UTC text on SQLite (SQLAlchemy's format) and as ``timestamptz``
on PostgreSQL, JSON as ``json.dumps`` text. The same code runs inside an ORM session
(:meth:`Db.of_session`), so that a rule written on it has one home for the service and the command
line. :func:`write_transaction` opens a connection of its own: the driver's directly for the URLs it
reads the same way as SQLAlchemy (``sqlite:///PATH``, ``postgresql://user:password@host:port/name``)
on a schema that is already current; otherwise through :mod:`registry.db` (which migrates the schema).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from registry.records import as_utc

if TYPE_CHECKING:
    from sqlmodel import Session

MIGRATIONS = Path(__file__).parent / "migrations"

AUTOCHECKPOINT_PAGES = 10_000
"""A commit that leaves the log longer than this (40 MB of 4 kB pages) checkpoints it."""
WAL_SIZE_LIMIT = 64 * 1024 * 1024
"""The log file is cut back to this size when it starts over."""

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
    "PRAGMA synchronous=NORMAL",
    f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}",
    f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}",
)
"""Run on every new SQLite connection (by :mod:`registry.db` too): write-ahead log, foreign keys, a
busy timeout, and the log's limits."""

SQLITE_TIMEOUT_S = 30
"""How long an SQLite connection waits for another writer's lock."""


class Db:
    """A DB-API connection of the registry's database (SQLite or PostgreSQL), with its dialect's
    placeholders and stored forms. Statements are written with ``?`` placeholders."""

    def __init__(self, connection: Any):
        self.connection = connection
        self.sqlite = isinstance(connection, sqlite3.Connection)
        self.Error: type[Exception]
        """The driver's base of database errors."""
        self.IntegrityError: type[Exception]
        """The driver's error for a broken constraint (e.g. a unique name taken)."""
        if self.sqlite:
            self.Error, self.IntegrityError = sqlite3.Error, sqlite3.IntegrityError
        else:
            import psycopg

            self.Error, self.IntegrityError = psycopg.Error, psycopg.IntegrityError

    @classmethod
    def of_session(cls, session: Session) -> Db:
        """The driver connection of ``session``'s transaction (begun, with its pending changes flushed)."""
        session.flush()
        return cls(session.connection().connection.driver_connection)

    def execute(self, statement: str, parameters: Sequence[Any] = ()) -> Any:
        """Run ``statement`` (``?`` placeholders); the driver's cursor."""
        return self.connection.execute(statement if self.sqlite else _format_style(statement), parameters)

    def timestamp(self, value: dt.datetime | None) -> Any:
        """``value`` (UTC-aware) as a timestamp column stores it (``registry.models.base.UTCDateTime``)."""
        if value is None:
            return None
        value = as_utc(value)
        if not self.sqlite:
            return value
        return (
            f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
            f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
        )

    def json(self, value: Any) -> Any:
        """``value`` as a JSON column stores it."""
        if self.sqlite:
            return json.dumps(value)
        from psycopg.types.json import Json

        return Json(value)


@functools.lru_cache(maxsize=64)
def _format_style(statement: str) -> str:
    return statement.replace("?", "%s")


_REVISION = re.compile(r"^revision(?::[^=]*)? = \"([^\"]+)\"", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision(?::[^=]*)? = (.+)$", re.MULTILINE)


@functools.lru_cache(maxsize=1)
def declared_heads() -> tuple[str, ...] | None:
    """The newest revisions, read from the migration files as text (``None`` when a file does not
    declare its revisions in the usual form): lets a command skip loading Alembic when the schema is
    current."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        parents.update(re.findall(r"\"([^\"]+)\"", down.group(1)))
    return tuple(sorted(revisions - parents)) or None


_SQLALCHEMY_URL = re.compile(
    r"""
    (?P<name>[\w+]+)://
    (?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
    (?:(?:\[(?P<ipv6host>[^/?]+)\]|(?P<ipv4host>[^/:?]+))?(?::(?P<port>[^/?]*))?)?
    (?:/(?P<database>[^?]*))?
    (?:\?(?P<query>.*))?
    """,
    re.VERBOSE,
)
"""How SQLAlchemy splits a URL (``sqlalchemy.engine.url``)."""


def sqlite_path(url: str) -> str | None:
    """The file of an ``sqlite:///PATH`` URL as SQLAlchemy opens it (an absolute path), or ``None`` for any
    other form (a query string, memory, a host)."""
    parts = _SQLALCHEMY_URL.fullmatch(url)
    if parts is None or parts["name"] != "sqlite" or parts["query"] is not None:
        return None
    if any(parts[p] for p in ("username", "password", "ipv6host", "ipv4host", "port")):
        return None
    database = unquote(parts["database"] or "")
    return None if database in ("", ":memory:") else os.path.abspath(database)


def postgresql_arguments(url: str) -> dict[str, Any] | None:
    """The keyword arguments SQLAlchemy gives ``psycopg.connect`` for a ``postgresql://`` (or
    ``postgresql+psycopg://``) URL without a query string, or ``None`` for any other form."""
    parts = _SQLALCHEMY_URL.fullmatch(url)
    if parts is None or parts["name"] not in ("postgresql", "postgresql+psycopg") or parts["query"] is not None:
        return None
    arguments: dict[str, Any] = {}
    for key, name in (("user", "username"), ("password", "password"), ("dbname", "database")):
        if parts[name]:
            arguments[key] = unquote(parts[name])
    host = parts["ipv4host"] or parts["ipv6host"]
    if host:
        arguments["host"] = host
    if parts["port"]:
        if not parts["port"].isdigit():
            return None
        arguments["port"] = int(parts["port"])
    return arguments or None


def _direct(url: str) -> Db | None:
    """A connection of the driver's own, or ``None`` when the URL is not one read here."""
    path = sqlite_path(url)
    if path is not None:
        if not Path(path).is_file():
            return None  # a new database: registry.db makes its folder and the schema
        connection = sqlite3.connect(path, timeout=SQLITE_TIMEOUT_S, isolation_level=None)
        for pragma in SQLITE_PRAGMAS:
            connection.execute(pragma)
        return Db(connection)
    arguments = postgresql_arguments(url)
    if arguments is None:
        return None
    import psycopg

    return Db(psycopg.connect(**arguments))


def _schema_is_current(db: Db) -> bool:
    heads = declared_heads()
    if heads is None:
        return False
    try:
        found = tuple(sorted(row[0] for row in db.execute("SELECT version_num FROM alembic_version").fetchall()))
    except db.Error:  # no alembic_version table: a new database
        found = ()
    db.connection.rollback()  # ends the read transaction PostgreSQL opened (none is open on SQLite)
    return found == heads


@contextmanager
def write_transaction(url: str) -> Iterator[Db]:
    """A write transaction on the migrated database of ``url`` (SQLAlchemy's URL form): committed when
    the block ends, rolled back when it raises. On SQLite it takes the write lock up front
    (``BEGIN IMMEDIATE``), as :mod:`registry.db`'s write sessions do."""
    db = _direct(url)
    if db is not None and not _schema_is_current(db):
        db.connection.close()
        db = None
    pooled = None
    if db is None:
        from registry.db import get_engine, migrate

        engine = get_engine(url)
        migrate(engine)
        pooled = engine.raw_connection()
        db = Db(pooled.driver_connection)
    try:
        if db.sqlite:  # in autocommit mode (as registry.db sets it): the transaction is begun here
            db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.connection.rollback()
            raise
        db.connection.commit()
    finally:
        if pooled is not None:
            pooled.close()
        else:
            db.connection.close()
