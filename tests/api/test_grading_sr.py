"""Gradings as DICOM Comprehensive SR (TID 1500): served per version under the grading's access rules,
valid by ``dciodvfy`` (Debian dicom3tools), read back with highdicom into the same grading, and
accepted by a real Orthanc through STOW-RS."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pydicom
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from grading.endplates import ENDPLATES
from registry.exports.dicom_sr import (
    PSEUDONYMISED,
    SCHEME,
    GradingReport,
    ReportedStudy,
    SrError,
    build_sr,
    document_uids,
    read_sr,
    to_bytes,
)
from registry.settings import Settings, SrIdentity
from tests.api.helpers import endplates, study_body
from tests.api.test_imaging_upload import parts
from tests.conftest import TokenFactory
from tests.imaging_support import ROOT, SAMPLE_STUDIES
from tests.orthanc_support import run_group
from tests.registry.test_imaging_peers import PEER_TIMEOUT_S, orthanc_tools  # noqa: F401 - a fixture

AMENDED = endplates(L4_inf={"type": "II/I", "size": "C", "extension_pct": 40}, L5_sup={"type": "III", "size": "A"})


@pytest.fixture
def imaged(client: TestClient, auth: TokenFactory) -> dict[str, Any]:
    """A sample study with images, graded (version 1) and amended (version 2)."""
    rad = auth("radiologist", "dr-hansen")
    study = client.post("/api/v1/studies", files=parts(sorted(SAMPLE_STUDIES[0].rglob("*.dcm"))), headers=rad)
    assert study.status_code == 201, study.text
    first = client.post(
        f"/api/v1/studies/{study.json()['id']}/gradings",
        json={"endplates": endplates(L4_inf={"type": "I", "size": "B"})},
        headers=rad,
    )
    amended = client.put(
        f"/api/v1/gradings/{first.json()['id']}",
        json={"endplates": AMENDED, "reason": "second look"},
        headers={**rad, "If-Match": first.headers["ETag"]},
    )
    assert amended.status_code == 200, amended.text
    return {"study": study.json(), "grading": amended.json(), "headers": rad}


def _dciodvfy_errors(data: bytes, tmp_path: Path) -> list[str]:
    tool = shutil.which("dciodvfy")
    if tool is None:
        pytest.skip("dciodvfy (Debian package dicom3tools) not installed")
    path = tmp_path / "sr.dcm"
    path.write_bytes(data)
    done = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("Error")]


def test_each_version_reads_back_into_the_grading(client: TestClient, imaged: dict[str, Any], tmp_path: Path) -> None:
    grading, headers = imaged["grading"], imaged["headers"]
    history = client.get(f"/api/v1/gradings/{grading['id']}/history", headers=headers).json()["items"]
    by_uid = {s["id"]: s["series_instance_uid"] for s in imaged["study"]["series"]}
    graded_series = {by_uid[imaged["study"]["grading_series"][w]] for w in ("t1", "t2")}
    current = client.get(f"/api/v1/gradings/{grading['id']}/sr.dcm", headers=headers)
    assert current.status_code == 200 and current.headers["content-type"] == "application/dicom"
    for item in history:
        response = client.get(f"/api/v1/gradings/{grading['id']}/versions/{item['version']}/sr.dcm", headers=headers)
        assert response.status_code == 200
        report = read_sr(response.content)
        assert (report.grading_id, report.version) == (grading["id"], item["version"])
        assert dict(report.endplates) == item["endplates"]
        assert report.rater.startswith("R-") and "hansen" not in response.content.decode("latin-1")
        assert set(report.referenced_series) == graded_series
        assert _dciodvfy_errors(response.content, tmp_path) == []
    sr = pydicom.dcmread(io.BytesIO(current.content))
    assert (sr.SOPInstanceUID, sr.InstanceNumber) == (document_uids(grading["id"], 2)[1], 2)  # the current version
    assert sr.SOPClassUID == pydicom.uid.ComprehensiveSRStorage and sr.Modality == "SR"
    assert sr.StudyInstanceUID == imaged["study"]["study_instance_uid"]
    assert (
        sr.PredecessorDocumentsSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
        == document_uids(grading["id"], 1)[1]
    )
    assert [s.CodingSchemeDesignator for s in sr.CodingSchemeIdentificationSequence] == [SCHEME]


def test_the_sr_names_patient_and_rater_as_the_site_policy_says(
    app: FastAPI, client: TestClient, imaged: dict[str, Any], settings: Settings, tmp_path: Path
) -> None:
    grading, headers = imaged["grading"], imaged["headers"]
    images = pydicom.dcmread(next(SAMPLE_STUDIES[0].rglob("*.dcm")), stop_before_pixels=True)
    url = f"/api/v1/gradings/{grading['id']}/sr.dcm"

    # The default policy: pseudonyms only (for an SR that leaves the hospital).
    pseudonymised = client.get(url, headers=headers).content
    sr = pydicom.dcmread(io.BytesIO(pseudonymised))
    pseudonym = imaged["study"]["patient"]["pseudonym"]
    assert (sr.PatientID, sr.PatientName.family_name, sr.PatientBirthDate, sr.PatientSex) == (
        pseudonym,
        pseudonym,
        "",
        "",
    )
    assert (sr.PatientIdentityRemoved, sr.DeidentificationMethod) == ("YES", PSEUDONYMISED)
    assert str(images.PatientID).encode() not in pseudonymised and b"hansen" not in pseudonymised
    assert read_sr(pseudonymised).rater.startswith("R-")
    assert _dciodvfy_errors(pseudonymised, tmp_path) == []

    # The SR goes back to the hospital's own PACS: its patient id and name, the rater's user name.
    app.state.settings = settings.model_copy(update={"sr_identity": SrIdentity.hospital})
    identified = client.get(url, headers=headers).content
    sr = pydicom.dcmread(io.BytesIO(identified))
    assert (sr.PatientID, str(sr.PatientName)) == (images.PatientID, str(images.PatientName))
    assert sr.PatientBirthDate == images.PatientBirthDate and "PatientIdentityRemoved" not in sr
    assert read_sr(identified).rater == "dr-hansen"
    assert _dciodvfy_errors(identified, tmp_path) == []


def test_a_study_without_images_gets_an_sr_without_evidence(
    client: TestClient, auth: TokenFactory, tmp_path: Path
) -> None:
    rad = auth("radiologist")
    study = client.post("/api/v1/studies", json=study_body(), headers=rad).json()
    grading = client.post(f"/api/v1/studies/{study['id']}/gradings", json={"endplates": AMENDED}, headers=rad).json()
    response = client.get(f"/api/v1/gradings/{grading['id']}/sr.dcm", headers=rad)
    assert response.status_code == 200
    assert _dciodvfy_errors(response.content, tmp_path) == []
    report = read_sr(response.content)
    assert dict(report.endplates) == grading["endplates"] and report.referenced_series == ()


def test_not_assessable_endplates_are_carried(tmp_path: Path) -> None:
    stored: dict[str, Any] = {e.value: {"type": "none", "size": None, "extension_pct": None} for e in ENDPLATES}
    stored["L1_sup"] = {"not_assessable": "outside_fov", "note": "L1 above the field of view"}
    stored["S1_sup"] = {"not_assessable": "transitional"}
    report = GradingReport("g-1", 1, "R-0123456789", stored, dt.datetime(2026, 11, 1, 9, 30, tzinfo=dt.UTC))
    data = to_bytes(build_sr(report, ReportedStudy("1.2.826.0.1.3680043.8.498.77", dt.date(2026, 10, 1), "HOSP-9")))
    assert _dciodvfy_errors(data, tmp_path) == []
    back = read_sr(data)
    assert dict(back.endplates) == stored and back.recorded_at == report.recorded_at and back.rater == report.rater


def test_an_sr_that_is_not_a_grading_report_is_refused() -> None:
    image = sorted(SAMPLE_STUDIES[0].rglob("*.dcm"))[0].read_bytes()
    with pytest.raises(SrError, match="not a TID 1500 measurement report"):
        read_sr(image)


@pytest.mark.parametrize(
    ("role", "suffix", "status"),
    [
        ("screener", "sr.dcm", 403),  # only radiologists and admins read gradings
        ("researcher", "versions/1/sr.dcm", 403),
        ("admin", "versions/1/sr.dcm", 200),
        ("radiologist", "versions/3/sr.dcm", 404),  # no such version
        ("radiologist", "versions/0/sr.dcm", 422),
    ],
)
def test_sr_access_follows_reading_the_grading(
    client: TestClient, auth: TokenFactory, role: str, suffix: str, status: int
) -> None:
    rad = auth("radiologist")
    study = client.post("/api/v1/studies", json=study_body(), headers=rad).json()
    grading = client.post(f"/api/v1/studies/{study['id']}/gradings", json={"endplates": AMENDED}, headers=rad).json()
    assert client.get(f"/api/v1/gradings/{grading['id']}/{suffix}", headers=auth(role)).status_code == status
    assert client.get("/api/v1/gradings/no-such-grading/sr.dcm", headers=rad).status_code == 404


def test_orthanc_accepts_the_srs_by_stow_rs(
    client: TestClient,
    imaged: dict[str, Any],
    orthanc_tools: tuple[list[str], str, str],  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    prefix, orthanc, ip = orthanc_tools
    grading, headers = imaged["grading"], imaged["headers"]
    folder = tmp_path / "srs"
    folder.mkdir()
    for version in (1, 2):
        content = client.get(f"/api/v1/gradings/{grading['id']}/versions/{version}/sr.dcm", headers=headers).content
        (folder / f"v{version}.dcm").write_bytes(content)
    series_uid, sop_uid = document_uids(grading["id"], 2)
    study_uid = imaged["study"]["study_instance_uid"]
    workdir = tmp_path / "orthanc"
    workdir.mkdir()
    command = [
        *prefix,
        sys.executable,
        "-m",
        "tests.registry.test_imaging_peers",
        str(workdir),
        orthanc,
        ip,
        ",".join((study_uid, series_uid, sop_uid)),
        str(SAMPLE_STUDIES[0]),
        str(folder),
    ]
    done = run_group(command, timeout=PEER_TIMEOUT_S, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    log = workdir / "orthanc.log"
    assert done.returncode == 0, f"{done.stderr[-3000:]}\n{log.read_text()[-2000:] if log.exists() else ''}"
    result = json.loads((workdir / "result.json").read_text())
    assert result["stored"][1] == {"sent": 2, "referenced": 2, "failed": 0}  # both SRs taken by STOW-RS
    series = {s["uid"]: s for s in result["studies"][study_uid]["series"]}  # filed with the graded images
    assert (series[series_uid]["modality"], series[series_uid]["instances"]) == ("SR", 2)
    back = read_sr(Path(result["retrieved"]["as_stored"]).read_bytes())  # and returned by WADO-RS
    assert dict(back.endplates) == grading["endplates"] and back.version == 2
