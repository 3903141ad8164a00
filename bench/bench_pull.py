"""Pull: ``modic pull`` of 50 studies from Orthanc over DICOMweb, against dicomweb-client retrieving the
same series in a plain loop; target ratio ≥ 0.8.

Orthanc (Debian packages ``orthanc``, ``orthanc-dicomweb``) holds 52 studies: 13 renamed copies of the
four sample studies, each with its localizer, sagittal T1, T2, STIR and axial T2. It binds 0.0.0.0, so
this module re-runs itself in private network and mount namespaces (``unshare --net --mount``) with
Orthanc, and prints its timings as JSON. Every file (the fixture, Orthanc's storage, the registries and
the data directories) is on a new ext4 file system with its journal, mounted there from a sparse file
(:func:`bench.common.journaled_folder`, which says why: this machine's own file system made file creation
slow for minutes after other benchmarks deleted their folders). Measured there, alternately, five times,
an empty registry (a copy of a database whose schema was migrated beforehand: a site pulls into the
registry it runs) and an empty data directory each run:

- ``modic pull --dicomweb URL --patients FILE`` for 50 patients, as a command (compared with the peer run
  as a command): its start-up, the QIDO-RS queries (one series-level query per patient, with what
  screening reads, up to 32 patients ahead from the command's start), the classification, WADO-RS of
  the 3 sagittal series of each study, writing the files, reading their headers and ingesting them
  (patients, studies, series, instances, pull outcomes in the database);
- the same pull on the service path, as ``POST /api/v1/pulls`` runs it (``run_pull`` in this process, its
  modules imported beforehand, no command start-up), into its own empty registry (compared with the peer
  run in this process);
- the peer only downloads: one ``DICOMwebClient.retrieve_series`` per series in a plain loop, for the same
  150 series from the same Orthanc, asking for the same media type (as stored, no transcoding), keeping
  the datasets in memory. It is run the same two ways: as a command (``python -c`` with the loop, paying
  its own start-up: the interpreter, ``requests``, ``dicomweb-client`` and pydicom), which the command is
  compared with; and in this process, already imported, which the service path is compared with;
- a third row compares the service path with that in-process loop as a script that keeps what it
  retrieves runs it: each dataset written to a file of its own (``save_as``), as the pull writes its
  files too. It is shown beside the two rows above, which keep the peer that only downloads.

Each row names its peer: a command against a command, an imported function against an imported loop.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pydicom

from bench.bench_imaging import copy_with_new_uids
from bench.common import ROOT, journaled_folder, median, print_table, row, run_in_namespace

COPIES = 13
"""Copies of the four sample studies in Orthanc (52 studies)."""
STUDIES = 50
RUNS = 5
WANTED = ("t1_se_sag", "t2_tse_sag", "t2_tirm_sag")
TARGET_RATIO = 0.8


def _upload(base: str, files: list[Path]) -> None:
    def post(path: Path) -> None:
        data = path.read_bytes()
        for attempt in range(3):
            request = urllib.request.Request(f"{base}/instances", data=data, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    response.read()
                return
            except urllib.error.HTTPError as exc:
                # Orthanc 1.10 once answered 500 to one of four uploads at once; storing it again is harmless.
                if exc.code < 500 or attempt == 2:
                    raise

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(post, files))


def _fixture(work: Path) -> tuple[list[Path], list[str], list[tuple[str, str]]]:
    """The files, the 50 patients to pull and the (study, series) pairs grading needs for them."""
    files = copy_with_new_uids(work / "studies", COPIES)
    patients: list[str] = []
    wanted: dict[str, set[tuple[str, str]]] = {}
    for path in files:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        patient = str(ds.PatientID)
        if patient not in wanted:
            patients.append(patient)
            wanted[patient] = set()
        if ds.SeriesDescription in WANTED:
            wanted[patient].add((str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)))
    chosen = patients[:STUDIES]
    return files, chosen, sorted(pair for p in chosen for pair in wanted[p])


def _registry(work: Path) -> Path:
    """An empty registry database with its schema migrated: a site pulls into the registry it runs."""
    from registry.db import dispose_engine, get_engine, migrate

    path = work / "registry.db"
    url = f"sqlite:///{path}"
    migrate(get_engine(url))
    dispose_engine(url)
    return path


def _modic_pull(base: str, patients_file: Path, work: Path, run: int, registry: Path) -> float:
    database = work / f"pull{run}.db"
    shutil.copyfile(registry, database)
    env = {**os.environ, "MODIC_DATABASE_URL": f"sqlite:///{database}", "MODIC_DATA_DIR": str(work / f"data{run}")}
    command = [
        sys.executable,
        "-m",
        "api.cli",
        "pull",
        "--dicomweb",
        f"{base}/dicom-web",
        "--patients",
        str(patients_file),
    ]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or f"{STUDIES} fetched" not in done.stdout:
        raise RuntimeError(f"modic pull failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
    return elapsed


def _service_pull(base: str, patients: list[str], work: Path, run: int, registry: Path) -> float:
    """The pull as the API runs it (``PullRunner`` calls ``run_pull``): in this process, imported already."""
    from registry.db import dispose_engine, get_engine, session_scope
    from registry.imaging.pacs import ArchiveConfig, DicomwebOptions
    from registry.imaging.store import FileStore
    from registry.services.pulls import PullRequest, open_pull, run_pull

    database = work / f"service{run}.db"
    shutil.copyfile(registry, database)
    url = f"sqlite:///{database}"
    store = FileStore(work / f"service-data{run}")
    config = ArchiveConfig(dicomweb=DicomwebOptions(url=f"{base}/dicom-web"))
    start = time.perf_counter()
    engine = get_engine(url)
    with session_scope(engine, write=True) as session:
        pull, _ = open_pull(session, PullRequest(config.label, tuple(patients)), None)
    archive = config.open(store)
    try:
        summary = run_pull(engine, store, archive, pull.id, patients)
    finally:
        archive.close()
    elapsed = time.perf_counter() - start
    dispose_engine(url)
    if summary.outcomes.total() != STUDIES or summary.error:
        raise RuntimeError(f"the service pull failed: {summary.line}")
    return elapsed


PEER_LOOP = """
import json, sys
import requests
from dicomweb_client import DICOMwebClient

