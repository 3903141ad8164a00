"""Writing the audit trail, inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from registry.models import AuditEvent, User
from registry.models.base import utcnow

_INSERT = insert(AuditEvent.__table__)  # type: ignore[attr-defined]


def event(actor: User | None, action: str, entity: str, entity_id: str, **detail: Any) -> dict[str, Any]:
    """One audit event, to be written by :func:`record_many`."""
    return {
        "at": utcnow(),
        "actor_id": None if actor is None else actor.id,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "detail": detail,
    }


def record(session: Session, actor: User | None, action: str, entity: str, entity_id: str, **detail: Any) -> None:
    """Insert one audit event in the current transaction (a table-level insert: cheap on hot paths)."""
    record_many(session, [event(actor, action, entity, entity_id, **detail)])


def record_many(session: Session, events: list[dict[str, Any]]) -> None:
    """Insert audit events (made by :func:`event`) in the current transaction, in one statement."""
    if events:
        session.connection().execute(_INSERT, events)
