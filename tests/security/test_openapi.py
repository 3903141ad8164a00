"""The OpenAPI document describes the error answers of every operation; /docs needs no other origin."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.openapi import ErrorBody
from tests.conftest import TokenFactory


def test_every_operation_documents_its_error_answers_with_the_one_error_body(app: FastAPI) -> None:
    schema = app.openapi()
    assert "HTTPValidationError" not in str(schema)
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            expected = {"422", "500"}
            if operation.get("security"):
                expected |= {"401", "403", "429"}
            if "{" in path:
                expected.add("404")
            assert expected <= set(responses), (method, path, sorted(responses))
            for status in expected:
                body = responses[status]["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)
    amend = schema["paths"]["/api/v1/gradings/{grading_id}"]["put"]["responses"]
    assert {"409", "412", "428", "413"} <= set(amend)


def test_error_answers_have_the_documented_body(client: TestClient, auth: TokenFactory) -> None:
    headers = auth("radiologist")
    answers = [
        client.get("/api/v1/studies", params={"limit": 0}, headers=headers),  # 422 from FastAPI's validation
        client.post("/api/v1/studies", json={"study_instance_uid": "x", "patient_id": "p"}, headers=headers),
        client.get("/api/v1/studies/nope", headers=headers),
        client.get("/api/v1/me"),
        client.get("/api/v1/eligibility", headers=headers),
    ]
    assert [a.status_code for a in answers] == [422, 422, 404, 401, 403]
    for answer in answers:
        ErrorBody.model_validate(answer.json(), strict=True)
        assert isinstance(answer.json()["detail"], str)


def test_docs_are_served_from_this_origin_under_a_csp(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") for s in sources), sources
    for source in sources:
        assert client.get(source).status_code == 200, source
    assert "<script>" not in page.text  # no inline script: the CSP would block it
