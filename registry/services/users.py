"""Creating users and authenticating tokens."""

from __future__ import annotations

import datetime as dt
import math
import time

from sqlmodel import Session

from registry.dbapi import Db
from registry.errors import AlreadyExists, NotFound
from registry.models import ApiToken, User
from registry.records import utcnow
from registry.repositories import users as users_repo
from registry.security import token_digest
from registry.services import accounts, audit
from registry.services.accounts import IssuedToken as IssuedToken  # re-exported: what issue_token returns


def add_user(
    session: Session, name: str, role: str, actor: User | None = None, *, token_days: float = 0
) -> tuple[User, str]:
    """Create a user with a fresh token; returns the user and the token (shown once, stored hashed).

    The token expires after ``token_days`` (0: never). The rule is :func:`registry.services.accounts.create_user`
    (which ``modic user add`` runs without the ORM).
    """
    try:
        created = accounts.create_user(
            Db.of_session(session), name, role, None if actor is None else actor.id, token_days=token_days
        )
    except AlreadyExists:
        session.rollback()
        raise
    user = session.get(User, created.id)
    assert user is not None  # just inserted in this transaction
    session.commit()
    return user, created.token.value


def _named_user(session: Session, name: str) -> User:
    user = users_repo.user_by_name(session, name)
    if user is None:
        raise NotFound(f"user {name!r} does not exist")
    return user


def issue_token(
    session: Session, name: str, actor: User | None, *, days: float, revoke_others: bool = False
) -> IssuedToken:
    """A new token for user ``name`` expiring after ``days`` (0: never); with ``revoke_others`` (a
    rotation) every earlier token of the user stops working in the same transaction."""
    user = _named_user(session, name)
    if revoke_others:
        _revoke(session, user, actor)
    token = accounts.add_token(Db.of_session(session), user.id, days)
    audit.record(session, actor, "token.create", "user", user.id, expires_at=_iso(token.expires_at))
    session.commit()
    return token


def revoke_tokens(session: Session, name: str, actor: User | None) -> int:
    """Revoke every token of user ``name``; returns how many were live."""
    count = _revoke(session, _named_user(session, name), actor)
    session.commit()
    return count


def revoke_token(session: Session, token: str, actor: User) -> None:
    """Revoke one token of ``actor`` (the token given, e.g. the one the request came with)."""
    digest = token_digest(token)
    for live in users_repo.live_tokens(session, actor.id):
        if live.token_sha256 == digest:
            live.revoked_at = utcnow()
            session.add(live)
            users_repo.bump_revocation_epoch(session)
            audit.record(session, actor, "token.revoke", "user", actor.id, tokens=1)
    session.commit()


def _revoke(session: Session, user: User, actor: User | None) -> int:
    tokens = users_repo.live_tokens(session, user.id)
    now = utcnow()
    for token in tokens:
        token.revoked_at = now
        session.add(token)
    users_repo.bump_revocation_epoch(session)
    audit.record(session, actor, "token.revoke", "user", user.id, tokens=len(tokens))
    return len(tokens)


def set_registrar(session: Session, name: str, allowed: bool, actor: User | None) -> User:
    """Grant (or take back) user ``name``'s privilege to register studies and upload images
    (:func:`registry.services.accounts.set_registrar`, which ``modic user add --registrar`` runs too).

    Every process sees the change within ``MODIC_REVOCATION_CHECK_SECONDS`` (it raises the revocation
    counter, so cached users are read again).
    """
    user_id = accounts.set_registrar(Db.of_session(session), name, allowed, None if actor is None else actor.id)
    user = session.get(User, user_id, populate_existing=True)  # the row as just updated
    assert user is not None
    session.commit()
    return user


def disable_user(session: Session, name: str, actor: User | None) -> User:
    """Disable user ``name``: none of their tokens is accepted any more (the user and history stay)."""
    user = _named_user(session, name)
    user.active = False
    session.add(user)
    users_repo.bump_revocation_epoch(session)
    audit.record(session, actor, "user.disable", "user", user.id)
    session.commit()
    return user


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def authenticate(session: Session, token: str) -> tuple[User, ApiToken] | None:
    """The user a bearer token belongs to, with the token's record, or None (unknown, revoked, expired,
    or the user disabled)."""
    return users_repo.user_by_token_digest(session, token_digest(token), utcnow())


def revocation_epoch(session: Session) -> int:
    """The revocation counter (see :class:`TokenCache`)."""
    return users_repo.revocation_epoch(session)


class TokenCache:
    """Users of recently seen tokens, kept ``ttl_seconds`` so that every request need not query.

    Only successful look-ups are kept, by token digest, and never past the token's expiry. Every
    revocation raises the database's revocation counter; the cache is checked against it at least
    every ``epoch_seconds`` (:meth:`epoch_due`, :meth:`observe_epoch`) and forgets every token when it
    changed, so that a revoked token or disabled user is refused by every process within about
    ``epoch_seconds`` (0 for ``ttl_seconds`` turns the cache off).
    """

    def __init__(self, ttl_seconds: float, max_entries: int = 10_000, epoch_seconds: float = 1.0):
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.epoch_seconds = epoch_seconds
        self._entries: dict[str, tuple[float, User]] = {}
        self._epoch: int | None = None
        self._epoch_checked = -math.inf

    def get(self, token: str) -> User | None:
        """The cached user of ``token`` while fresh."""
        entry = self._entries.get(token_digest(token))
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, token: str, user: User, expires_at: dt.datetime | None = None) -> None:
        """Remember the user of a token that was just authenticated (no longer than the token lives)."""
        if self.ttl_seconds <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        until = time.monotonic() + self.ttl_seconds
        if expires_at is not None:
            until = min(until, time.monotonic() + (expires_at - utcnow()).total_seconds())
        self._entries[token_digest(token)] = (until, user)

    def forget(self) -> None:
        """Forget every cached token and read the revocation counter again on the next request."""
        self._entries.clear()
        self._epoch_checked = -math.inf

    def epoch_due(self) -> bool:
        """Whether the revocation counter should be read again."""
        return time.monotonic() - self._epoch_checked >= self.epoch_seconds

    def observe_epoch(self, epoch: int) -> None:
        """Note the revocation counter just read; a change forgets every cached token."""
        if epoch != self._epoch:
            self._entries.clear()
            self._epoch = epoch
        self._epoch_checked = time.monotonic()


def ensure_user_with_new_token(session: Session, name: str, role: str) -> str:
    """A fresh token for user ``name``, creating the user with ``role`` when missing (demo set-up)."""
    user = users_repo.user_by_name(session, name)
    if user is None:
        return add_user(session, name, role)[1]
    token = accounts.add_token(Db.of_session(session), user.id, 0)
    audit.record(session, None, "token.create", "user", user.id)
    session.commit()
    return token.value
