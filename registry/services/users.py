"""Creating users and authenticating tokens."""

from __future__ import annotations

import re
import time

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from registry.errors import AlreadyExists, InvalidInput
from registry.models import ApiToken, Role, User
from registry.repositories import users as users_repo
from registry.security import new_token, token_digest
from registry.services import audit

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


def add_user(session: Session, name: str, role: str, actor: User | None = None) -> tuple[User, str]:
    """Create a user with a fresh token; returns the user and the token (shown once, stored hashed)."""
    if not _NAME.match(name):
        raise InvalidInput(f"user name {name!r} is not allowed; use 1-100 letters, digits, '.', '_', '@' or '-'")
    try:
        parsed_role = Role.parse(role)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if users_repo.user_by_name(session, name) is not None:
        raise AlreadyExists(f"user {name!r} already exists")
    user = User(name=name, role=parsed_role.value)
    token = new_token()
    session.add(user)
    session.flush()
    session.add(ApiToken(user_id=user.id, token_sha256=token_digest(token)))
    audit.record(session, actor, "user.create", "user", user.id, name=name, role=parsed_role.value)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise AlreadyExists(f"user {name!r} already exists") from None
    return user, token


def authenticate(session: Session, token: str) -> User | None:
    """The user a bearer token belongs to, or None."""
    return users_repo.user_by_token_digest(session, token_digest(token))


class TokenCache:
    """Users of recently seen tokens, kept ``ttl_seconds`` so that every request need not query.

    Only successful look-ups are kept, by token digest; a revoked token or deactivated user is
    refused at the latest ``ttl_seconds`` later (0 turns the cache off).
    """

    def __init__(self, ttl_seconds: float, max_entries: int = 10_000):
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, User]] = {}

    def get(self, token: str) -> User | None:
        """The cached user of ``token`` while fresh."""
        entry = self._entries.get(token_digest(token))
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, token: str, user: User) -> None:
        """Remember the user of a token that was just authenticated."""
        if self.ttl_seconds <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[token_digest(token)] = (time.monotonic() + self.ttl_seconds, user)


def ensure_user_with_new_token(session: Session, name: str, role: str) -> str:
    """A fresh token for user ``name``, creating the user with ``role`` when missing (demo set-up)."""
    user = users_repo.user_by_name(session, name)
    if user is None:
        return add_user(session, name, role)[1]
    token = new_token()
    session.add(ApiToken(user_id=user.id, token_sha256=token_digest(token)))
    audit.record(session, None, "token.create", "user", user.id)
    session.commit()
    return token
