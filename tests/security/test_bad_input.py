"""Bad input is a 4xx naming the field, never a 5xx; a 5xx keeps the connection usable."""

from __future__ import annotations

import base64
import threading
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.helpers import endplates, study_body
from tests.conftest import POSTGRES_URL, LiveServer, TokenFactory


def _register(client: TestClient, headers: dict[str, str], uid: str = "1.2.3.4", patient: str = "HOSP-1") -> str:
    response = client.post("/api/v1/studies", json=study_body(uid, patient), headers=headers)
    assert response.status_code in (200, 201), response.text
    study_id: str = response.json()["id"]
    return study_id


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/studies/{bad}", "path.study_id"),
        ("/api/v1/gradings/{bad}", "path.grading_id"),
        ("/api/v1/gradings/{bad}/history", "path.grading_id"),
        ("/api/v1/studies/{bad}/gradings", "path.study_id"),
        ("/api/v1/series/{bad}", "path.series_id"),
        ("/api/v1/studies?cursor={bad}", "query.cursor"),
    ],
)
@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f"])
def test_control_characters_in_path_and_query_are_422_naming_the_field(
    client: TestClient, auth: TokenFactory, path: str, field: str, char: str
) -> None:
    response = client.get(path.format(bad=quote(f"x{char}y", safe="")), headers=auth("admin"))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert field in response.json()["detail"]


def test_nul_in_a_json_body_is_422_naming_the_field(client: TestClient, auth: TokenFactory) -> None:
    headers = auth("radiologist")
    bad = client.post("/api/v1/studies", json=study_body(patient_id="HOSP\x00-1"), headers=headers)
    assert bad.status_code == 422, bad.text
    assert bad.json()["errors"][0]["field"] == "patient_id"
    study_id = _register(client, headers)
    grading = client.post(
        f"/api/v1/studies/{study_id}/gradings", json={"endplates": endplates(L1_sup={"type": "I\x01"})}, headers=headers
    )
    assert grading.status_code == 422 and grading.json()["errors"][0]["field"] == "endplates.L1_sup.type"
    created = client.post(f"/api/v1/studies/{study_id}/gradings", json={"endplates": endplates()}, headers=headers)
    assert created.status_code == 201, created.text
    amend = client.put(
        f"/api/v1/gradings/{created.json()['id']}",
        json={"endplates": endplates(), "reason": "typo\x00"},
        headers={**headers, "If-Match": created.headers["ETag"]},
    )
    assert amend.status_code == 422 and amend.json()["errors"][0]["field"] == "reason"


def test_line_breaks_in_free_text_are_accepted(client: TestClient, auth: TokenFactory) -> None:
    headers = auth("radiologist")
    study_id = _register(client, headers)
    created = client.post(f"/api/v1/studies/{study_id}/gradings", json={"endplates": endplates()}, headers=headers)
    amend = client.put(
        f"/api/v1/gradings/{created.json()['id']}",
        json={"endplates": endplates(), "reason": "first line\r\n\tsecond line"},
        headers={**headers, "If-Match": created.headers["ETag"]},
    )
    assert amend.status_code == 200, amend.text


def test_an_invalid_byte_in_a_grading_body_is_422_naming_the_field(client: TestClient, auth: TokenFactory) -> None:
    headers = auth("radiologist")
    study_id = _register(client, headers)
    body = b'{"endplates": {"L1_sup": {"type": "I\xff"}}}'
    response = client.post(
        f"/api/v1/studies/{study_id}/gradings", content=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "endplates.L1_sup.type"
    assert "UTF-8" in response.json()["detail"]


@pytest.mark.parametrize("when", ["2026-01-01", "2026-01-01T00:00:00", "2026-01-01T00:00:00+00:00"])
def test_cursors_are_validated(client: TestClient, auth: TokenFactory, when: str) -> None:
    headers = auth("radiologist")
    _register(client, headers)
    for study_id in ("x", "00000000-0000-0000-0000-000000000000\x00"):
        cursor = base64.urlsafe_b64encode(f"{when}|{study_id}".encode()).decode()
        response = client.get("/api/v1/studies", params={"cursor": cursor}, headers=headers)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "query.cursor"


def test_a_500_answers_with_the_error_body_and_keeps_the_connection(
    app: FastAPI, auth: TokenFactory, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "-".join(["HOSP", "SECRET", "500"])  # as data, not in the source line a traceback shows

    def boom() -> None:
        raise RuntimeError(f"{secret} must not be logged")

    app.add_api_route("/api/v1/boom", boom)
    app.router.routes.insert(0, app.router.routes.pop())  # before the web page's catch-all mount
    headers = auth("radiologist")
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as http:
        failed = http.get("/api/v1/boom", headers=headers)
        assert failed.status_code == 500
        assert failed.json() == {"detail": "internal server error"}
        assert failed.headers.get("connection") != "close"
        # The same kept-alive connection answers the next request.
        assert http.get("/api/v1/health").status_code == 200
        assert http.get("/api/v1/me", headers=headers).status_code == 200
    assert "RuntimeError" in caplog.text and secret not in caplog.text  # logged by type and stack only


@pytest.mark.postgres
@pytest.mark.skipif(POSTGRES_URL is None, reason="needs MODIC_TEST_POSTGRES_URL")
@pytest.mark.parametrize("same_study", [False, True])
def test_concurrent_registrations_of_one_patient_are_idempotent(
    app: FastAPI, auth: TokenFactory, same_study: bool
) -> None:
    headers = auth("admin")
    with LiveServer(app) as server:
        for round_ in range(8):
            patient = f"HOSP-RACE-{round_}"
            uids = [f"1.2.9.{round_}.1", f"1.2.9.{round_}.{1 if same_study else 2}"]
            barrier = threading.Barrier(len(uids))
            answers: list[httpx.Response] = []

            def register(
                uid: str,
                patient: str = patient,
                barrier: threading.Barrier = barrier,
                answers: list[httpx.Response] = answers,
            ) -> None:
                with httpx.Client(base_url=server.url, timeout=30) as http:
                    barrier.wait()
                    answers.append(http.post("/api/v1/studies", json=study_body(uid, patient), headers=headers))

            threads = [threading.Thread(target=register, args=(uid,)) for uid in uids]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert sorted(a.status_code for a in answers) == ([200, 201] if same_study else [201, 201]), [
                a.text for a in answers
            ]
            assert len({a.json()["patient"]["pseudonym"] for a in answers}) == 1
