"""Imaging: ``modic ingest`` throughput, upload-to-gradable time and slice PNG render latency.

- ingest: ``modic ingest FOLDER`` (in-process, fresh SQLite database and data directory per run) over a
  folder of sample studies, against a plain loop of pydicom ``dcmread(stop_before_pixels=True)`` over
  the same files; target ratio ≥ 0.5;
- upload to gradable: ``POST /studies`` of one 43-file study through a real uvicorn server, then the
  first slice PNG of the chosen T1 series; peer: reading the same files with pydicom and rendering one
  slice with pydicom + Pillow in-process; target < 1 s;
- slice PNG: ``GET /series/{id}/slices/{n}.png`` through the same server, one client; peer: pydicom
  decode + Pillow PNG of the same file in-process; target p95 < 30 ms.

Medians (and the p95 for rendering) of repeated runs; the peers run the same way in the same run.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pydicom
from PIL import Image

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.cli import main as modic_main
from bench.common import ServerProcess, median, percentile, print_table, row
from registry.db import dispose_engine, get_engine, migrate, session_scope
from registry.services.users import add_user, set_registrar

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_STUDIES = sorted(p for p in (ROOT / "sample_dicom").iterdir() if (p / "ground_truth.json").is_file())
COPIES = 5
"""Copies of the sample studies (with new UIDs) in the ingest folder: 5 × 4 studies × 43 files."""
RUNS = 5
RENDERS = 200


def copy_with_new_uids(target: Path, copies: int) -> list[Path]:
    """``copies`` renamed copies of every sample study: new study, series, instance and patient ids."""
    files: list[Path] = []
    for copy in range(copies):
        for study in SAMPLE_STUDIES:
            for path in sorted(study.rglob("*.dcm")):
                ds = pydicom.dcmread(path)
                suffix = f".{copy + 1}"
                for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"):
                    value = str(getattr(ds, keyword))
                    setattr(ds, keyword, value[: 64 - len(suffix)] + suffix)
                ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
                ds.PatientID = f"{ds.PatientID}-{copy + 1}"
                out = target / f"copy{copy + 1}" / path.relative_to(study.parent)
                out.parent.mkdir(parents=True, exist_ok=True)
                ds.save_as(out, enforce_file_format=True)
                files.append(out)
    return files


def _plain_read(files: list[Path]) -> float:
    start = time.perf_counter()
    for path in files:
        pydicom.dcmread(path, stop_before_pixels=True)
    return time.perf_counter() - start


def _modic_ingest(folder: Path, work: Path, run: int) -> float:
    database_url = f"sqlite:///{work}/ingest{run + 1}.db"
    migrate(get_engine(database_url))
    args = ["ingest", str(folder), "--database-url", database_url]
    with (
        contextlib.redirect_stdout(io.StringIO()),
        _environment("MODIC_DATA_DIR", str(work / f"data{run + 1}")),
    ):
        start = time.perf_counter()
        status = modic_main(args)
        elapsed = time.perf_counter() - start
    dispose_engine(database_url)
    if status != 0:
        raise RuntimeError(f"modic ingest exited with {status}")
    return elapsed


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """``os.environ[name] = value`` for the duration of the block."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def _peer_render(path: Path) -> bytes:
    ds = pydicom.dcmread(path)
    pixels = ds.pixel_array.astype(np.float32)
    scaled = np.clip((pixels - pixels.min()) * (255.0 / max(1.0, float(pixels.max() - pixels.min()))), 0, 255)
    out = io.BytesIO()
    Image.fromarray(scaled.astype(np.uint8)).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def _ingest_rows(work: Path) -> list[dict[str, Any]]:
    folder = work / "ingest"
    files = copy_with_new_uids(folder, COPIES)
    _plain_read(files)
    _modic_ingest(folder, work, -1)  # warm-up: imports, first migration
    plain, ours = [], []
    for run in range(RUNS):
        plain.append(_plain_read(files))
        ours.append(_modic_ingest(folder, work, run))
    plain_rate, our_rate = len(files) / median(plain), len(files) / median(ours)
    ratio = our_rate / plain_rate
    return [
        row(
            f"modic ingest throughput ({len(files)} files)",
            f"{our_rate:.0f} files/s",
            ">= 0.5x plain dcmread",
            ratio >= 0.5,
            peer=f"dcmread(stop_before_pixels) loop {plain_rate:.0f} files/s",
            ratio=f"{ratio:.2f}",
        )
    ]


