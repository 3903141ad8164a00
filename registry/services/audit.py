"""Writing the audit trail, inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from registry.models import AuditEvent, User
from registry.models.base import utcnow

_INSERT = insert(AuditEvent.__table__)  # type: ignore[attr-defined]


def record(session: Session, actor: User | None, action: str, entity: str, entity_id: str, **detail: Any) -> None:
    """Insert one audit event in the current transaction (a table-level insert: cheap on hot paths)."""
    session.connection().execute(
        _INSERT,
        {
            "at": utcnow(),
            "actor_id": None if actor is None else actor.id,
            "action": action,
            "entity": entity,
            "entity_id": entity_id,
            "detail": detail,
        },
    )
