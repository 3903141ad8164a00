"""The worklist queries: studies split by whether I graded them, my gradings of a study, who I am,
and the page's static files with their Content-Security-Policy."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from registry.db import session_scope
from registry.models import Series
from tests.api.helpers import assign, endplates, study_body
from tests.conftest import TokenFactory


def _ids(client: TestClient, headers: dict[str, str], **params: str) -> list[str]:
    response = client.get("/api/v1/studies", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()["items"]]


def test_graded_by_me_splits_the_studies_per_rater(client: TestClient, auth: TokenFactory) -> None:
    alice, bob = auth("radiologist", "alice"), auth("radiologist", "bob")
    studies = [
        client.post("/api/v1/studies", json=study_body(f"1.2.3.{i}"), headers=alice).json()["id"] for i in range(3)
    ]
    for study in studies:
        assign(client, study, "bob")
    graded = client.post(f"/api/v1/studies/{studies[1]}/gradings", json={"endplates": endplates()}, headers=alice)
    assert graded.status_code == 201
    assert _ids(client, alice, graded_by_me="true") == [studies[1]]
    assert _ids(client, alice, graded_by_me="false") == [studies[0], studies[2]]
    assert _ids(client, bob, graded_by_me="true") == []
    assert _ids(client, bob, graded_by_me="false") == studies
    assert _ids(client, bob) == studies


def test_graded_by_me_pages_with_the_cursor(client: TestClient, auth: TokenFactory) -> None:
    headers = auth("radiologist")
    studies = [
        client.post("/api/v1/studies", json=study_body(f"1.2.4.{i}"), headers=headers).json()["id"] for i in range(5)
    ]
    client.post(f"/api/v1/studies/{studies[2]}/gradings", json={"endplates": endplates()}, headers=headers)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"graded_by_me": "false", "limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/studies", params=params, headers=headers).json()
        seen += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [studies[0], studies[1], studies[3], studies[4]]


def test_graded_by_me_must_be_a_boolean(client: TestClient, auth: TokenFactory) -> None:
    response = client.get("/api/v1/studies", params={"graded_by_me": "maybe"}, headers=auth("radiologist"))
    assert response.status_code == 422 and "graded_by_me" in response.json()["detail"]


def test_study_gradings_show_a_radiologist_only_their_own(client: TestClient, auth: TokenFactory) -> None:
    alice, bob, admin = auth("radiologist", "alice"), auth("radiologist", "bob"), auth("admin", "root")
    study = client.post("/api/v1/studies", json=study_body(), headers=alice).json()["id"]
    assign(client, study, "bob")
    url = f"/api/v1/studies/{study}/gradings"
    assert client.get(url, headers=alice).json() == {"items": []}
    mine = client.post(url, json={"endplates": endplates(L4_inf={"type": "I", "size": "B"})}, headers=alice).json()
    client.post(url, json={"endplates": endplates()}, headers=bob)
    assert client.get(url, headers=alice).json() == {"items": [mine]}
    assert [g["rater"] for g in client.get(url, headers=bob).json()["items"]] == ["bob"]
    assert sorted(g["rater"] for g in client.get(url, headers=admin).json()["items"]) == ["alice", "bob"]
    assert client.get(url, headers=auth("screener")).status_code == 403
    missing = client.get("/api/v1/studies/no-such-study/gradings", headers=alice)
    assert missing.status_code == 404 and "no-such-study" in missing.json()["detail"]


def test_me_names_the_token_owner(client: TestClient, auth: TokenFactory) -> None:
    assert client.get("/api/v1/me", headers=auth("screener", "sam")).json() == {"name": "sam", "role": "screener"}
    assert client.get("/api/v1/me").status_code == 401


def test_the_page_is_public_with_a_strict_content_security_policy(client: TestClient) -> None:
    index = client.get("/")
    assert index.status_code == 200 and '<script type="module" src="js/main.bundle.js">' in index.text
    csp = index.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "<script>" not in index.text and " style=" not in index.text
    script = client.get("/js/main.bundle.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert script.headers["x-content-type-options"] == "nosniff"
    unknown = client.get("/api/v1/no-such-endpoint")
    assert unknown.status_code == 404 and unknown.json() == {"detail": "Not Found"}


def test_series_info_has_no_study_or_patient_identifier(client: TestClient, app: FastAPI, auth: TokenFactory) -> None:
    headers = auth("radiologist")
    study = client.post("/api/v1/studies", json=study_body(), headers=headers).json()
    with session_scope(app.state.engine, write=True) as session:
        series = Series(
            study_id=study["id"],
            series_instance_uid="1.2.826.0.1.3680043.8.498.1.1",
            description="t1_se_sag",
            plane="sagittal",
            weighting="T1",
            slices=11,
            details={"window": [310.0, 520.0]},
        )
        session.add(series)
        session.commit()
        series_id = series.id
    answer = client.get(f"/api/v1/series/{series_id}", headers=headers)
    assert answer.status_code == 200
    assert answer.json() == {
        "id": series_id,
        "description": "t1_se_sag",
        "plane": "sagittal",
        "weighting": "T1",
        "slices": 11,
        "window": {"center": 310.0, "width": 520.0},
        "geometry": None,  # no images stored for it
    }
    for identifier in (
        study["id"],
        study["study_instance_uid"],
        study["patient"]["pseudonym"],
        "1.2.826.0.1.3680043.8.498.1.1",
    ):
        assert identifier not in answer.text
    missing = client.get("/api/v1/series/no-such-series", headers=headers)
    assert missing.status_code == 404 and "no-such-series" in missing.json()["detail"]
    assert client.get(f"/api/v1/series/{series_id}", headers=auth("screener")).status_code == 403