def _http_rows(work: Path) -> list[dict[str, Any]]:
    database_url = f"sqlite:///{work}/serve.db"
    migrate(get_engine(database_url))
    with session_scope(get_engine(database_url), write=True) as session:
        _, token = add_user(session, "bench-radiologist", "radiologist")
        set_registrar(session, "bench-radiologist", True, None)  # uploads; an upload assigns its study
    dispose_engine(database_url)
    headers = {"Authorization": f"Bearer {token}"}
    uploads: list[float] = []
    peers: list[float] = []
    serve = ["-m", "api.cli", "serve", "--port", "{port}", "--database-url", database_url]
    with (
        ServerProcess(serve, env={"MODIC_DATA_DIR": str(work / "serve-data")}) as server,
        httpx.Client(base_url=server.url, headers=headers, timeout=60) as client,
    ):
        study_ids = []
        by_study = _split_by_study(sorted((work / "ingest").rglob("*.dcm")))
        for index, files in enumerate(by_study[: 1 + RUNS * 2]):
            parts = [("files", (p.name, p.read_bytes(), "application/dicom")) for p in files]
            start = time.perf_counter()
            response = client.post("/api/v1/studies", files=parts)
            response.raise_for_status()
            t1 = response.json()["grading_series"]["t1"]
            client.get(f"/api/v1/series/{t1}/slices/0.png").raise_for_status()
            elapsed = time.perf_counter() - start
            study_ids.append(t1)
            start = time.perf_counter()
            for path in files:
                pydicom.dcmread(path, stop_before_pixels=True)
            _peer_render(files[0])
            peer = time.perf_counter() - start
            if index:  # the first upload warms the server up
                uploads.append(elapsed)
                peers.append(peer)
        t1 = study_ids[-1]
        client.get(f"/api/v1/series/{t1}/slices/0.png").raise_for_status()
        latencies = []
        for n in range(RENDERS):
            start = time.perf_counter()
            client.get(f"/api/v1/series/{t1}/slices/{n % 11}.png").raise_for_status()
            latencies.append(time.perf_counter() - start)
    t1_files = sorted(p for p in by_study[-1] if "t1_se_sag" in p.parent.name)
    peer_latencies = []
    for n in range(RENDERS):
        start = time.perf_counter()
        _peer_render(t1_files[n % len(t1_files)])
        peer_latencies.append(time.perf_counter() - start)
    upload = median(uploads)
    p95, peer_p95 = percentile(latencies, 95) * 1000, percentile(peer_latencies, 95) * 1000
    return [
        row(
            "upload to gradable (1 study, 43 files, + first slice PNG)",
            f"{upload * 1000:.0f} ms",
            "< 1 s",
            upload < 1.0,
            peer=f"pydicom read + 1 slice render in-process {median(peers) * 1000:.0f} ms",
            ratio=f"{median(peers) / upload:.2f}",
        ),
        row(
            "slice PNG render over HTTP",
            f"p95 {p95:.1f} ms (median {median(latencies) * 1000:.1f} ms)",
            "p95 < 30 ms",
            p95 < 30,
            peer=f"pydicom + Pillow in-process p95 {peer_p95:.1f} ms",
            ratio=f"{peer_p95 / p95:.2f}",
        ),
    ]


def _split_by_study(files: list[Path]) -> list[list[Path]]:
    """The copied files grouped by study folder (``copyN/modic-pXX``)."""
    groups: dict[Path, list[Path]] = {}
    for path in files:
        groups.setdefault(path.parents[1], []).append(path)
    return [sorted(files) for _, files in sorted(groups.items())]


def run() -> list[dict[str, Any]]:
    work = Path(tempfile.mkdtemp(prefix="modic-bench-imaging-"))
    try:
        return _ingest_rows(work) + _http_rows(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    print_table(run())
