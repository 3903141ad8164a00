"""Registering a study's patient: one patient per hospital id, a pseudonym drawn again when taken.

The patient is inserted with ``ON CONFLICT DO NOTHING`` (no savepoint): a conflict leaves the
transaction usable, and the loop looks again.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlmodel import select

from registry.db import session_scope
from registry.models import AuditEvent, Patient
from registry.services import studies as studies_service
from registry.services.studies import register_study
from registry.services.users import add_user


def test_a_taken_pseudonym_is_drawn_again_and_the_transaction_goes_on(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = app.state.engine
    with session_scope(engine, write=True) as session:
        admin, _ = add_user(session, "admin-1", "admin")
        first, created = register_study(session, admin, "1.2.826.0.1.3680043.11.1", "HOSP-1", None, 0.2)
        assert created
    # 50 random bits rarely collide: here the next draw is the pseudonym already taken, then a new one.
    draws: Iterator[str] = iter([first.pseudonym, "P-FRESH-0001"])
    monkeypatch.setattr(studies_service, "new_pseudonym", lambda: next(draws))
    with session_scope(engine, write=True) as session:
        second, created = register_study(session, admin, "1.2.826.0.1.3680043.11.2", "HOSP-2", None, 0.2)
        assert created and second.pseudonym == "P-FRESH-0001"
        again, created = register_study(session, admin, "1.2.826.0.1.3680043.11.3", "HOSP-2", None, 0.2)
        assert created and again.pseudonym == "P-FRESH-0001"  # a second study of the same patient
    with session_scope(engine) as session:
        patients = {p.hospital_id: p.pseudonym for p in session.exec(select(Patient))}
        assert patients == {"HOSP-1": first.pseudonym, "HOSP-2": "P-FRESH-0001"}
        created_events = session.exec(select(AuditEvent).where(AuditEvent.action == "patient.create")).all()
        assert len(created_events) == 2
