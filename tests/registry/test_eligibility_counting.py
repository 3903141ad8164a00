"""Which grading counts: one patient and many patients get the same choice (grading.eligibility.counting).

The latest version of the most recent clinical grading (creation time) of the patient's most recent
graded study (study date, unknown dates oldest, then registration time).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from registry.db import session_scope
from registry.repositories import eligibility as repo
from tests.api.helpers import assign, endplates, study_body
from tests.conftest import TokenFactory


def _study(client: TestClient, headers: dict[str, str], uid: str, patient: str, date: str | None) -> str:
    body: dict[str, Any] = {**study_body(uid, patient), "study_date": date}
    study_id: str = client.post("/api/v1/studies", json=body, headers=headers).json()["id"]
    return study_id


def _grade(client: TestClient, headers: dict[str, str], study_id: str) -> str:
    response = client.post(f"/api/v1/studies/{study_id}/gradings", json={"endplates": endplates()}, headers=headers)
    assert response.status_code == 201, response.text
    grading_id: str = response.json()["id"]
    return grading_id


def test_one_patient_and_many_patients_choose_the_same_grading(
    client: TestClient, auth: TokenFactory, app: FastAPI
) -> None:
    first, second = auth("radiologist"), auth("radiologist", "second-reader")
    undated = _study(client, first, "1.2.3.1", "HOSP-A", None)
    dated_late = _study(client, first, "1.2.3.2", "HOSP-A", "2026-05-01")
    same_day = _study(client, first, "1.2.3.3", "HOSP-A", "2026-05-01")  # same date, registered later
    older = _study(client, first, "1.2.3.4", "HOSP-A", "2025-01-01")
    other_patient = _study(client, first, "1.2.3.5", "HOSP-B", None)
    _grade(client, first, same_day)
    assign(client, same_day, "second-reader")
    expected = _grade(client, second, same_day)  # the most recent grading of the most recent study
    _grade(client, first, dated_late)
    _grade(client, first, older)  # graded last, but an older study
    _grade(client, first, undated)  # an unknown date counts as oldest
    only_undated = _grade(client, first, other_patient)
    with session_scope(app.state.engine) as session:
        everyone = repo.counting_gradings(session, None)
        assert len(everyone) == 2
        for patient_id, chosen in everyone.items():
            assert repo.counting_gradings(session, [patient_id]) == {patient_id: chosen}
        both = repo.counting_gradings(session, list(everyone))
    assert both == everyone
    assert sorted(c.grading_id for c in everyone.values()) == sorted([expected, only_undated])
    assert {c.study_id for c in everyone.values()} == {same_day, other_patient}
