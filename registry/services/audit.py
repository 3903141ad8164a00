"""Writing the audit trail, inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from registry.models import AuditEvent, User


def record(session: Session, actor: User | None, action: str, entity: str, entity_id: str, **detail: Any) -> None:
    """Add one audit event to the current transaction."""
    session.add(
        AuditEvent(
            actor_id=None if actor is None else actor.id,
            action=action,
            entity=entity,
            entity_id=entity_id,
            detail=detail,
        )
    )
