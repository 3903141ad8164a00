"""Every endpoint but health (and /metrics, which has a token of its own) needs a valid token; roles are checked."""

from __future__ import annotations

import math
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event

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


def test_requests_that_find_the_revocation_counter_due_together_share_one_read(
    app: FastAPI, client: TestClient, auth: TokenFactory
) -> None:
    """Many requests in flight when the counter is due: one read, which each of them awaits."""
    headers = auth("radiologist")
    assert client.get("/api/v1/me", headers=headers).status_code == 200  # the token is cached
    reads: list[int] = []
    started = threading.Event()

    def slow_epoch_read(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "revocations" in statement.lower() and "epoch" in statement.lower():
            reads.append(1)
            started.set()
            time.sleep(0.5)  # the read is slow: the other requests arrive while it runs

    engine = app.state.engine
    event.listen(engine, "before_cursor_execute", slow_epoch_read)
    try:
        app.state.token_cache._epoch_checked = -math.inf  # the counter is due
        with ThreadPoolExecutor(max_workers=8) as pool:
            first = pool.submit(client.get, "/api/v1/me", headers=headers)
            assert started.wait(10)
            others = [pool.submit(client.get, "/api/v1/me", headers=headers) for _ in range(7)]
            answers = [first.result(), *(f.result() for f in others)]
    finally:
        event.remove(engine, "before_cursor_execute", slow_epoch_read)
    assert [a.status_code for a in answers] == [200] * 8
    assert len(reads) == 1
