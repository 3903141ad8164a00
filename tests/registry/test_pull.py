"""``modic pull`` and ``/api/v1/pulls`` against a real Orthanc (Debian packages ``orthanc`` and
``orthanc-dicomweb``) holding the sample studies, copies of them under other patients and decoys.

Orthanc binds 0.0.0.0, so each scenario runs in a private network namespace: the test re-runs this
module as ``python -m tests.registry.test_pull SCENARIO WORKDIR`` under ``unshare --net``; that process
starts Orthanc (with ``--verbose``, which logs every HTTP request and every C-MOVE sub-operation),
uploads the fixture, runs the real ``modic pull`` command (or the API) against it and writes what it saw
to ``WORKDIR/result.json`` for the test to check. What Orthanc sent is read from Orthanc's own log.
The database inside the namespace is SQLite (PostgreSQL on 127.0.0.1 is not reachable from there).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from base64 import b64encode
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pydicom
import pytest

from bench.bench_imaging import copy_with_new_uids
from bench.common import free_port
from tests.api.helpers import assign_every_study, endplates
from tests.imaging_support import ROOT, SAMPLE_STUDIES, new_uid, series_dir
from tests.orthanc_support import (
    missing_orthanc,
    namespace_prefix,
    run_group,
    running_orthanc,
    tool,
)

SCENARIO_TIMEOUT_S = 300
ORTHANC_USER, ORTHANC_PASSWORD = "modic", "pull-secret"
AUTH = "Basic " + b64encode(f"{ORTHANC_USER}:{ORTHANC_PASSWORD}".encode()).decode()
WANTED = ("t1_se_sag", "t2_tse_sag", "t2_tirm_sag")
"""The series grading needs in each sample study: sagittal T1, T2 and STIR."""
DECOY_PATIENT, MISSING_PATIENT = "MODIC-AXIAL-ONLY", "MODIC-NOBODY"


# ------------------------------------------------------------------------------------ fixture (outside)


def build_fixture(folder: Path) -> tuple[list[Path], list[str]]:
    """The files Orthanc holds and the patients CSV rows (in order).

    The four sample studies (each: 3-plane localizer, sagittal T1, T2, STIR, axial T2), one renamed copy of
    each under another patient, a derived sagittal reformat of the first T1 (a decoy that is sagittal
    but not original) and a patient whose only study has the localizer and the axial series.
    """
    files = sorted(p for study in SAMPLE_STUDIES for p in study.rglob("*.dcm"))
    files += copy_with_new_uids(folder / "copies", 1)
    decoys = folder / "decoys"
    decoys.mkdir(parents=True)
    for index, path in enumerate(sorted(series_dir(SAMPLE_STUDIES[0], "t1").glob("*.dcm"))):
        ds = pydicom.dcmread(path)
        ds.ImageType = ["DERIVED", "SECONDARY", "MPR"]
        ds.SeriesDescription = "t1_se_sag_mpr"
        ds.SeriesNumber = 12
        ds.SeriesInstanceUID = new_uid("pull-derived-series")
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = new_uid("pull-derived", index)
        target = decoys / f"derived{index:02d}.dcm"
        ds.save_as(target, enforce_file_format=True)
        files.append(target)
    for role in ("localizer", "axial_t2"):
        for index, path in enumerate(sorted(series_dir(SAMPLE_STUDIES[1], role).glob("*.dcm"))):
            ds = pydicom.dcmread(path)
            ds.PatientID = DECOY_PATIENT
            ds.StudyInstanceUID = new_uid("pull-axial-study")
            ds.SeriesInstanceUID = new_uid("pull-axial-series", role)
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = new_uid("pull-axial", role, index)
            target = decoys / f"{role}{index:02d}.dcm"
            ds.save_as(target, enforce_file_format=True)
            files.append(target)
    patients = [
        str(pydicom.dcmread(s.rglob("*.dcm").__next__(), stop_before_pixels=True).PatientID) for s in SAMPLE_STUDIES
    ]
    patients += [f"{p}-1" for p in patients]
    return files, [*patients, DECOY_PATIENT, MISSING_PATIENT]


# ------------------------------------------------------------------------- scenario (inside the namespace)


def _upload(base: str, files: list[Path]) -> None:
    for path in files:
        request = urllib.request.Request(
            f"{base}/instances", data=path.read_bytes(), method="POST", headers={"Authorization": AUTH}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()


def _get_json(base: str, path: str) -> Any:
    request = urllib.request.Request(f"{base}{path}", headers={"Authorization": AUTH})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


_WADO_SERIES = re.compile(r"\(http\) GET /dicom-web/studies/[0-9.]+/series/([0-9.]+)(/instances/[0-9.]+)?\s*$")
_MOVE_SENT = re.compile(r"Sending resource ([0-9a-f-]+) to modality")


def _retrievals(base: str, log_text: str) -> list[list[str]]:
    """What Orthanc's log says it sent: ``[series uid, "series" | "instance"]`` per WADO-RS retrieval or
    C-MOVE sub-operation (C-MOVE resources are Orthanc ids, looked up through its REST API)."""
    found: list[list[str]] = []
    for line in log_text.splitlines():
        wado = _WADO_SERIES.search(line)
        if wado:
            found.append([wado.group(1), "instance" if wado.group(2) else "series"])
            continue
        moved = _MOVE_SENT.search(line)
        if moved:
            resource = moved.group(1)
            try:
                series = _get_json(base, f"/series/{resource}")
                found.append([series["MainDicomTags"]["SeriesInstanceUID"], "series"])
            except urllib.error.HTTPError:
                instance = _get_json(base, f"/instances/{resource}")
                series = _get_json(base, f"/series/{instance['ParentSeries']}")
                found.append([series["MainDicomTags"]["SeriesInstanceUID"], "instance"])
    return found


class _LogReader:
    """Orthanc's log from the last mark on."""

    def __init__(self, path: Path):
        self.path = path
        self.mark = 0

    def since_mark(self) -> str:
        time.sleep(0.5)  # Orthanc writes its log asynchronously
        text = self.path.read_bytes()[self.mark :].decode(errors="replace")
        self.mark += len(text.encode())
        return text


