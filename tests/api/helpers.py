"""Request bodies shared by the API tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import select

from grading.endplates import ENDPLATES
from registry.db import session_scope
from registry.models import Study, User
from registry.services import assignments

STUDY_UID = "1.2.826.0.1.3680043.8.498.1"


def endplates(**overrides: dict[str, Any]) -> dict[str, Any]:
    """All 11 endplates without change, with ``overrides`` applied."""
    body: dict[str, Any] = {e.value: {"type": "none"} for e in ENDPLATES}
    body.update(overrides)
    return body


def study_body(uid: str = STUDY_UID, patient_id: str = "HOSP-0001") -> dict[str, Any]:
    """A JSON registration of a study read without images."""
    return {"study_instance_uid": uid, "patient_id": patient_id, "study_date": "2026-10-01", "field_strength_t": 0.2}


def assign(client: TestClient, study_id: str, *users: str) -> None:
    """Assign each of ``users`` (radiologists) to a study, as an admin would (``modic assign``)."""
    with session_scope(client.app.state.engine, write=True) as session:  # type: ignore[attr-defined]
        for user in users:
            assignments.assign(session, None, study_id, user)


def assign_every_study(engine: Engine) -> None:
    """Assign every radiologist to every study (tests of what a radiologist does with studies that
    arrived without one, as an admin's ``modic assign`` would)."""
    with session_scope(engine, write=True) as session:
        studies = list(session.exec(select(Study)))
        for user in session.exec(select(User).where(User.role == "radiologist")):
            for study in studies:
                assignments.add_assignment(session, study, user, None)
        session.commit()


def assigning(auth: Callable[..., dict[str, str]], client: TestClient) -> Callable[..., dict[str, str]]:
    """``auth`` whose radiologists are each assigned to every study there is, for tests about gradings
    rather than about who may read which study."""

    def make(role: str, name: str | None = None, **options: Any) -> dict[str, str]:
        headers = auth(role, name, **options)
        assign_every_study(client.app.state.engine)  # type: ignore[attr-defined]
        return headers

    return make
