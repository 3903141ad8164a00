"""The server's memory (RSS) before and after a set of hostile requests, and how fast each is refused.

The set: a zip bomb (a small archive that would inflate far beyond the archive limits), a declared
200 MB JSON body without a token, a JSON body streamed past the body limit, a grading with a 5 MB
string, NUL bytes in ids and bodies, and bad tokens until the brake answers 429. Each kind is sent
``REPEAT`` times. The server is ``modic serve`` on SQLite in a subprocess; its RSS is read from
``/proc``. Target: RSS after the set within 100 MB of RSS before, and every request refused with 4xx.
"""

from __future__ import annotations

import io
import socket
import tempfile
import time
import zipfile
from typing import Any

import httpx

from bench.common import ServerProcess, median, row
from registry.db import dispose_engine, get_engine, migrate, session_scope
from registry.services.users import add_user, set_registrar

REPEAT = 5


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for i in range(12):
            archive.writestr(f"slice{i}.dcm", b"\0" * (100 << 20))  # 1.2 GB inflated, ~1.2 MB compressed
    return buffer.getvalue()


def _declared_huge_body(port: int) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        raw.sendall(
            b"POST /api/v1/studies HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 200000000\r\n\r\n{"
        )
        return int(raw.recv(4096).split()[1])


def _streamed_body() -> Any:
    for _ in range(64):
        yield b" " * (64 << 10)


def _streamed(http: httpx.Client, auth: dict[str, str]) -> int:
    """A chunked JSON body past the limit: 413, or the connection closed while the rest is still sent."""
    try:
        headers = {**auth, "Content-Type": "application/json"}
        return http.post("/api/v1/studies", content=_streamed_body(), headers=headers).status_code
    except httpx.TransportError:
        return 413


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{tmp}/bench.db"
        migrate(get_engine(database_url))
        with session_scope(get_engine(database_url), write=True) as session:
            token = add_user(session, "bench-rad", "radiologist")[1]
            set_registrar(session, "bench-rad", True, None)  # uploads reach the ingest, not a 403
            admin_token = add_user(session, "bench-admin", "admin")[1]
        dispose_engine(database_url)
        serve = ["-m", "api.cli", "serve", "--port", "{port}", "--database-url", database_url]
        bomb = _bomb()
        statuses: list[int] = []
        seconds: dict[str, list[float]] = {}
        with (
            ServerProcess(serve, env={"MODIC_DATA_DIR": f"{tmp}/data"}) as server,
            httpx.Client(base_url=server.url, timeout=120) as http,
        ):
            assert server.pid is not None
            auth = {"Authorization": f"Bearer {token}"}
            admin = {"Authorization": f"Bearer {admin_token}"}
            http.get("/api/v1/me", headers=auth)
            before = _rss_mb(server.pid)
            registered = http.post(
                "/api/v1/studies", json={"study_instance_uid": "1.2.3", "patient_id": "BENCH-1"}, headers=admin
            ).json()["id"]
            kinds: dict[str, Any] = {
                "zip bomb": lambda: (
                    http.post(
                        "/api/v1/studies", files=[("files", ("bomb.zip", bomb, "application/zip"))], headers=auth
                    ).status_code
                ),
                "declared 200 MB body": lambda: _declared_huge_body(server.port),
                "streamed body": lambda: (
                    http.post(
                        "/api/v1/studies",
                        content=_streamed_body(),
                        headers={**auth, "Content-Type": "application/json"},
                    ).status_code
                ),
                "5 MB string": lambda: (
                    http.post(
                        f"/api/v1/studies/{registered}/gradings",
                        content=b'{"endplates": {}, "x": "' + b"a" * (5 << 20) + b'"}',
                        headers={**auth, "Content-Type": "application/json"},
                    ).status_code
                ),
                "NUL bytes": lambda: http.get("/api/v1/studies/%00", headers=auth).status_code,
            }
            for name, send in kinds.items():
                for _ in range(REPEAT):
                    start = time.perf_counter()
                    statuses.append(send())
                    seconds.setdefault(name, []).append(time.perf_counter() - start)
            braked = [
                http.get("/api/v1/me", headers={"Authorization": f"Bearer bad{i}"}).status_code for i in range(40)
            ]
            after = _rss_mb(server.pid)
    refused = all(400 <= s < 500 for s in statuses) and 429 in braked
    timings = ", ".join(f"{name} {median(values) * 1000:.0f} ms" for name, values in seconds.items())
    return [
        row(
            f"server RSS around the hostile-request set ({REPEAT} of each kind, bad tokens until 429)",
            f"{before:.0f} MB before, {after:.0f} MB after",
            "after within 100 MB of before; every request 4xx",
            after - before < 100 and refused,
            peer=f"median time to refuse: {timings}",
            ratio=f"{after / before:.2f}",
        )
    ]
