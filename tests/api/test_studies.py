"""Study registration without images, reading and paging."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.helpers import study_body
from tests.conftest import TokenFactory


def test_register_is_idempotent_and_pseudonymous(client: TestClient, auth: TokenFactory) -> None:
    headers = auth("radiologist")
    first = client.post("/api/v1/studies", json=study_body(), headers=headers)
    assert first.status_code == 201, first.text
    study = first.json()
    assert study["series"] == [] and study["grading_series"] == {"t1": None, "t2": None, "stir": None}
    assert study["study_date"] == "2026-10-01" and study["field_strength_t"] == 0.2
    assert study["patient"]["pseudonym"].startswith("P-") and "HOSP-0001" not in first.text
    again = client.post("/api/v1/studies", json=study_body(), headers=headers)
    assert again.status_code == 200 and again.json() == study
    assert client.get(f"/api/v1/studies/{study['id']}", headers=headers).json() == study


def test_same_patient_keeps_one_pseudonym(client: TestClient, auth: TokenFactory) -> None:
    headers = auth("admin")
    a = client.post("/api/v1/studies", json=study_body("1.2.3.1"), headers=headers).json()
    b = client.post("/api/v1/studies", json=study_body("1.2.3.2"), headers=headers).json()
    c = client.post("/api/v1/studies", json=study_body("1.2.3.3", patient_id="HOSP-0002"), headers=headers).json()
    assert a["patient"] == b["patient"] != c["patient"]


def test_a_known_uid_for_another_patient_is_409(client: TestClient, auth: TokenFactory) -> None:
    headers = auth("radiologist")
    client.post("/api/v1/studies", json=study_body(), headers=headers)
    clash = client.post("/api/v1/studies", json=study_body(patient_id="HOSP-9"), headers=headers)
    assert clash.status_code == 409 and "another patient" in clash.json()["detail"]


def test_bad_registrations_are_422(client: TestClient, auth: TokenFactory) -> None:
    headers = auth("radiologist")
    bad_uid = client.post("/api/v1/studies", json=study_body(uid="1.02.abc"), headers=headers)
    assert bad_uid.status_code == 422 and "study_instance_uid" in bad_uid.json()["detail"]
    bad_date = client.post("/api/v1/studies", json={**study_body(), "study_date": "14/03/2008"}, headers=headers)
    assert bad_date.status_code == 422 and "study_date" in bad_date.json()["detail"]
    no_patient = client.post("/api/v1/studies", json={"study_instance_uid": "1.2.3"}, headers=headers)
    assert no_patient.status_code == 422 and "patient_id" in no_patient.json()["detail"]


def test_list_pages_with_a_cursor(client: TestClient, auth: TokenFactory) -> None:
    headers = auth("radiologist")
    uids = [f"1.2.840.99.{i}" for i in range(5)]
    for uid in uids:
        client.post("/api/v1/studies", json=study_body(uid), headers=headers)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/studies", params=params, headers=headers).json()
        seen += [s["study_instance_uid"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == uids
    assert client.get("/api/v1/studies", params={"cursor": "???"}, headers=headers).status_code == 422


def test_unknown_study_is_404(client: TestClient, auth: TokenFactory) -> None:
    response = client.get("/api/v1/studies/does-not-exist", headers=auth("radiologist"))
    assert response.status_code == 404 and "does-not-exist" in response.json()["detail"]
