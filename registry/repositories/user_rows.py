"""Rows of users, their tokens and the audit trail, on a plain DB-API connection (:class:`registry.dbapi.Db`):
the statements of :mod:`registry.services.accounts`, which the service and the command line share. Each
writes the row the SQLAlchemy table of ``registry/models`` would (every column, values as it stores them)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from registry.dbapi import Db


def user_id(db: Db, name: str) -> str | None:
    """The id of the user called ``name``."""
    row = db.execute("SELECT id FROM users WHERE name = ?", (name,)).fetchone()
    return None if row is None else str(row[0])


def insert_user(db: Db, user_id: str, name: str, role: str, created_at: dt.datetime) -> None:
    """A new active user without the registrar privilege (``registry.models.User``); the driver's
    ``IntegrityError`` when the name is taken."""
    db.execute(
        "INSERT INTO users (id, name, role, active, registrar, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (user_id, name, role, True, False, db.timestamp(created_at)),
    )


def set_registrar(db: Db, user_id: str, allowed: bool) -> None:
    """Grant or take back the registrar privilege of the user ``user_id``."""
    db.execute("UPDATE users SET registrar = ? WHERE id = ?", (allowed, user_id))


def insert_token(
    db: Db, token_id: str, user_id: str, digest: str, created_at: dt.datetime, expires_at: dt.datetime | None
) -> None:
    """A new unrevoked token (``registry.models.ApiToken``), stored as its digest."""
    db.execute(
        "INSERT INTO api_tokens (id, user_id, token_sha256, created_at, revoked_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (token_id, user_id, digest, db.timestamp(created_at), None, db.timestamp(expires_at)),
    )


def bump_revocation_epoch(db: Db) -> None:
    """Raise the revocation counter (``registry.models.Revocations``)."""
    db.execute("UPDATE revocations SET epoch = epoch + 1 WHERE id = 1")


def insert_audit_event(
    db: Db, at: dt.datetime, actor_id: str | None, action: str, entity: str, entity_id: str, detail: dict[str, Any]
) -> None:
    """One audit event (``registry.models.AuditEvent``; its id is the database's next)."""
    db.execute(
        "INSERT INTO audit_events (at, actor_id, action, entity, entity_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
        (db.timestamp(at), actor_id, action, entity, entity_id, db.json(detail)),
    )
