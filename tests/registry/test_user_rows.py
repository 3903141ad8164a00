"""``modic user add`` (plain DB-API, no ORM) and the service (:func:`registry.services.users.add_user`, in
an ORM session) run one rule, :func:`registry.services.accounts.create_user`: the rows they write are the
same, column for column, in the form the SQLAlchemy tables store and read back."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from registry.db import get_engine, session_scope
from registry.dbapi import Db
from registry.models import ApiToken, AuditEvent, Revocations, User
from registry.services.users import add_user, authenticate, set_registrar
from tests.api.test_cli import _modic

_DAYS = 30


def _rows(session: Session, name: str) -> dict[str, Any]:
    """The user ``name``, its tokens and its audit events read through the ORM, with what differs between
    two users (ids, names, times, digests) checked and left out."""
    user = session.exec(select(User).where(User.name == name)).one()
    tokens = list(session.exec(select(ApiToken).where(ApiToken.user_id == user.id)))
    events = list(session.exec(select(AuditEvent).where(AuditEvent.entity_id == user.id).order_by(col(AuditEvent.id))))
    assert user.created_at.tzinfo is dt.UTC
    (token,) = tokens
    assert token.created_at.tzinfo is dt.UTC and token.expires_at is not None
    assert abs(token.expires_at - token.created_at - dt.timedelta(days=_DAYS)) < dt.timedelta(seconds=1)
    for event in events:
        assert event.at.tzinfo is dt.UTC and user.created_at <= event.at
        if event.detail.get("name") == name:
            event.detail["name"] = "NAME"
    return {
        "user": user.model_dump(exclude={"id", "name", "created_at"}),
        "token": token.model_dump(exclude={"id", "user_id", "token_sha256", "created_at", "expires_at"}),
        "events": [e.model_dump(exclude={"id", "at", "entity_id"}) for e in events],
    }


def _stored(session: Session, name: str) -> dict[str, Any]:
    """The rows of user ``name`` as the database holds them (no column type applied), by column name."""
    connection = session.connection()
    user = dict(connection.execute(text("SELECT * FROM users WHERE name = :name"), {"name": name}).mappings().one())
    token = connection.execute(text("SELECT * FROM api_tokens WHERE user_id = :id"), {"id": user["id"]})
    events = connection.execute(
        text("SELECT * FROM audit_events WHERE entity_id = :id ORDER BY id"), {"id": user["id"]}
    )
    return {
        "users": user,
        "api_tokens": dict(token.mappings().one()),
        "audit_events": [dict(event) for event in events.mappings()],
    }


_SQLITE_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")


def _kinds(stored: Any) -> Any:
    """The stored values' types (and the form of SQLite's timestamp text), by column."""
    if isinstance(stored, dict):
        return {column: _kinds(value) for column, value in stored.items()}
    if isinstance(stored, list):
        return [_kinds(value) for value in stored]
    if isinstance(stored, str) and _SQLITE_TIME.fullmatch(stored):
        return "timestamp text"
    return type(stored).__name__


def test_the_command_line_and_the_service_write_the_same_rows(database_url: str) -> None:
    cli = _modic(
        "user", "add", "by-cli", "--role", "radiologist", "--registrar", "--database-url", database_url,
        env={"MODIC_TOKEN_LIFETIME_DAYS": str(_DAYS)},
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    cli_token = cli.stdout.splitlines()[-1]
    engine = get_engine(database_url)
    with session_scope(engine, write=True) as session:
        epoch = session.get(Revocations, 1)
        assert epoch is not None and epoch.epoch == 1  # the command line's grant raised it
        _, service_token = add_user(session, "by-service", "radiologist", token_days=_DAYS)
        set_registrar(session, "by-service", True, None)
    with session_scope(engine) as session:
        assert _rows(session, "by-cli") == _rows(session, "by-service")
        created = {"name": "NAME", "role": "radiologist"}
        assert _rows(session, "by-cli")["events"] == [
            {"actor_id": None, "action": "user.create", "entity": "user", "detail": created},
            {"actor_id": None, "action": "user.registrar", "entity": "user", "detail": {"registrar": True}},
        ]
        revocations = session.get(Revocations, 1, populate_existing=True)
        assert revocations is not None and revocations.epoch == 2
        for name, token in (("by-cli", cli_token), ("by-service", service_token)):
            found = authenticate(session, token)
            assert found is not None and found[0].name == name
            assert found[1].token_sha256 == hashlib.sha256(token.encode()).hexdigest()
        cli_rows, service_rows = _stored(session, "by-cli"), _stored(session, "by-service")
        assert _kinds(cli_rows) == _kinds(service_rows)
        assert set(cli_rows["users"]) == set(User.model_fields)
        assert set(cli_rows["api_tokens"]) == set(ApiToken.model_fields)
        # Each stored time is what the column type stores for the time the ORM reads back.
        db = Db.of_session(session)
        user = session.exec(select(User).where(User.name == "by-cli")).one()
        token = session.exec(select(ApiToken).where(ApiToken.user_id == user.id)).one()
        assert cli_rows["users"]["created_at"] == db.timestamp(user.created_at)
        assert cli_rows["api_tokens"]["expires_at"] == db.timestamp(token.expires_at)


def test_a_timestamp_is_stored_as_the_tables_store_it(database_url: str) -> None:
    """One time written by the ORM and by :meth:`Db.timestamp`: the same stored value, read back equal."""
    at = dt.datetime(2024, 2, 29, 23, 59, 58, 7, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    engine = get_engine(database_url)
    with session_scope(engine, write=True) as session:
        session.add(User(id="orm", name="orm", role="admin", created_at=at))  # type: ignore[arg-type]
        session.flush()
        db = Db.of_session(session)
        db.execute(
            "INSERT INTO users (id, name, role, active, registrar, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            ("raw", "raw", "admin", True, False, db.timestamp(at)),
        )
        session.commit()
    with session_scope(engine) as session:
        stored = dict(session.connection().execute(text("SELECT id, created_at FROM users")).all())
        assert stored["orm"] == stored["raw"]
        if db.sqlite:
            assert stored["raw"] == "2024-02-29 21:59:58.000007"
        users = {u.id: u for u in session.exec(select(User))}
        assert users["orm"].created_at == users["raw"].created_at == at
        assert users["raw"].created_at.tzinfo is dt.UTC
