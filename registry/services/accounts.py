"""Creating users, issuing their tokens and granting the registrar privilege: the one home of these
rules (names allowed, roles, token hashing and expiry, the audit events), on a plain DB-API connection
(:class:`registry.dbapi.Db`) inside the caller's transaction.

:mod:`registry.services.users` runs them in an ORM session (the service, the demo); ``modic user add``
runs them on the driver's own connection, without loading SQLAlchemy, so that it starts quickly. Either
way the same rows are written.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from registry.dbapi import Db
from registry.errors import AlreadyExists, InvalidInput, NotFound
from registry.records import new_id, utcnow
from registry.repositories import user_rows
from registry.roles import Role
from registry.security import new_token, token_digest

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


@dataclass(frozen=True)
class IssuedToken:
    """A token just issued: its value (shown once) and when it expires (None: never)."""

    value: str
    expires_at: dt.datetime | None


@dataclass(frozen=True)
class NewUser:
    """A user just created, with its first token."""

    id: str
    name: str
    role: Role
    token: IssuedToken


def create_user(db: Db, name: str, role: str, actor_id: str | None = None, *, token_days: float = 0) -> NewUser:
    """Create a user with a fresh token expiring after ``token_days`` (0: never), audited as ``user.create``
    by ``actor_id`` (None: the command line). :class:`InvalidInput` for a name or role not allowed,
    :class:`AlreadyExists` when the name is taken (the caller rolls back)."""
    if not _NAME.match(name):
        raise InvalidInput(f"user name {name!r} is not allowed; use 1-100 letters, digits, '.', '_', '@' or '-'")
    try:
        parsed_role = Role.parse(role)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if user_rows.user_id(db, name) is not None:
        raise AlreadyExists(f"user {name!r} already exists")
    user_id = new_id()
    try:
        user_rows.insert_user(db, user_id, name, parsed_role.value, utcnow())
    except db.IntegrityError:  # created meanwhile by another transaction
        raise AlreadyExists(f"user {name!r} already exists") from None
    token = add_token(db, user_id, token_days)
    user_rows.insert_audit_event(
        db, utcnow(), actor_id, "user.create", "user", user_id, {"name": name, "role": parsed_role.value}
    )
    return NewUser(user_id, name, parsed_role, token)


def add_token(db: Db, user_id: str, days: float) -> IssuedToken:
    """A new token of user ``user_id`` expiring after ``days`` (0: never); only its digest is stored (the
    caller audits it)."""
    value = new_token()
    expires_at = utcnow() + dt.timedelta(days=days) if days > 0 else None
    user_rows.insert_token(db, new_id(), user_id, token_digest(value), utcnow(), expires_at)
    return IssuedToken(value, expires_at)


def named_user_id(db: Db, name: str) -> str:
    """The id of user ``name``; :class:`NotFound` when there is none."""
    user_id = user_rows.user_id(db, name)
    if user_id is None:
        raise NotFound(f"user {name!r} does not exist")
    return user_id


def set_registrar(db: Db, name: str, allowed: bool, actor_id: str | None) -> str:
    """Grant (or take back) user ``name``'s privilege to register studies and upload images, audited as
    ``user.registrar``; returns the user's id.

    Every process sees the change within ``MODIC_REVOCATION_CHECK_SECONDS`` (it raises the revocation
    counter, so cached users are read again).
    """
    user_id = named_user_id(db, name)
    user_rows.set_registrar(db, user_id, allowed)
    user_rows.bump_revocation_epoch(db)
    user_rows.insert_audit_event(db, utcnow(), actor_id, "user.registrar", "user", user_id, {"registrar": allowed})
    return user_id
