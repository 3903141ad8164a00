"""Bounded work and truthful input handling: every limit is configured, checked early, and named."""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless
from sqlalchemy import text

from api.app import create_app
from registry.db import session_scope
from registry.settings import Settings
from tests.api.helpers import endplates, study_body
from tests.conftest import LiveServer, TokenFactory
from tests.imaging_support import SAMPLE_STUDIES, series_dir, transcode


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _t1_files() -> list[Path]:
    return sorted(series_dir(SAMPLE_STUDIES[0], "t1").glob("*.dcm"))


def test_a_large_body_is_413_before_authentication(live_server: LiveServer) -> None:
    """The limit is checked on the declared length: the body is never read, the token never checked."""
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as raw:
        raw.sendall(
            b"POST /api/v1/studies HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer wrong\r\nContent-Length: 200000000\r\n\r\n{"
        )
        answer = raw.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 413"), answer
    assert "larger than the limit of 1048576 bytes" in answer


def test_a_chunked_body_is_counted_while_read(client: TestClient, auth: TokenFactory) -> None:
    def chunks() -> object:
        for _ in range(40):
            yield b" " * 65536

    response = client.post(
        "/api/v1/studies", content=chunks(), headers={**auth("radiologist"), "Content-Type": "application/json"}
    )
    assert response.status_code == 413 and response.json()["errors"][0]["field"] == "body"


def test_a_long_string_is_422_naming_the_field(client: TestClient, auth: TokenFactory) -> None:
    headers = auth("radiologist")
    study = client.post("/api/v1/studies", json=study_body(), headers=headers).json()
    body = {"endplates": endplates(), "extra": "x" * 10_001}
    response = client.post(f"/api/v1/studies/{study['id']}/gradings", json=body, headers=headers)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "extra"
    assert "at most 10000" in response.json()["detail"]


def test_files_per_upload_are_limited(settings: Settings, auth: TokenFactory) -> None:
    app = create_app(settings.model_copy(update={"max_upload_files": 3}))
    with TestClient(app) as client:
        with session_scope(app.state.engine, write=True) as session:
            from registry.services.users import add_user

            _, token = add_user(session, "uploader", "admin")
        files = [("files", (p.name, p.read_bytes(), "application/dicom")) for p in _t1_files()[:4]]
        response = client.post("/api/v1/studies", files=files, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (400, 413, 422) and "3" in response.text


@pytest.mark.parametrize(
    ("update", "match"),
    [
        ({"max_archive_bytes": 100_000}, "bytes uncompressed; at most 100000"),
        ({"max_archive_ratio": 5}, "expands more than 5-fold"),
    ],
)
def test_archive_limits_come_from_settings(settings: Settings, update: dict[str, int], match: str) -> None:
    app = create_app(settings.model_copy(update=update))
    from registry.services.users import add_user

    with TestClient(app) as client:
        with session_scope(app.state.engine, write=True) as session:
            _, token = add_user(session, "uploader", "admin")
        bomb = _zip({f"{i}.dcm": b"\0" * 60_000 for i in range(40)})
        response = client.post(
            "/api/v1/studies",
            files=[("files", ("bomb.zip", bomb, "application/zip"))],
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 422 and match in response.text, response.text


def test_every_dropped_zip_member_is_named(client: TestClient, auth: TokenFactory) -> None:
    t1 = _t1_files()
    archive = _zip(
        {
            "..\\..\\x.dcm": t1[0].read_bytes(),
            ".hidden.dcm": t1[1].read_bytes(),
            "DICOMDIR": b"index",
            "ok.dcm": t1[2].read_bytes(),
        }
    )
    response = client.post(
        "/api/v1/studies", files=[("files", ("up.zip", archive, "application/zip"))], headers=auth("radiologist")
    )
    assert response.status_code == 201, response.text
    warnings = response.json()["warnings"]
    assert any(w.startswith("up.zip:.hidden.dcm: ") for w in warnings), warnings
    assert any(w.startswith("up.zip:DICOMDIR: ") for w in warnings), warnings
    assert sum(s["slices"] for s in response.json()["series"]) == 2  # the Windows-style path is read


@pytest.mark.parametrize("syntax", [None, ExplicitVRLittleEndian, JPEG2000Lossless])
def test_pixel_data_that_does_not_match_its_header_is_refused_by_name(
    client: TestClient, auth: TokenFactory, tmp_path: Path, syntax: str | None
) -> None:
    """Cut in half: the sample's own RLE fragments, native pixels, JPEG 2000 fragments."""
    source = _t1_files()[0]
    if syntax is not None:
        source = transcode(source, tmp_path / "other.dcm", syntax)
    data = source.read_bytes()
    cut = data[: len(data) - (len(data) - 2000) // 2]
    files = [("files", ("cut.dcm", cut, "application/dicom")), ("files", ("ok.dcm", _t1_files()[1].read_bytes(), ""))]
    response = client.post("/api/v1/studies", files=files, headers=auth("radiologist"))
    assert response.status_code == 201, response.text
    assert any(w.startswith("cut.dcm: pixel data") for w in response.json()["warnings"]), response.json()["warnings"]


def test_an_upload_stops_when_the_client_disconnects(
    app: FastAPI, auth: TokenFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A long ingest (many images) whose client goes away stops before its next file and writes no study."""
    headers = auth("radiologist")
    files = sorted(SAMPLE_STUDIES[0].rglob("*.dcm"))
    # The same images many times over: each one is read, checked and stored again (150 copies: about
    # 1 s of ingest on a fast 2-core machine, where 100 copies took 0.64 s with the upload).
    archive = _zip({f"{n}/{p.name}": p.read_bytes() for n in range(150) for p in files})
    caplog.set_level(logging.INFO, logger="api.uploads")
    with LiveServer(app) as server:
        with contextlib.suppress(httpx.TimeoutException):
            httpx.post(
                f"{server.url}/api/v1/studies",
                files=[("files", ("many.zip", archive, "application/zip"))],
                headers=headers,
                # The whole body is sent; the client gives up 0.1 s into waiting for the answer,
                # whatever the machine's speed, while the server is still ingesting.
                timeout=httpx.Timeout(10.0, read=0.1),
            )
        deadline = time.monotonic() + 30
        while "the client has gone" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "the client has gone" in caplog.text
        with session_scope(app.state.engine) as session:
            assert session.connection().execute(text("SELECT count(*) FROM studies")).scalar_one() == 0
