"""Storing each grading version's SR to the archive (``MODIC_SR_STORE_URL``, STOW-RS) from the service's
outbox, against a real Orthanc (Debian packages ``orthanc`` and ``orthanc-dicomweb``).

Orthanc binds 0.0.0.0, so the scenario runs in a private network namespace: the test re-runs this module
as ``python -m tests.api.test_sr_store WORKDIR ORTHANC IP`` under ``unshare --net``. There the service
(the real app, on SQLite) is configured for an archive that is not running yet: the first grading is
answered at once and its SR waits, retrying; then Orthanc starts, the grading is amended, and both SRs
arrive in Orthanc, filed under the study with the hospital's patient id (policy ``hospital``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from bench.common import free_port
from registry.exports.dicom_sr import document_uids
from tests.api.helpers import endplates, study_body
from tests.conftest import TokenFactory
from tests.imaging_support import ROOT
from tests.orthanc_support import run_group, running_orthanc
from tests.registry.test_imaging_peers import PEER_TIMEOUT_S, orthanc_tools  # noqa: F401 - a fixture

HOSPITAL_ID = "HOSP-SR-STORE-1"


def _wait_for(what: str, check: Callable[[], Any], timeout_s: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def scenario(workdir: Path, orthanc: str, ip: str) -> None:
    """Inside the namespace: the service, then Orthanc; writes what it saw to ``workdir/result.json``."""
    from api.app import create_app
    from registry.db import session_scope
    from registry.services.users import add_user, set_registrar
    from registry.settings import Settings, SrIdentity

    subprocess.run([ip, "link", "set", "lo", "up"], check=True)
    port = free_port()
    settings = Settings(
        database_url=f"sqlite:///{workdir / 'modic.db'}",
        data_dir=workdir / "data",
        sr_store_url=f"http://127.0.0.1:{port}/dicom-web",
        sr_identity=SrIdentity.hospital,
        sr_store_retry_seconds=0.5,
    )
    app = create_app(settings)
    with session_scope(app.state.engine, write=True) as session:
        admin = {"Authorization": f"Bearer {add_user(session, 'sr-admin', 'admin')[1]}"}
        rad = {"Authorization": f"Bearer {add_user(session, 'dr-store', 'radiologist')[1]}"}
        set_registrar(session, "dr-store", True, None)  # registers the study it grades
    result: dict[str, Any] = {}
    with TestClient(app) as client:
        study = client.post(
            "/api/v1/studies", json=study_body("1.2.826.0.1.3680043.8.498.77", HOSPITAL_ID), headers=rad
        )
        study_id, study_uid = study.json()["id"], study.json()["study_instance_uid"]
        first = client.post(
            f"/api/v1/studies/{study_id}/gradings", json={"endplates": endplates()}, headers=rad
        )  # the archive is down: answered all the same
        result["created"] = first.status_code
        grading = first.json()["id"]

        def state() -> dict[str, Any]:
            answer: dict[str, Any] = client.get("/api/v1/sr-deliveries", headers=admin).json()
            return answer

        result["radiologist"] = client.get("/api/v1/sr-deliveries", headers=rad).status_code
        result["down"] = _wait_for("a failed attempt", lambda: state() if state()["counts"]["retrying"] else None)
        with running_orthanc(workdir, orthanc, ip, port=port) as base:
            amended = client.put(
                f"/api/v1/gradings/{grading}",
                json={"endplates": endplates(L4_inf={"type": "I", "size": "B"}), "reason": "second look"},
                headers={**rad, "If-Match": first.headers["ETag"]},
            )
            result["amended"] = amended.status_code
            result["up"] = _wait_for("both SRs stored", lambda: state() if state()["counts"]["sent"] == 2 else None)
            series_uid = document_uids(grading, 1)[0]
            url = f"{base}/dicom-web/studies/{study_uid}/series/{series_uid}/instances"
            with urllib.request.urlopen(url, timeout=60) as response:
                instances = json.load(response)
            with urllib.request.urlopen(f"{base}/dicom-web/studies?StudyInstanceUID={study_uid}", timeout=60) as r:
                studies = json.load(r)
    result["grading"] = grading
    result["in_orthanc"] = sorted(i["00080018"]["Value"][0] for i in instances)
    result["patient_in_orthanc"] = studies[0]["00100020"]["Value"][0]
    (workdir / "result.json").write_text(json.dumps(result))


def test_each_version_s_sr_reaches_the_archive_even_when_it_was_down(
    orthanc_tools: tuple[list[str], str, str],  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    prefix, orthanc, ip = orthanc_tools
    command = [*prefix, sys.executable, "-m", "tests.api.test_sr_store", str(tmp_path), orthanc, ip]
    done = run_group(command, timeout=PEER_TIMEOUT_S, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    log = tmp_path / "orthanc.log"
    assert done.returncode == 0, f"{done.stderr[-3000:]}\n{log.read_text()[-2000:] if log.exists() else ''}"
    result = json.loads((tmp_path / "result.json").read_text())
    assert (result["created"], result["amended"], result["radiologist"]) == (201, 200, 403)
    down = result["down"]
    assert down["destination"].startswith("STOW-RS http://127.0.0.1:")
    assert down["retrying"][0]["version"] == 1 and "cannot be reached" in down["retrying"][0]["last_error"]
    assert result["up"]["counts"] == {"waiting": 0, "retrying": 0, "sent": 2} and result["up"]["retrying"] == []
    grading = result["grading"]
    assert result["in_orthanc"] == sorted(document_uids(grading, v)[1] for v in (1, 2))
    assert result["patient_in_orthanc"] == HOSPITAL_ID  # the 'hospital' policy: filed with the patient's images


def test_without_a_store_nothing_is_sent_and_admins_see_so(client: TestClient, auth: TokenFactory) -> None:
    answer = client.get("/api/v1/sr-deliveries", headers=auth("admin"))
    assert answer.status_code == 200
    assert answer.json() == {"destination": None, "counts": {"waiting": 0, "retrying": 0, "sent": 0}, "retrying": []}
    assert client.get("/api/v1/sr-deliveries", headers=auth("researcher")).status_code == 403
    assert client.app.state.sr_store is None  # type: ignore[attr-defined]


if __name__ == "__main__":
    scenario(Path(sys.argv[1]), sys.argv[2], sys.argv[3])
