"""Workstation page: from navigation to both first images (sagittal T1 and T2) decoded.

Target (issue 6): under 1 s on loopback. The page marks ``modic:first-images`` with the
Performance API when both panes have decoded their first slice; the figure is that mark's time
from navigation start, in a fresh browser context (empty cache) each run, against ``modic serve``
in its own process serving the sample studies of ``sample_dicom/`` from SQLite.

Peer, in the same run: the bare HTTP floor of the same work with httpx — a fresh connection,
``GET /studies/{id}`` and the two middle slice PNGs, one after another.

Run: ``python bench/bench_web.py [--runs N]`` or ``python bench/run.py web``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import CHROMIUM, CHROMIUM_ARGS, ServerProcess, median, percentile, print_table, row
from registry.db import dispose_engine, get_engine, migrate, session_scope
from registry.services.users import add_user

TARGET_MS = 1000.0
MARK = "modic:first-images"
RUNS = 15


def _prepare(database_url: str, data_dir: Path) -> str:
    """A radiologist's token, with the sample studies ingested as ``modic serve --demo`` does."""
    try:
        imaging = importlib.import_module("registry.services.imaging")
        store = importlib.import_module("registry.imaging.store").FileStore(data_dir)
    except ImportError as exc:
        raise SystemExit(f"bench_web needs the imaging service and sample_dicom/: {exc}") from None
    engine = get_engine(database_url)
    migrate(engine)
    with session_scope(engine, write=True) as session:
        _, token = add_user(session, "bench-radiologist", "radiologist")
    with session_scope(engine, write=True) as session:
        imaging.ingest_sample_studies(session, store)
    dispose_engine(database_url)
    return token


def _page_runs(base: str, token: str, study: dict[str, Any], runs: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    times: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for _ in range(runs + 1):  # the first load warms the server up and is not counted
                context = browser.new_context(viewport={"width": 1500, "height": 950})
                context.add_init_script(f"sessionStorage.setItem('modic.token', {json.dumps(token)});")
                page = context.new_page()
                page.goto(f"{base}/#/study/{study['id']}")
                page.wait_for_function(f"() => performance.getEntriesByName('{MARK}').length > 0", timeout=20_000)
                times.append(page.evaluate(f"performance.getEntriesByName('{MARK}')[0].startTime"))
                context.close()
        finally:
            browser.close()
    return times[1:]


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


def run(runs: int = RUNS) -> list[dict[str, Any]]:
    """Median and p95 of the page's time to both first images, against the httpx floor."""
    if not CHROMIUM.exists():
        raise SystemExit(f"bench_web needs {CHROMIUM} (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="modic-bench-web-") as tmp:
        database_url = f"sqlite:///{tmp}/bench.db"
        token = _prepare(database_url, Path(tmp) / "data")
        serve = ["-m", "api.cli", "serve", "--port", "{port}", "--database-url", database_url]
        with ServerProcess(serve, env={"MODIC_DATA_DIR": f"{tmp}/data"}) as server:
            headers = {"Authorization": f"Bearer {token}"}
            studies = httpx.get(f"{server.url}/api/v1/studies", headers=headers).json()["items"]
            study = next(s for s in studies if s["grading_series"]["t1"] and s["grading_series"]["t2"])
            page = _page_runs(server.url, token, study, runs)
            peer = _peer_runs(server.url, token, study, runs)
    page_median, page_p95 = median(page), percentile(page, 95)
    return [
        row(
            f"web page: navigation to T1+T2 first images decoded ({runs} cold loads)",
            f"median {page_median:.0f} ms, p95 {page_p95:.0f} ms",
            f"p95 < {TARGET_MS:.0f} ms",
            page_p95 < TARGET_MS,
            peer=f"httpx GET study + 2 PNGs: median {median(peer):.0f} ms, p95 {percentile(peer, 95):.0f} ms",
            ratio=f"{page_median / median(peer):.2f}",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS, help=f"page loads to time (default {RUNS})")
    print_table(run(parser.parse_args().runs))


if __name__ == "__main__":
    main()
