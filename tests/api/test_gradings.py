"""Grading entry, validation (422), one grading per rater, amendment with ETag/If-Match, history."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import assigning, endplates, study_body
from tests.conftest import TokenFactory


@pytest.fixture
def auth(auth: TokenFactory, client: TestClient) -> TokenFactory:
    return assigning(auth, client)


@pytest.fixture
def study_id(client: TestClient, auth: TokenFactory) -> str:
    response = client.post("/api/v1/studies", json=study_body(), headers=auth("radiologist"))
    assert response.status_code == 201, response.text
    study_id: str = response.json()["id"]
    return study_id


def test_post_grading_returns_canonical_version_1(client: TestClient, auth: TokenFactory, study_id: str) -> None:
    headers = auth("radiologist", "rad-a")
    body = {"endplates": endplates(L4_inf={"type": "II/I", "size": "C"}, L5_sup={"type": "III", "extension_pct": 10})}
    response = client.post(f"/api/v1/studies/{study_id}/gradings", json=body, headers=headers)
    assert response.status_code == 201, response.text
    grading = response.json()
    assert grading["version"] == 1 and grading["rater"] == "rad-a" and grading["study_id"] == study_id
    assert grading["endplates"]["L4_inf"] == {"type": "I/II", "size": "C", "extension_pct": None}
    assert grading["endplates"]["L5_sup"] == {"type": "III", "size": "B", "extension_pct": 10.0}
    assert list(grading["endplates"]) == list(endplates())
    assert response.headers["ETag"] == f'"{grading["id"]}.v1"'
    again = client.get(f"/api/v1/gradings/{grading['id']}", headers=headers)
    assert again.status_code == 200 and again.json() == grading and again.headers["ETag"] == response.headers["ETag"]


@pytest.mark.parametrize(
    ("body", "endplate", "field"),
    [
        # a missing endplate
        ({k: v for k, v in endplates().items() if k != "L2_sup"}, "L2_sup", "endplate"),
        # an unknown endplate
        (endplates(L6_inf={"type": "none"}), "L6_inf", "endplate"),
        # an unknown type
        (endplates(L4_inf={"type": "IV", "size": "B"}), "L4_inf", "type"),
        # a size with none
        (endplates(L3_inf={"type": "none", "size": "A"}), "L3_inf", "size"),
        # a missing size
        (endplates(L5_inf={"type": "I/II"}), "L5_inf", "size"),
        # an extension_pct that contradicts the size
        (endplates(S1_sup={"type": "II", "size": "D", "extension_pct": 40}), "S1_sup", "extension_pct"),
        # a size that is not A-D
        (endplates(L1_sup={"type": "I", "size": "Z"}), "L1_sup", "size"),
    ],
)
def test_invalid_grading_is_422_naming_endplate_and_field(
    client: TestClient, auth: TokenFactory, study_id: str, body: dict[str, Any], endplate: str, field: str
) -> None:
    response = client.post(
        f"/api/v1/studies/{study_id}/gradings", json={"endplates": body}, headers=auth("radiologist")
    )
    assert response.status_code == 422
    answer = response.json()
    assert endplate in answer["detail"] and (field in answer["detail"] or field == "endplate")
    assert [(e["endplate"], e["field"]) for e in answer["errors"]] == [(endplate, field)]


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({}, "endplates: Field required"),  # no endplates at all
        ({"endplates": []}, "endplates: Input should be a valid dictionary"),  # wrong shape
        ({"endplates": "L1_sup"}, "endplates: Input should be a valid dictionary"),
    ],
)
def test_malformed_bodies_are_422(
    client: TestClient, auth: TokenFactory, study_id: str, payload: Any, fragment: str
) -> None:
    response = client.post(f"/api/v1/studies/{study_id}/gradings", json=payload, headers=auth("radiologist"))
    assert response.status_code == 422 and fragment in response.json()["detail"]


def test_not_json_is_422(client: TestClient, auth: TokenFactory, study_id: str) -> None:
    headers = {**auth("radiologist"), "Content-Type": "application/json"}
    response = client.post(f"/api/v1/studies/{study_id}/gradings", content=b"{not json", headers=headers)
    assert response.status_code == 422 and "JSON" in response.json()["detail"]


def test_second_post_by_same_rater_is_409_naming_the_grading(
    client: TestClient, auth: TokenFactory, study_id: str
) -> None:
    headers = auth("radiologist")
    first = client.post(f"/api/v1/studies/{study_id}/gradings", json={"endplates": endplates()}, headers=headers).json()
    second = client.post(f"/api/v1/studies/{study_id}/gradings", json={"endplates": endplates()}, headers=headers)
    assert second.status_code == 409
    assert first["id"] in second.json()["detail"] and second.json()["existing_id"] == first["id"]
    other = client.post(
        f"/api/v1/studies/{study_id}/gradings", json={"endplates": endplates()}, headers=auth("radiologist")
    )
    assert other.status_code == 201  # another rater may grade the same study


def test_grading_an_unknown_study_is_404(client: TestClient, auth: TokenFactory) -> None:
    response = client.post(
        "/api/v1/studies/nope/gradings", json={"endplates": endplates()}, headers=auth("radiologist")
    )
    assert response.status_code == 404 and "nope" in response.json()["detail"]


def test_amend_history_and_preconditions(client: TestClient, auth: TokenFactory, study_id: str) -> None:
    headers = auth("radiologist", "rad-b")
    created = client.post(f"/api/v1/studies/{study_id}/gradings", json={"endplates": endplates()}, headers=headers)
    grading_id, etag_1 = created.json()["id"], created.headers["ETag"]
    body = {"endplates": endplates(L4_inf={"type": "I", "size": "B"}), "reason": "missed oedema at L4"}

    missing = client.put(f"/api/v1/gradings/{grading_id}", json=body, headers=headers)
    assert missing.status_code == 428 and "If-Match" in missing.json()["detail"]

    amended = client.put(f"/api/v1/gradings/{grading_id}", json=body, headers={**headers, "If-Match": etag_1})
    assert amended.status_code == 200, amended.text
    assert amended.json()["version"] == 2 and amended.headers["ETag"] == f'"{grading_id}.v2"'

    stale = client.put(f"/api/v1/gradings/{grading_id}", json=body, headers={**headers, "If-Match": etag_1})
    assert stale.status_code == 412 and "version is 2" in stale.json()["detail"]

    garbage = client.put(f"/api/v1/gradings/{grading_id}", json=body, headers={**headers, "If-Match": '"x"'})
    assert garbage.status_code == 412

    no_reason = client.put(
        f"/api/v1/gradings/{grading_id}",
        json={"endplates": endplates()},
        headers={**headers, "If-Match": amended.headers["ETag"]},
    )
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["detail"]

    invalid = client.put(
        f"/api/v1/gradings/{grading_id}",
        json={"endplates": endplates(L4_inf={"type": "I"}), "reason": "x"},
        headers={**headers, "If-Match": amended.headers["ETag"]},
    )
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["endplate"] == "L4_inf"

    history = client.get(f"/api/v1/gradings/{grading_id}/history", headers=headers).json()["items"]
    assert [(h["version"], h["rater"], h["reason"]) for h in history] == [
        (1, "rad-b", None),
        (2, "rad-b", "missed oedema at L4"),
    ]
    assert history[0]["endplates"]["L4_inf"]["type"] == "none" and history[1]["endplates"]["L4_inf"]["type"] == "I"
    assert client.get(f"/api/v1/gradings/{grading_id}", headers=headers).json()["version"] == 2


def test_only_the_rater_or_an_admin_may_amend(client: TestClient, auth: TokenFactory, study_id: str) -> None:
    owner = auth("radiologist")
    created = client.post(f"/api/v1/studies/{study_id}/gradings", json={"endplates": endplates()}, headers=owner)
    grading_id, etag = created.json()["id"], created.headers["ETag"]
    body = {"endplates": endplates(L1_sup={"type": "II", "size": "A"}), "reason": "second opinion"}
    other = client.put(f"/api/v1/gradings/{grading_id}", json=body, headers={**auth("radiologist"), "If-Match": etag})
    assert other.status_code == 404 and grading_id in other.json()["detail"]  # not even confirmed to exist
    admin = client.put(f"/api/v1/gradings/{grading_id}", json=body, headers={**auth("admin", "boss"), "If-Match": etag})
    assert admin.status_code == 200
    history = client.get(f"/api/v1/gradings/{grading_id}/history", headers=owner).json()["items"]
    assert [h["rater"] for h in history][1] == "boss"  # who made each version


@pytest.mark.parametrize("role", ["screener", "researcher", "admin"])
def test_only_radiologists_post_gradings(client: TestClient, auth: TokenFactory, study_id: str, role: str) -> None:
    response = client.post(f"/api/v1/studies/{study_id}/gradings", json={"endplates": endplates()}, headers=auth(role))
    assert response.status_code == 403 and "radiologist" in response.json()["detail"]


@pytest.mark.parametrize("role", ["screener", "researcher"])
def test_gradings_are_read_by_radiologists_and_admins_only(
    client: TestClient, auth: TokenFactory, study_id: str, role: str
) -> None:
    created = client.post(
        f"/api/v1/studies/{study_id}/gradings", json={"endplates": endplates()}, headers=auth("radiologist")
    )
    grading_id = created.json()["id"]
    for path in (
        f"/api/v1/gradings/{grading_id}",
        f"/api/v1/gradings/{grading_id}/history",
        f"/api/v1/studies/{study_id}",
    ):
        assert client.get(path, headers=auth(role)).status_code == 403
