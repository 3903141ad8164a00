"""Every endpoint but health (and /metrics, which has a token of its own) needs a valid token; roles are checked."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from registry.settings import Settings
from tests.conftest import TokenFactory

OPEN = {("GET", "/api/v1/health"), ("GET", "/api/v1/health/live"), ("GET", "/api/v1/health/ready")}


def _api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the OpenAPI document lists, with path parameters filled in."""
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "x", path))
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    ]


def test_health_is_open(client: TestClient) -> None:
    assert client.get("/api/v1/health").json() == {"status": "ok"}


@pytest.mark.parametrize("token", [None, "Bearer mdc_not-a-token", "Basic dXNlcjpwYXNz"])
def test_every_other_endpoint_needs_a_valid_token(settings: Settings, token: str | None) -> None:
    # More bad tokens than the brake on guessing allows by default: this client is not braked.
    app = create_app(settings.model_copy(update={"auth_failures_allowed": 10_000}))
    routes = [r for r in _api_routes(app) if r not in OPEN]
    assert len(routes) >= 6
    headers = {"Authorization": token} if token else {}
    with TestClient(app) as client:
        answers = {(method, path): client.request(method, path, headers=headers).status_code for method, path in routes}
    assert set(answers.values()) == {401}, answers


def test_the_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    assert "/api/v1/studies/{study_id}/gradings" in client.get("/api/v1/openapi.json").json()["paths"]


def test_screener_cannot_register_studies(client: TestClient, auth: TokenFactory) -> None:
    response = client.post(
        "/api/v1/studies", json={"study_instance_uid": "1.2", "patient_id": "x"}, headers=auth("screener")
    )
    assert response.status_code == 403