def _study_states(database_url: str) -> list[dict[str, Any]]:
    """Every study in the registry with its series, as ingest classified them."""
    from registry.db import get_engine, session_scope
    from registry.models import Study
    from registry.services.studies import study_view

    with session_scope(get_engine(database_url)) as session:
        from sqlmodel import select

        states = []
        for study in session.exec(select(Study)):
            view = study_view(session, study.id)
            by_id = {s.id: s for s in view.series}
            states.append(
                {
                    "pseudonym": view.pseudonym,
                    "series": sorted([s.description, s.plane, s.weighting, s.slices, s.gradable] for s in view.series),
                    "t1": None if study.t1_series_id is None else by_id[study.t1_series_id].description,
                    "t2": None if study.t2_series_id is None else by_id[study.t2_series_id].description,
                }
            )
        return states


def _cli_scenario(workdir: Path, mode: str, base: str, dicom_port: int, store_port: int) -> dict[str, Any]:
    """Kill ``modic pull`` after two patients, run it again to the end, then once more; then a run the
    archive refuses (wrong credentials, or an AE title it does not know)."""
    log = _LogReader(workdir / "orthanc.log")
    log.since_mark()
    database_url = f"sqlite:///{workdir / 'modic.db'}"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MODIC_DATABASE_URL": database_url,
        "MODIC_DATA_DIR": str(workdir / "data"),
        "MODIC_PACS_DICOMWEB_USERNAME": ORTHANC_USER,
        "MODIC_PACS_DICOMWEB_PASSWORD": ORTHANC_PASSWORD,
        "MODIC_PACS_STORE_PORT": str(store_port),
    }
    pull = [sys.executable, "-m", "api.cli", "pull", "--patients", str(workdir / "patients.csv")]
    if mode == "dicomweb":
        env["MODIC_PACS_DICOMWEB_URL"] = f"{base}/dicom-web"
    else:
        pull += ["--dimse", f"127.0.0.1:{dicom_port}", "--called-ae", "ORTHANC"]
    result: dict[str, Any] = {}

    killed = subprocess.Popen(pull, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert killed.stdout is not None
    lines = []
    while len(lines) < 2:
        line = killed.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
    killed.send_signal(signal.SIGKILL)
    rest, stderr = killed.communicate(timeout=60)
    result["killed"] = {
        "status": killed.returncode,
        "stdout": lines + rest.splitlines(),
        "stderr": stderr,
        "sent": _retrievals(base, log.since_mark()),
    }
    for name in ("resumed", "again"):
        done = subprocess.run(pull, cwd=ROOT, env=env, capture_output=True, text=True, timeout=SCENARIO_TIMEOUT_S)
        result[name] = {
            "status": done.returncode,
            "stdout": done.stdout.splitlines(),
            "stderr": done.stderr,
            "sent": _retrievals(base, log.since_mark()),
        }
    # Files lost from the data directory (three images of one series): a new run retrieves just those.
    from registry.imaging.store import FileStore

    lost = sorted(series_dir(SAMPLE_STUDIES[0], "t2").glob("*.dcm"))[:3]
    for path in lost:
        FileStore(workdir / "data").path_for(str(pydicom.dcmread(path).SOPInstanceUID)).unlink()
    done = subprocess.run(pull, cwd=ROOT, env=env, capture_output=True, text=True, timeout=SCENARIO_TIMEOUT_S)
    result["repaired"] = {
        "status": done.returncode,
        "stdout": done.stdout.splitlines(),
        "stderr": done.stderr,
        "sent": _retrievals(base, log.since_mark()),
        "lost_series": str(pydicom.dcmread(lost[0]).SeriesInstanceUID),
    }
    refused_env = {
        **env,
        "MODIC_DATABASE_URL": f"sqlite:///{workdir / 'refused.db'}",
        "MODIC_DATA_DIR": str(workdir / "refused-data"),
    }
    if mode == "dicomweb":
        refused_env["MODIC_PACS_DICOMWEB_PASSWORD"] = "wrong"
    else:
        refused_env["MODIC_PACS_CALLING_AE"] = "STRANGER"
    refused_command = [*pull[:4], "--patient", "MODIC-P01", *pull[6:]]
    done = subprocess.run(refused_command, cwd=ROOT, env=refused_env, capture_output=True, text=True, timeout=120)
    result["refused"] = {"status": done.returncode, "stdout": done.stdout.splitlines(), "stderr": done.stderr}
    result["studies"] = _study_states(database_url)
    result["dated"] = _dated_runs(workdir, pull, env)
    return result


def _dated_runs(workdir: Path, pull: list[str], env: dict[str, str]) -> dict[str, Any]:
    """One patient pulled with a date range that ends the day before its study, then one that holds just the
    study's day (each into a registry of its own)."""
    first = sorted(SAMPLE_STUDIES[0].rglob("*.dcm"))[0]
    header = pydicom.dcmread(first, stop_before_pixels=True)
    day = dt.datetime.strptime(str(header.StudyDate), "%Y%m%d").date()
    ranges = {"before": ["--until", str(day - dt.timedelta(days=1))], "on": ["--since", str(day), "--until", str(day)]}
    result: dict[str, Any] = {}
    for name, dates in ranges.items():
        dated_env = {
            **env,
            "MODIC_DATABASE_URL": f"sqlite:///{workdir / f'dated-{name}.db'}",
            "MODIC_DATA_DIR": str(workdir / f"dated-{name}-data"),
        }
        command = [*pull[:4], "--patient", str(header.PatientID), *pull[6:], *dates]
        done = subprocess.run(command, cwd=ROOT, env=dated_env, capture_output=True, text=True, timeout=120)
        result[name] = {"status": done.returncode, "stdout": done.stdout.splitlines(), "stderr": done.stderr}
    return result


def _tls_scenario(workdir: Path, base: str) -> dict[str, Any]:
    """``modic pull`` from an https URL: with the server's certificate as the CA file, and without."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MODIC_DATABASE_URL": f"sqlite:///{workdir / 'tls.db'}",
        "MODIC_DATA_DIR": str(workdir / "tls-data"),
        "MODIC_PACS_DICOMWEB_USERNAME": ORTHANC_USER,
        "MODIC_PACS_DICOMWEB_PASSWORD": ORTHANC_PASSWORD,
    }
    pull = [sys.executable, "-m", "api.cli", "pull", "--dicomweb", f"{base}/dicom-web", "--patient", "MODIC-P01"]
    result: dict[str, Any] = {"base": base}
    for name, extra in (("untrusted", {}), ("trusted", {"MODIC_PACS_DICOMWEB_CA_FILE": str(workdir / "tls.crt")})):
        done = subprocess.run(pull, cwd=ROOT, env={**env, **extra}, capture_output=True, text=True, timeout=120)
        result[name] = {"status": done.returncode, "stdout": done.stdout.splitlines(), "stderr": done.stderr}
    return result


def _api_scenario(workdir: Path, base: str) -> dict[str, Any]:
    """``POST /api/v1/pulls`` as a researcher, follow ``GET /api/v1/pulls/{id}`` to the end, post it again;
    a screener is refused, an address other than the configured archive is refused; a radiologist
    grades a pulled study."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from registry.db import session_scope
    from registry.services.users import add_user
    from registry.settings import Settings

    log = _LogReader(workdir / "orthanc.log")
    log.since_mark()
    settings = Settings(
        database_url=f"sqlite:///{workdir / 'api.db'}",
        data_dir=workdir / "api-data",
        pacs_dicomweb_url=f"{base}/dicom-web",
        pacs_dicomweb_username=ORTHANC_USER,
        pacs_dicomweb_password=ORTHANC_PASSWORD,
    )
    app = create_app(settings)
    patients = (workdir / "patients.csv").read_text().splitlines()[1:]
    body = {"patients": patients, "since": "2000-01-01"}
    result: dict[str, Any] = {}
    with TestClient(app) as client:
        headers = {}
        with session_scope(app.state.engine, write=True) as session:
            for role in ("researcher", "screener", "radiologist"):
                _, token = add_user(session, f"{role}-1", role)
                headers[role] = {"Authorization": f"Bearer {token}"}
        result["screener"] = client.post("/api/v1/pulls", json=body, headers=headers["screener"]).status_code
        elsewhere = client.post(
            "/api/v1/pulls", json={**body, "dicomweb": "http://192.0.2.1/dicom-web"}, headers=headers["researcher"]
        )
        result["elsewhere"] = [elsewhere.status_code, elsewhere.json()]
        texts = []
        for name in ("first", "second"):
            started = client.post("/api/v1/pulls", json=body, headers=headers["researcher"])
            assert started.status_code == 202, started.text
            pull_id = started.json()["id"]
            deadline = time.monotonic() + SCENARIO_TIMEOUT_S
            while True:
                answer = client.get(f"/api/v1/pulls/{pull_id}", headers=headers["researcher"])
                if answer.json()["status"] in ("done", "failed") or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            texts.append(started.text + answer.text)
            result[name] = {
                "started": started.json(),
                "final": answer.json(),
                "sent": _retrievals(base, log.since_mark()),
            }
        result["hospital_ids_in_responses"] = sorted(p for p in patients if any(p in t for t in texts))
        assign_every_study(app.state.engine)  # pulled studies have no registrant: an admin assigns them
        studies = client.get("/api/v1/studies", headers=headers["radiologist"]).json()["items"]
        result["grading_series"] = [s["grading_series"] for s in studies]
        study = studies[0]
        grading = {"endplates": endplates()}
        graded = client.post(f"/api/v1/studies/{study['id']}/gradings", json=grading, headers=headers["radiologist"])
        result["graded"] = graded.status_code
    return result


def _certificate(workdir: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 with its key, in one PEM file."""
    key, cert = workdir / "tls.key", workdir / "tls.crt"
    subprocess.run(
        [str(tool("openssl")), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    pem = workdir / "tls.pem"
    pem.write_text(cert.read_text() + key.read_text())
    return pem


@contextmanager
def _tls_proxy(workdir: Path, base: str) -> Iterator[str]:
    """HTTPS in front of Orthanc's HTTP (socat with a self-signed certificate): Debian's Orthanc 1.10
    crashes on its own HTTPS requests here."""
    port = free_port()
    target = base.removeprefix("http://")
    listen = f"OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,verify=0,cert={_certificate(workdir)}"
    proxy = subprocess.Popen([str(tool("socat")), listen, f"TCP:{target}"], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("socat did not listen") from None
                time.sleep(0.1)
        yield f"https://127.0.0.1:{port}"
    finally:
        proxy.terminate()
        proxy.wait(timeout=20)


def scenario(name: str, workdir: Path, orthanc: str, ip: str) -> None:
    """Inside the namespace: Orthanc with DICOMweb, a DICOM server and authentication, the fixture in it,
    then the named scenario; its observations go to ``workdir/result.json``."""
    dicom_port, store_port = free_port(), free_port()
    files = [Path(line) for line in (workdir / "files.txt").read_text().splitlines()]
    if name == "tls":
        files = sorted(SAMPLE_STUDIES[0].rglob("*.dcm"))
    with running_orthanc(
        workdir,
        orthanc,
        ip,
        verbose=True,
        auth=AUTH,
        AuthenticationEnabled=True,
        RegisteredUsers={ORTHANC_USER: ORTHANC_PASSWORD},
        DicomServerEnabled=True,
        DicomAet="ORTHANC",
        DicomPort=dicom_port,
        DicomModalities={"modic": ["MODIC", "127.0.0.1", store_port]},
        DicomAlwaysAllowFind=True,  # any AE may query and move; only MODIC is a known destination
        DicomAlwaysAllowMove=True,
    ) as base:
        _upload(base, files)
        if name == "api":
            result = _api_scenario(workdir, base)
        elif name == "tls":
            with _tls_proxy(workdir, base) as tls_base:
                result = _tls_scenario(workdir, tls_base)
        else:
            result = _cli_scenario(workdir, name, base, dicom_port, store_port)
    series = {}
    for path in files:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        series[str(ds.SeriesInstanceUID)] = [str(ds.SeriesDescription), str(ds.PatientID)]
    result["series"] = series
    result["patients"] = (workdir / "patients.csv").read_text().split()[1:]
    (workdir / "result.json").write_text(json.dumps(result, indent=2))


# --------------------------------------------------------------------------------------- tests (outside)


@pytest.fixture
def orthanc_scenario(tmp_path: Path) -> Any:
    """Run a scenario in a private network namespace with Orthanc and return its result; skips (with the
    reason) when Orthanc, its DICOMweb plugin, ``ip`` or ``unshare`` is missing."""
    pytest.importorskip("dicomweb_client", reason="dicomweb-client not installed (pip install dicomweb-client)")
    reason = missing_orthanc()
    if reason is not None:
        pytest.skip(reason)

    def run(name: str) -> dict[str, Any]:
        files, patients = build_fixture(tmp_path / "fixture")
        (tmp_path / "files.txt").write_text("\n".join(str(f) for f in files))
        (tmp_path / "patients.csv").write_text("patient_id\n" + "\n".join(patients) + "\n")
        command = [
            *namespace_prefix(),
            sys.executable,
            "-m",
            "tests.registry.test_pull",
            name,
            str(tmp_path),
            str(tool("Orthanc")),
            str(tool("ip")),
        ]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        done = run_group(command, timeout=SCENARIO_TIMEOUT_S, cwd=ROOT, env=env)
        log = tmp_path / "orthanc.log"
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}\n{tail}"
        result: dict[str, Any] = json.loads((tmp_path / "result.json").read_text())
        return result

    return run


def _sent(result: dict[str, Any], run: dict[str, Any], level: str | None = None) -> list[str]:
    """The descriptions of the series Orthanc sent in a run (once per series, in order)."""
    uids = [uid for uid, how in run["sent"] if level is None or how == level]
    return [result["series"][uid][0] for uid in dict.fromkeys(uids)]


def _sent_uids(run: dict[str, Any], level: str) -> set[str]:
    return {uid for uid, how in run["sent"] if how == level}


def _check_cli_pull(result: dict[str, Any]) -> None:
    killed, resumed, again = result["killed"], result["resumed"], result["again"]
    patients = 10
    wanted_uids = {uid for uid, (description, _) in result["series"].items() if description in WANTED}
    assert len(wanted_uids) == 8 * len(WANTED)

    # The first run was killed after two patients, before the end.
    assert killed["status"] == -signal.SIGKILL
    assert 2 <= len([line for line in killed["stdout"] if line.startswith("row ")]) < patients

    # The second run resumed it and settled every patient: rows 1-8 fetched and gradable, the decoy
    # patient has nothing gradable, the last one is not in the archive; exit status 2 (not all fetched).
    assert resumed["status"] == 2, resumed["stderr"]
    assert "resuming pull" in resumed["stderr"]
    rows = [line for line in resumed["stdout"] if line.startswith("row ")]
    assert len(rows) == patients
    settled_before = len([line for line in killed["stdout"] if line.startswith("row ")])
    for row, line in enumerate(rows[:8], start=1):
        assert re.match(rf"row {row} \(P-[0-9A-Z]+\): fetched: 1 study, 3 series \(", line), line
        assert line.endswith("(earlier run)" if row <= settled_before else "1 gradable"), line
    assert rows[8] == "row 9: nothing gradable: 1 study"
    assert rows[9] == "row 10: not found"
    assert "done: 10 patients: 8 fetched, 1 nothing gradable, 1 not found, 0 refused; " in resumed["stdout"][-1]

    # Orthanc sent exactly the sagittal T1, T2 and STIR series, each of them, never a localizer, an axial
    # series or the derived reformat; the resumed run did not fetch again a series of a patient the
    # killed run had settled. A series still in flight when the kill landed (the pull retrieves a few
    # patients ahead of ingest) may be asked for again, whole or by its missing instances.
    everything = killed["sent"] + resumed["sent"]
    assert {uid for uid, _ in everything} == wanted_uids
    assert set(_sent(result, {"sent": everything})) == set(WANTED)
    settled = set(result["patients"][:settled_before])
    again_asked = _sent_uids(killed, "series") & _sent_uids(resumed, "series")
    assert not {result["series"][uid][1] for uid in again_asked} & settled
    assert _sent_uids(resumed, "instance") <= _sent_uids(killed, "series")

    # A third run finds nothing missing and retrieves nothing.
    assert again["status"] == 2
    assert "starting pull" in again["stderr"]
    assert again["sent"] == []
    assert "0 series, 0 images retrieved" in again["stdout"][-1]

    # Three images lost from the data directory: the next run retrieves those three, one by one.
    repaired = result["repaired"]
    assert repaired["sent"] == [[repaired["lost_series"], "instance"]] * 3
    assert "1 series, 3 images retrieved" in repaired["stdout"][-1]

    # The pulled studies are gradable: a sagittal T1 and T2 of 11 slices each, and only the wanted series.
    studies = result["studies"]
    assert len(studies) == 8
    for study in studies:
        assert (study["t1"], study["t2"]) == ("t1_se_sag", "t2_tse_sag")
        assert [s[0] for s in study["series"]] == sorted(WANTED)
        assert all(s[1] == "sagittal" and s[3] == 11 and s[4] for s in study["series"])

    # No hospital patient id in anything the command printed.
    printed = "\n".join(killed["stdout"] + resumed["stdout"] + again["stdout"]) + killed["stderr"] + resumed["stderr"]
    assert not [p for _, p in result["series"].values() if p in printed]

    # A refusal is reported with the archive's reason.
    refused = result["refused"]
    assert refused["status"] == 2, refused["stderr"]
    assert refused["stdout"][0].startswith("row 1: refused: "), refused["stdout"]

    # The date range is the study's date: a range ending the day before finds nothing, its day finds it.
    before, on = result["dated"]["before"], result["dated"]["on"]
    assert before["status"] == 2 and before["stdout"][0] == "row 1: not found", before
    assert on["status"] == 0 and on["stdout"][0].startswith("row 1 (P-") and ": fetched: 1 study" in on["stdout"][0], on


def test_pull_over_dicomweb_fetches_only_the_sagittal_series_resumes_and_ingests_gradable_studies(
    orthanc_scenario: Any,
) -> None:
    result = orthanc_scenario("dicomweb")
    _check_cli_pull(result)
    assert "HTTP 401" in result["refused"]["stdout"][0]


def test_pull_over_dimse_fetches_only_the_sagittal_series_resumes_and_ingests_gradable_studies(
    orthanc_scenario: Any,
) -> None:
    result = orthanc_scenario("dimse")
    _check_cli_pull(result)
    assert "refused the C-MOVE: status 0x" in result["refused"]["stdout"][0]


def test_pull_over_https_checks_the_archive_certificate(orthanc_scenario: Any) -> None:
    for command, package in (("openssl", "openssl"), ("socat", "socat")):
        if tool(command) is None:
            pytest.skip(f"{command} (Debian package {package}) not installed")
    result = orthanc_scenario("tls")
    assert result["base"].startswith("https://127.0.0.1:")
    untrusted, trusted = result["untrusted"], result["trusted"]
    assert untrusted["status"] == 1
    assert "cannot be reached: SSLError" in untrusted["stderr"]
    assert trusted["status"] == 0, trusted["stderr"]
    assert trusted["stdout"][0].endswith("fetched: 1 study, 3 series (3 retrieved, 33 new images), 1 gradable")


def test_pull_api_runs_a_pull_reports_outcomes_by_pseudonym_and_refuses_other_archives(
    orthanc_scenario: Any,
) -> None:
    result = orthanc_scenario("api")
    assert result["screener"] == 403
    status, answer = result["elsewhere"]
    assert status == 422
    assert answer["detail"].startswith("dicomweb 'http://192.0.2.1/dicom-web': only the configured archive")

    first = result["first"]["final"]
    assert result["first"]["started"]["status"] in ("queued", "running", "done")
    assert first["status"] == "done", first
    assert (first["patients_total"], first["patients_done"]) == (10, 10)
    assert first["counts"] == {"fetched": 8, "nothing gradable": 1, "not found": 1}
    assert [o["row"] for o in first["outcomes"]] == list(range(1, 11))
    assert all(o["patient"].startswith("P-") for o in first["outcomes"][:8])
    assert [o["patient"] for o in first["outcomes"][8:]] == [None, None]
    assert first["series_retrieved"] == 24
    assert set(_sent(result, result["first"])) == set(WANTED)
    assert result["hospital_ids_in_responses"] == []

    # Posting the same request again: a new pull that finds nothing missing.
    second = result["second"]["final"]
    assert second["id"] != first["id"]
    assert (second["status"], second["images_retrieved"], second["counts"]["fetched"]) == ("done", 0, 8)
    assert result["second"]["sent"] == []

    assert len(result["grading_series"]) == 8
    assert all(g["t1"] and g["t2"] for g in result["grading_series"])
    assert result["graded"] == 201


if __name__ == "__main__":
    # python -m tests.registry.test_pull SCENARIO WORKDIR ORTHANC IP
    scenario(sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4])
