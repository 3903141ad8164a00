"""Queries on users and tokens."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, or_, select

from registry.dbapi import Db
from registry.models import ApiToken, Revocations, User
from registry.repositories import user_rows


def user_by_name(session: Session, name: str) -> User | None:
    """The user called ``name``."""
    return session.exec(select(User).where(User.name == name)).first()


def user_by_token_digest(session: Session, digest: str, now: dt.datetime) -> tuple[User, ApiToken] | None:
    """The active user owning an unrevoked, unexpired token with this digest, and the token."""
    statement = (
        select(User, ApiToken)
        .join(ApiToken, col(ApiToken.user_id) == col(User.id))
        .where(
            ApiToken.token_sha256 == digest,
            col(ApiToken.revoked_at).is_(None),
            or_(col(ApiToken.expires_at).is_(None), col(ApiToken.expires_at) > now),
            col(User.active).is_(True),
        )
    )
    row = session.exec(statement).first()
    return None if row is None else (row[0], row[1])


def live_tokens(session: Session, user_id: str) -> list[ApiToken]:
    """The user's tokens that are not revoked (expired ones included)."""
    statement = select(ApiToken).where(ApiToken.user_id == user_id, col(ApiToken.revoked_at).is_(None))
    return list(session.exec(statement))


_EPOCH = select(Revocations.epoch).where(Revocations.id == 1)


def bump_revocation_epoch(session: Session) -> None:
    """Raise the revocation counter in the current transaction (the one statement of
    :func:`registry.repositories.user_rows.bump_revocation_epoch`, on the session's connection)."""
    user_rows.bump_revocation_epoch(Db.of_session(session))


def revocation_epoch(session: Session) -> int:
    """The revocation counter."""
    return session.exec(_EPOCH).one()


def users_by_ids(session: Session, ids: set[str]) -> dict[str, User]:
    """Users keyed by id."""
    if not ids:
        return {}
    return {u.id: u for u in session.exec(select(User).where(col(User.id).in_(ids)))}
