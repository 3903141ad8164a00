"""Operations: liveness and readiness, Prometheus metrics behind their token, JSON log lines."""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import text

from api.app import create_app
from api.logs import configure_logging
from bench.common import free_port
from registry.db import migration_heads, session_scope
from registry.settings import ImageStoreKind, LogFormat, Settings
from tests.api.helpers import endplates, study_body
from tests.conftest import TokenFactory

TOKEN = "a-metrics-token"


@pytest.fixture
def metered(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"metrics_token": SecretStr(TOKEN)}))) as client:
        yield client


def _sample(metrics: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            head, value = line.rsplit(" ", 1)
            if all(f'{k}="{v}"' in head for k, v in labels.items()):
                total += float(value)
    return total


def test_live_and_ready_answer_and_the_old_health_still_does(client: TestClient) -> None:
    assert client.get("/api/v1/health").json() == {"status": "ok"}
    assert client.get("/api/v1/health/live").json() == {"status": "ok"}
    ready = client.get("/api/v1/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "store": "ok"}}


def test_ready_names_a_schema_behind_the_code(client: TestClient, settings: Settings) -> None:
    with session_scope(client.app.state.engine, write=True) as session:  # type: ignore[attr-defined]
        session.connection().execute(text("UPDATE alembic_version SET version_num = 'i11_security'"))
        session.commit()
    ready = client.get("/api/v1/health/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {
        "database": f"schema at i11_security; this code needs {', '.join(migration_heads())}",
        "store": "ok",
    }


def test_ready_names_a_store_that_cannot_be_written(settings: Settings, tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the image folder should be")
    with TestClient(create_app(settings.model_copy(update={"data_dir": blocked}))) as client:
        ready = client.get("/api/v1/health/ready")
    assert ready.status_code == 503
    assert ready.json()["status"] == "not ready"
    assert ready.json()["checks"]["store"].startswith("not writable (")


def _ready_with_archive(settings: Settings, url: str) -> dict[str, Any]:
    archive = settings.model_copy(update={"image_store": ImageStoreKind.dicomweb, "image_store_url": url})
    with TestClient(create_app(archive)) as client:
        ready = client.get("/api/v1/health/ready")
    assert ready.status_code == 503 and ready.json()["status"] == "not ready"
    checks: dict[str, Any] = ready.json()["checks"]
    return checks


def test_ready_names_an_archive_store_that_does_not_answer(settings: Settings) -> None:
    pytest.importorskip("dicomweb_client", reason="dicomweb-client not installed (pip install dicomweb-client)")
    url = f"http://127.0.0.1:{free_port()}/dicom-web"  # nothing listens there
    checks = _ready_with_archive(settings, url)
    assert checks == {"database": "ok", "store": "not reachable (no answer to a study query within 5 s)"}


def test_ready_names_an_archive_store_that_refuses_a_study_query(settings: Settings, tmp_path: Path) -> None:
    pytest.importorskip("dicomweb_client", reason="dicomweb-client not installed (pip install dicomweb-client)")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))  # a web server, no archive
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            checks = _ready_with_archive(settings, f"http://127.0.0.1:{server.server_port}/dicom-web")
        finally:
            server.shutdown()
    assert checks["store"] == "refused a study query (HTTP 404)"
    assert str(server.server_port) not in json.dumps(checks)  # the open probe names no address


def test_metrics_are_not_served_without_a_token_setting(client: TestClient) -> None:
    answer = client.get("/metrics")
    assert answer.status_code == 404
    assert answer.json()["detail"] == "metrics are not served: set MODIC_METRICS_TOKEN to serve them"


def test_metrics_need_their_token(metered: TestClient, auth: TokenFactory) -> None:
    assert metered.get("/metrics").status_code == 401
    assert metered.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert metered.get("/metrics", headers=auth("admin")).status_code == 401  # an API token is not the metrics token


def test_metrics_count_routes_by_template_the_writer_the_cache_and_the_feed(
    metered: TestClient, auth: TokenFactory
) -> None:
    read = {"Authorization": f"Bearer {TOKEN}"}
    before = metered.get("/metrics", headers=read).text
    radiologist, screener = auth("radiologist"), auth("screener")
    study = metered.post("/api/v1/studies", json=study_body(), headers=radiologist).json()  # and is assigned
    graded = metered.post(
        f"/api/v1/studies/{study['id']}/gradings", json={"endplates": endplates()}, headers=radiologist
    )
    assert graded.status_code == 201
    assert metered.get("/api/v1/eligibility?trial=NCT00454792", headers=screener).status_code == 200
    after = metered.get("/metrics", headers=read).text
    route = "/api/v1/studies/{study_id}/gradings"
    count = "modic_http_request_duration_seconds_count"

    def grew(name: str, **labels: str) -> float:
        return _sample(after, name, **labels) - _sample(before, name, **labels)

    assert grew(count, method="POST", route=route, status="201") == 1
    assert grew(count, method="POST", route="/api/v1/studies", status="201") == 1
    assert grew("modic_grading_writer_batch_size_count") == 1
    assert _sample(after, "modic_grading_writer_queue") == 0
    assert grew("modic_cache_requests_total", cache="token", result="miss") >= 2  # each user's first request
    assert 'modic_feed_lag_seconds{trial="NCT00454792"}' in after
    assert study["id"] not in after  # ids never become labels


def test_json_logs_carry_one_line_per_request(client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    kept, level = list(root.handlers), root.level
    try:
        configure_logging(LogFormat.json)
        assert client.get("/api/v1/health/live").status_code == 200
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in kept:
            root.addHandler(handler)
        root.setLevel(level)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    request = next(line for line in lines if line["logger"] == "modic.requests")
    assert request["route"] == "/api/v1/health/live"
    assert (request["method"], request["status"], request["level"]) == ("GET", 200, "INFO")
    assert request["ms"] >= 0 and "time" in request and "process" in request