series = json.loads(sys.argv[2])
session = requests.Session()
session.trust_env = False
client = DICOMwebClient(url=sys.argv[1], session=session)
count = 0
for study_uid, series_uid in series:
    count += len(client.retrieve_series(study_uid, series_uid, media_types=(("application/dicom", "*"),)))
print(count)
"""
"""The peer's loop as a command, :func:`_peer`'s loop with its imports: the same requests, one after another."""


def _peer(base: str, series: list[tuple[str, str]], folder: Path | None = None) -> float:
    """The peer's loop in this process, ``requests`` and ``dicomweb-client`` imported beforehand; with a
    ``folder``, as a script that keeps what it retrieves runs it: each dataset written to a file of its own
    (``save_as``) in that new folder."""
    import requests
    from dicomweb_client import DICOMwebClient

    session = requests.Session()
    session.trust_env = False
    client = DICOMwebClient(url=f"{base}/dicom-web", session=session)
    if folder is not None:
        folder.mkdir(parents=True)
    start = time.perf_counter()
    count = 0
    for study_uid, series_uid in series:
        datasets = client.retrieve_series(study_uid, series_uid, media_types=(("application/dicom", "*"),))
        if folder is not None:
            for ds in datasets:
                ds.save_as(folder / f"{ds.SOPInstanceUID}.dcm", enforce_file_format=True)
        count += len(datasets)
    elapsed = time.perf_counter() - start
    _check_peer(count, series)
    return elapsed


def _peer_command(base: str, series: list[tuple[str, str]]) -> float:
    """The peer's loop as a command (``python -c``): the interpreter and its imports are timed too."""
    command = [sys.executable, "-c", PEER_LOOP, f"{base}/dicom-web", json.dumps(series)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"the peer command failed ({done.returncode}): {done.stderr[-2000:]}")
    _check_peer(int(done.stdout.strip()), series)
    return elapsed


def _check_peer(count: int, series: list[tuple[str, str]]) -> None:
    if count != 11 * len(series):
        raise RuntimeError(f"the peer retrieved {count} instances of {len(series)} series of 11 slices")


def inside(work: Path) -> dict[str, Any]:
    """In the namespace: Orthanc with the fixture, then the alternating runs, every file (the fixture,
    Orthanc's storage, the registries and data directories) on a new journaled file system."""
    with journaled_folder(work) as (folder, where):
        result = _runs(folder)
        result["files"] = where
        return result


def _runs(work: Path) -> dict[str, Any]:
    from tests.orthanc_support import running_orthanc, tool

    files, patients, series = _fixture(work)
    patients_file = work / "patients.csv"
    patients_file.write_text("patient_id\n" + "\n".join(patients) + "\n")
    registry = _registry(work)
    with running_orthanc(work, str(tool("Orthanc")), str(tool("ip")), HttpThreadsCount=8) as base:
        _upload(base, files)
        _peer(base, series[:3])  # warm-up: Orthanc's caches, imports
        _import_service()
        pulls, services, peers, peer_commands, savers = [], [], [], [], []
        for run in range(RUNS):
            peer_commands.append(_peer_command(base, series))
            pulls.append(_modic_pull(base, patients_file, work, run, registry))
            peers.append(_peer(base, series))
            services.append(_service_pull(base, patients, work, run, registry))
            savers.append(_peer(base, series, work / f"saved{run}"))
    return {
        "pull": pulls,
        "service": services,
        "peer": peers,
        "peer_command": peer_commands,
        "peer_saving": savers,
        "series": len(series),
    }


def _import_service() -> None:
    """Import what the service path uses before timing it, as the peer's client is imported before its runs."""
    import registry.services.pulls  # noqa: F401


def run() -> list[dict[str, Any]]:
    from tests.orthanc_support import missing_orthanc

    name = f"pull {STUDIES} studies over DICOMweb (modic pull)"
    reason = missing_orthanc()
    if reason is not None:
        return [row(name, f"not run: {reason}", f"≥ {TARGET_RATIO}× peer", False)]
    result = run_in_namespace("bench.bench_pull", "pull", own_mounts=True)
    rows = []
    for label, key, peer_key, peer_name, targeted in (
        (name, "pull", "peer_command", "dicomweb-client retrieve_series loop as a command (python -c)", True),
        (
            f"pull {STUDIES} studies over DICOMweb (service path, as the API)",
            "service",
            "peer",
            "dicomweb-client retrieve_series loop in process",
            True,
        ),
        (
            f"pull {STUDIES} studies over DICOMweb (service path) against a loop that writes its files",
            "service",
            "peer_saving",
            "the same loop in process, each dataset written with save_as",
            False,
        ),
    ):
        ours, peer = median(result[key]), median(result[peer_key])
        ratio = peer / ours
        rows.append(
            row(
                label,
                f"{ours:.2f} s ({result['series']} series; {result['files']})",
                f"≥ {TARGET_RATIO}× peer" if targeted else "measured, no target",
                ratio >= TARGET_RATIO or not targeted,
                peer=f"{peer:.2f} s {peer_name}",
                ratio=f"{ratio:.2f}×",
            )
        )
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["--inside"]:
        print(json.dumps(inside(Path(sys.argv[2]))))
    else:
        print_table(run())
