"""Workstation page: from navigation to both first images (sagittal T1 and T2) decoded.

Target (issue 6): under 1 s on loopback. The page marks ``modic:first-images`` with the
Performance API when both panes have decoded their first slice; the figure is that mark's time
from navigation start, in a fresh browser context (empty cache) each run, against the app
serving the sample studies of ``sample_dicom/`` from SQLite.

Peer, in the same run: the bare HTTP floor of the same work with httpx — a fresh connection,
``GET /studies/{id}`` and the two middle slice PNGs, one after another.

Run: ``python -m bench.bench_web [--runs N]``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from registry.db import dispose_engine, session_scope
from registry.services.users import add_user
from registry.settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TARGET_MS = 1000.0
MARK = "modic:first-images"
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _serve_samples(workdir: Path) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``modic serve`` in its own process on loopback with the sample studies loaded.

    Yields (base url, a radiologist's token, a study with T1 and T2).
    """
    url = f"sqlite:///{workdir / 'bench.db'}"
    settings = Settings(database_url=url, data_dir=workdir / "data")
    app = create_app(settings)
    try:
        imaging = importlib.import_module("registry.services.imaging")
        store = importlib.import_module("registry.imaging.store").FileStore(settings.data_dir)
    except ImportError as exc:
        raise SystemExit(f"bench_web needs the imaging service and sample_dicom/: {exc}") from None
    with session_scope(app.state.engine, write=True) as session:
        _, token = add_user(session, "bench-radiologist", "radiologist")
    with session_scope(app.state.engine, write=True) as session:
        imaging.ingest_sample_studies(session, store)
    dispose_engine(url)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--database-url", url]
    env = os.environ | {"MODIC_DATA_DIR": str(settings.data_dir)}
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the bench server did not start") from None
                time.sleep(0.05)
        studies = httpx.get(f"{base}/api/v1/studies", headers={"Authorization": f"Bearer {token}"}).json()["items"]
        study = next(s for s in studies if s["grading_series"]["t1"] and s["grading_series"]["t2"])
        yield base, token, study
    finally:
        server.terminate()
        server.wait(timeout=20)


def _page_runs(base: str, token: str, study: dict[str, Any], runs: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    times: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 1500, "height": 950})
                context.add_init_script(f"sessionStorage.setItem('modic.token', {json.dumps(token)});")
                page = context.new_page()
                page.goto(f"{base}/#/study/{study['id']}")
                page.wait_for_function(f"() => performance.getEntriesByName('{MARK}').length > 0", timeout=20_000)
                times.append(page.evaluate(f"performance.getEntriesByName('{MARK}')[0].startTime"))
                context.close()
        finally:
            browser.close()
    return times


def _peer_runs(base: str, token: str, study: dict[str, Any], runs: int) -> list[float]:
    series = {s["id"]: s for s in study["series"]}
    paths = [f"/api/v1/studies/{study['id']}"] + [
        f"/api/v1/series/{sid}/slices/{(series[sid]['slices'] - 1) // 2}.png"
        for sid in (study["grading_series"]["t1"], study["grading_series"]["t2"])
    ]
    times: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
            for path in paths:
                client.get(path).raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _summary(name: str, times: list[float]) -> dict[str, Any]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "name": name,
        "runs": len(times),
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(p95, 1),
        "min_ms": round(ordered[0], 1),
    }


def run(runs: int = 15) -> list[dict[str, Any]]:
    """Median and p95 of the page's time to both first images, and of the httpx peer."""
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"bench_web needs {CHROMIUM} (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="modic-bench-web-") as tmp, _serve_samples(Path(tmp)) as served:
        base, token, study = served
        page = _summary("page: navigation -> T1+T2 decoded", _page_runs(base, token, study, runs))
        peer = _summary("peer: httpx GET study + 2 slice PNGs", _peer_runs(base, token, study, runs))
    page["target_ms"] = TARGET_MS
    page["meets_target"] = page["p95_ms"] < TARGET_MS
    page["ratio_to_peer"] = round(page["median_ms"] / peer["median_ms"], 2)
    return [page, peer]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="page loads to time (default 15)")
    args = parser.parse_args()
    rows = run(args.runs)
    print(f"{'benchmark':<40} {'runs':>4} {'median ms':>10} {'p95 ms':>8} {'min ms':>8}")
    for row in rows:
        print(f"{row['name']:<40} {row['runs']:>4} {row['median_ms']:>10} {row['p95_ms']:>8} {row['min_ms']:>8}")
    page = rows[0]
    verdict = "meets" if page["meets_target"] else "MISSES"
    print(
        f"page median / peer median = {page['ratio_to_peer']}x; "
        f"p95 {page['p95_ms']} ms {verdict} the {TARGET_MS:g} ms target"
    )


if __name__ == "__main__":
    main()
