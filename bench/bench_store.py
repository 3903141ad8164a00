"""Image stores: slice PNG latency over HTTP from the DICOMweb archive store (cold and cached) against the
directory store; targets: p95 at most 1.5× the directory's when cached, 3× when cold.

Orthanc (Debian ``orthanc``, ``orthanc-dicomweb``) binds 0.0.0.0, so this module re-runs itself in a
private network namespace with Orthanc and prints its timings as JSON. The four sample studies are
ingested into a data directory and moved into Orthanc with ``modic store migrate``; then three ``modic
serve`` processes on the same database render the same slices (every slice of every T1 and T2 series,
in rounds, the processes taking turns slice by slice):

- ``dir``: the directory store (the peer);
- ``cold``: the archive store with ``MODIC_IMAGE_CACHE_BYTES=0``, so every slice is a WADO-RS retrieval;
- ``cached``: the archive store with its cache, warmed by one round.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench.common import ROOT, ServerProcess, give_studies_to, median, percentile, print_table, row, run_in_namespace

ROUNDS = 5
CACHED_TARGET = 1.5
COLD_TARGET = 3.0


def _modic(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "api.cli", *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"modic {' '.join(args)} failed: {done.stderr[-2000:]}")


def inside(work: Path) -> dict[str, Any]:
    """In the namespace: Orthanc, the migrated sample studies, three servers, the timed rounds."""
    from registry.db import dispose_engine, get_engine, migrate, session_scope
    from registry.services.users import add_user
    from tests.orthanc_support import running_orthanc, tool

    database_url = f"sqlite:///{work}/bench.db"
    migrate(get_engine(database_url))
    with session_scope(get_engine(database_url), write=True) as session:
        _, token = add_user(session, "bench-radiologist", "radiologist")
    dispose_engine(database_url)
    base_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MODIC_DATABASE_URL": database_url,
        "MODIC_DATA_DIR": str(work / "data"),
    }
    with running_orthanc(work, str(tool("Orthanc")), str(tool("ip")), HttpThreadsCount=8) as base:
        archive = {"MODIC_IMAGE_STORE": "dicomweb", "MODIC_IMAGE_STORE_URL": f"{base}/dicom-web"}
        _modic(base_env, "ingest", *(str(p) for p in sorted((ROOT / "sample_dicom").rglob("*.dcm"))))
        give_studies_to(database_url, ["bench-radiologist"])
        _modic(base_env, "store", "migrate", "--to-dicomweb", archive["MODIC_IMAGE_STORE_URL"])
        envs = {
            "dir": base_env,
            "cold": {**base_env, **archive, "MODIC_IMAGE_CACHE_BYTES": "0"},
            "cached": {**base_env, **archive},
        }
        serve = ["-m", "api.cli", "serve", "--port", "{port}"]
        servers = {name: ServerProcess(serve, env=env) for name, env in envs.items()}
        for server in servers.values():
            server.__enter__()
        try:
            return _rounds({name: server.url for name, server in servers.items()}, token)
        finally:
            for server in servers.values():
                server.__exit__()


def _rounds(urls: dict[str, str], token: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    clients = {name: httpx.Client(base_url=url, headers=headers, timeout=60) for name, url in urls.items()}
    try:
        api = clients["dir"]
        slices: list[str] = []
        for study in api.get("/api/v1/studies", params={"limit": 100}).json()["items"]:
            for series_id in api.get(f"/api/v1/studies/{study['id']}").json()["grading_series"].values():
                count = api.get(f"/api/v1/series/{series_id}").json()["slices"]
                slices += [f"/api/v1/series/{series_id}/slices/{n}.png" for n in range(count)]
        for path in slices:  # warm-up: imports and connections everywhere, the cached server's cache
            for client in clients.values():
                client.get(path).raise_for_status()
        times: dict[str, list[float]] = {name: [] for name in clients}
        for _ in range(ROUNDS):
            for path in slices:
                for name, client in clients.items():
                    start = time.perf_counter()
                    client.get(path).raise_for_status()
                    times[name].append(time.perf_counter() - start)
        return {"times": times, "slices": len(slices)}
    finally:
        for client in clients.values():
            client.close()


def run() -> list[dict[str, Any]]:

    from tests.orthanc_support import missing_orthanc

    name = "slice PNG over HTTP from the Orthanc store (DICOMweb)"
    reason = missing_orthanc()
    if reason is not None:
        return [row(name, f"not run: {reason}", f"cached p95 ≤ {CACHED_TARGET}× directory", False)]
    result = run_in_namespace("bench.bench_store", "store")
    ms = {k: [t * 1000 for t in v] for k, v in result["times"].items()}
    p95 = {k: percentile(v, 95) for k, v in ms.items()}
    med = {k: median(v) for k, v in ms.items()}
    peer = f"directory store p95 {p95['dir']:.1f} ms (median {med['dir']:.1f} ms)"
    count = f"{result['slices']} slices × {ROUNDS}"
    kinds = [("cached", "cached", CACHED_TARGET), ("cold", "cold: no cache, WADO-RS each", COLD_TARGET)]
    return [
        row(
            f"{name}, {label} ({count})",
            f"p95 {p95[kind]:.1f} ms (median {med[kind]:.1f} ms)",
            f"p95 ≤ {target}× directory",
            p95[kind] <= target * p95["dir"],
            peer=peer,
            ratio=f"{p95[kind] / p95['dir']:.2f}",
        )
        for kind, label, target in kinds
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--inside"]:
        print(json.dumps(inside(Path(sys.argv[2]))))
    else:
        print_table(run())
