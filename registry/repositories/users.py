"""Queries on users and tokens."""

from __future__ import annotations

from sqlmodel import Session, col, select

from registry.models import ApiToken, User


def user_by_name(session: Session, name: str) -> User | None:
    """The user called ``name``."""
    return session.exec(select(User).where(User.name == name)).first()


def user_by_token_digest(session: Session, digest: str) -> User | None:
    """The active user owning an unrevoked token with this digest."""
    statement = (
        select(User)
        .join(ApiToken, col(ApiToken.user_id) == col(User.id))
        .where(ApiToken.token_sha256 == digest, col(ApiToken.revoked_at).is_(None), col(User.active).is_(True))
    )
    return session.exec(statement).first()


def users_by_ids(session: Session, ids: set[str]) -> dict[str, User]:
    """Users keyed by id."""
    if not ids:
        return {}
    return {u.id: u for u in session.exec(select(User).where(col(User.id).in_(ids)))}
