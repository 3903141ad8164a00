"""Pulls without an archive to talk to: the request, the choice of series, the archive settings, the
command line's and the API's refusals, and a pull whose archive cannot be reached.

The pulls from a real Orthanc (DICOMweb, DIMSE, the API) are in ``tests/registry/test_pull.py``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.server
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import pydicom
import pytest
from fastapi.testclient import TestClient
from pydicom.data import get_testdata_files

from grading.series import InstanceHeader, Weighting, classify_study
from registry.errors import InvalidInput
from registry.imaging.cohort import PullRequest, parse_patient_list
from registry.imaging.dicom import read_dicom
from registry.imaging.errors import ImagingError
from registry.imaging.pacs import (
    SERIES_KEYWORDS,
    DicomwebArchive,
    DicomwebOptions,
    QueryAnswer,
    archive_config,
    date_range,
    multipart_boundary,
    parse_address,
    split_multipart,
    studies_of_series,
)
from registry.imaging.store import FileStore
from registry.models.base import new_ids
from registry.services.pulls import screen_series, series_to_fetch
from registry.settings import Settings
from tests.conftest import TokenFactory
from tests.grading.test_series import protocol_study
from tests.imaging_support import SAMPLE_STUDIES

ROOT = Path(__file__).resolve().parents[2]
CLOSED = "http://127.0.0.1:1/dicom-web"
"""A DICOMweb URL nothing listens on (port 1)."""


# One case per form of patients file: with a named column, without a header, with blank lines.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name,patient_id\nAnna,H-1\nBo,H-2\n", ["H-1", "H-2"]),
        ("PatientID\nH-1\n", ["H-1"]),
        ("H-1\nH-2,extra\n", ["H-1", "H-2"]),
        ("\nH-1\n\n  \nH-2\n", ["H-1", "H-2"]),
        ("", []),
    ],
)
def test_patient_list(text: str, expected: list[str]) -> None:
    assert parse_patient_list(text) == expected


def test_a_pull_request_is_validated_and_names_the_row_not_the_id() -> None:
    with pytest.raises(InvalidInput, match="patients: at least one patient id is required"):
        PullRequest("DICOMweb x", ())
    with pytest.raises(InvalidInput, match="patients row 2: a patient id must be 1-64 characters"):
        PullRequest("DICOMweb x", ("H-1", " "))
    with pytest.raises(InvalidInput, match="since 2024-01-02 is after until 2024-01-01"):
        PullRequest("DICOMweb x", ("H-1",), dt.date(2024, 1, 2), dt.date(2024, 1, 1))
    one = PullRequest("DICOMweb x", ("H-1", "H-2"))
    assert one.key == PullRequest("DICOMweb x", ("H-1", "H-2")).key
    assert one.key != PullRequest("DICOMweb x", ("H-2", "H-1")).key
    assert "H-1" not in one.key


def test_only_the_sagittal_t1_t2_and_stir_series_are_fetched() -> None:
    # The 0.2 T protocol: 3-plane localizer (1.1), sagittal T1 (1.2), T2 (1.3), STIR (1.4), axial T2 (1.5).
    assert series_to_fetch(classify_study(protocol_study())) == ["1.2", "1.3", "1.4"]


def test_date_range_and_address() -> None:
    assert date_range(None, None) is None
    assert date_range(dt.date(2020, 1, 2), None) == "20200102-"
    assert date_range(None, dt.date(2021, 3, 4)) == "-20210304"
    assert parse_address("pacs.example:104") == ("pacs.example", 104)
    with pytest.raises(ValueError, match="'pacs' is not HOST:PORT"):
        parse_address("pacs")


def _series_answer(study: str, series: str, modality: str, day: str | None) -> QueryAnswer:
    item = {"0020000D": {"vr": "UI", "Value": [study]}, "0020000E": {"vr": "UI", "Value": [series]}}
    item["00080060"] = {"vr": "CS", "Value": [modality]}
    if day is not None:
        item["00080020"] = {"vr": "DA", "Value": [day]}
    return QueryAnswer.of_json(item)


def test_a_patients_series_are_grouped_by_study_and_the_date_range_is_checked_again() -> None:
    answers = [
        _series_answer("1.2.1", "1.2.1.1", "MR", "20200105"),
        _series_answer("1.2.2", "1.2.2.1", "MR", "20190101"),  # matched by an archive that ignored the range
        _series_answer("1.2.1", "1.2.1.2", "SR", "20200105"),  # not MR: not a series to judge
        _series_answer("1.2.1", "1.2.1.3", "MR", "20200105"),
    ]
    studies = studies_of_series(answers, dt.date(2020, 1, 1), None)
    assert studies is not None
    assert [(s.study_instance_uid, s.study_date) for s in studies] == [("1.2.1", dt.date(2020, 1, 5))]
    assert [a.text("SeriesInstanceUID") for a in studies[0].series or ()] == ["1.2.1.1", "1.2.1.3"]
    assert [s.study_instance_uid for s in studies_of_series(answers, None, None) or ()] == ["1.2.1", "1.2.2"]
    # Without study dates in the answer, a range cannot be checked: the caller asks study by study instead.
    undated = [_series_answer("1.2.3", "1.2.3.1", "MR", None)]
    assert studies_of_series(undated, None, dt.date(2020, 1, 1)) is None
    assert [s.study_date for s in studies_of_series(undated, None, None) or ()] == [None]


class _StudyRootArchive(http.server.BaseHTTPRequestHandler):
    """A QIDO-RS service that searches studies, and series within a study, but not series across
    studies (it answers 400 there, as some archives do); it notes the paths asked for."""

    asked: ClassVar[list[str]] = []
    study: ClassVar[dict[str, Any]] = {
        "0020000D": {"vr": "UI", "Value": ["1.2.9"]},
        "00080020": {"vr": "DA", "Value": ["20200105"]},
    }
    series: ClassVar[dict[str, Any]] = {
        "0020000D": {"vr": "UI", "Value": ["1.2.9"]},
        "0020000E": {"vr": "UI", "Value": ["1.2.9.1"]},
        "00080060": {"vr": "CS", "Value": ["MR"]},
    }

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        self.asked.append(path)
        answer = {"/dicom-web/studies": [self.study], "/dicom-web/studies/1.2.9/series": [self.series]}.get(path)
        body = json.dumps(answer if answer is not None else {"error": "no such search"}).encode()
        self.send_response(200 if answer is not None else 400)
        self.send_header("Content-Type", "application/dicom+json" if answer is not None else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


def test_an_archive_that_does_not_search_series_across_studies_is_asked_study_by_study(tmp_path: Path) -> None:
    _StudyRootArchive.asked.clear()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StudyRootArchive)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/dicom-web"
        archive = DicomwebArchive(DicomwebOptions(url), FileStore(tmp_path / "data"))
        for _ in range(2):
            (study,) = archive.find_studies("P-1", dt.date(2020, 1, 1), None)
            assert (study.study_instance_uid, study.study_date, study.series) == ("1.2.9", dt.date(2020, 1, 5), None)
            assert [a.text("SeriesInstanceUID") for a in archive.find_series("1.2.9")] == ["1.2.9.1"]
    finally:
        server.shutdown()
        server.server_close()
    # The series search across studies is tried once; then studies, and the series of each study.
    assert _StudyRootArchive.asked == [
        "/dicom-web/series",
        "/dicom-web/studies",
        "/dicom-web/studies/1.2.9/series",
        "/dicom-web/studies",
        "/dicom-web/studies/1.2.9/series",
    ]


def test_archive_settings_and_overrides() -> None:
    configured = Settings(
        pacs_dicomweb_url="https://pacs.example/dicom-web",
        pacs_dicomweb_username="modic",
        pacs_dicomweb_password="secret",
        pacs_called_ae="PACS",
    )
    default = archive_config(configured)
    assert default.label == "DICOMweb https://pacs.example/dicom-web"
    assert default.dicomweb is not None and default.dicomweb.password == "secret"
    # The credentials go to the configured origin only, never to an address typed elsewhere.
    elsewhere = archive_config(configured, dicomweb="https://other.example/dicom-web")
    assert elsewhere.dicomweb is not None and elsewhere.dicomweb.username is None
    dimse = archive_config(configured, dimse="10.0.0.5:104")
    assert dimse.label == "DIMSE PACS@10.0.0.5:104"
    assert dimse.dimse is not None and dimse.dimse.calling_ae == "MODIC"
    with pytest.raises(ValueError, match="no archive: give --dicomweb URL or --dimse HOST:PORT"):
        archive_config(Settings())
    with pytest.raises(ValueError, match="--called-ae is required with --dimse"):
        archive_config(Settings(), dimse="10.0.0.5:104")
    with pytest.raises(ValueError, match="--called-ae 'A_TITLE_THAT_IS_TOO_LONG' must be 1-16"):
        archive_config(Settings(), dimse="10.0.0.5:104", called_ae="A_TITLE_THAT_IS_TOO_LONG")
    with pytest.raises(ValueError, match="--dicomweb 'ftp://x' is not an http:// or https:// URL"):
        archive_config(Settings(), dicomweb="ftp://x")


def test_concurrent_retrievals_are_a_setting_within_bounds() -> None:
    assert archive_config(Settings(pacs_dicomweb_url="http://pacs/dicom-web")).dicomweb == DicomwebOptions(
        "http://pacs/dicom-web", parallel=2
    )
    configured = archive_config(Settings(pacs_dicomweb_url="http://pacs/dicom-web", pacs_dicomweb_parallel=8))
    assert configured.dicomweb is not None and configured.dicomweb.parallel == 8
    with pytest.raises(ValueError, match="DICOMweb parallel retrievals 0: allowed 1-16"):
        DicomwebOptions("http://pacs/dicom-web", parallel=0)


def _multipart(boundary: bytes, parts: list[bytes], preamble: bytes = b"") -> bytes:
    body = b"".join(b"--" + boundary + b"\r\nContent-Type: application/dicom\r\n\r\n" + p + b"\r\n" for p in parts)
    return preamble + body + b"--" + boundary + b"--\r\nepilogue"


def test_a_wado_rs_answer_is_split_into_its_parts_however_it_arrives() -> None:
    boundary = b"b-12"
    # Part bodies holding what looks like a delimiter without the boundary, CRLFs and an empty part.
    parts = [b"DICM\r\n--b-1\r\n" * 50, b"", b"\r\n\r\n", bytes(range(256)) * 40]
    body = _multipart(boundary, parts, preamble=b"ignored preamble\r\n")
    for size in (1, 3, 17, 1000, len(body)):
        chunks = [body[i : i + size] for i in range(0, len(body), size)]
        assert list(split_multipart(iter(chunks), boundary)) == parts, size
    assert list(split_multipart([b"--b-12--"], boundary)) == []
    # A part without headers, and an answer cut short.
    assert list(split_multipart([b"--b-12\r\n\r\nx\r\n--b-12--"], boundary)) == [b"x"]
    with pytest.raises(ValueError, match="ended inside a part"):
        list(split_multipart([body[: len(body) // 2]], boundary))
    with pytest.raises(ValueError, match="ended before its closing delimiter"):
        list(split_multipart([b"--b-12\r\nContent-Type: application/dicom"], boundary))
    assert multipart_boundary('Multipart/Related; type="application/dicom"; boundary="b-12"') == (
        "multipart/related",
        b"b-12",
    )
    assert multipart_boundary("application/json") == ("application/json", None)


def test_record_ids_drawn_together_are_distinct_version_4_uuids() -> None:
    ids = new_ids(500)
    assert len(set(ids)) == 500
    assert all(len(i) == 36 and i[14] == "4" and i[19] in "89ab" for i in ids)
    assert new_ids(0) == []


def _modic(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "pull", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "MODIC_DATABASE_URL": settings.database_url,
            "MODIC_DATA_DIR": str(settings.data_dir),
            **env,
        },
    )


def test_pull_command_refuses_bad_input_with_one_line(settings: Settings, tmp_path: Path) -> None:
    for args, message in (
        (["--patient", "H-1"], "modic: error: no archive: give --dicomweb URL or --dimse HOST:PORT"),
        (["--dimse", "pacs:x", "--called-ae", "PACS", "--patient", "H-1"], "modic: error: --dimse 'pacs:x' is not"),
        (["--dicomweb", CLOSED, "--patients", str(tmp_path / "none.csv")], "modic: error: --patients "),
        (["--dicomweb", CLOSED, "--patient", ""], "modic: error: patients row 1: a patient id must be 1-64"),
    ):
        done = _modic(settings, *args)
        assert done.returncode == 1, done.stderr
        assert done.stderr.startswith(message), done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_an_unreachable_archive_fails_the_pull_and_running_it_again_resumes_it(settings: Settings) -> None:
    first = _modic(settings, "--dicomweb", CLOSED, "--patient", "H-0001")
    assert first.returncode == 1
    assert "starting pull" in first.stderr
    assert f"modic: error: DICOMweb {CLOSED} cannot be reached" in first.stderr
    assert "H-0001" not in first.stdout + first.stderr
    again = _modic(settings, "--dicomweb", CLOSED, "--patient", "H-0001")
    assert "resuming pull" in again.stderr


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The conftest settings with a configured DICOMweb archive that cannot be reached."""
    return Settings(database_url=database_url, data_dir=tmp_path / "data", pacs_dicomweb_url=CLOSED)


def test_pulls_api_roles_validation_and_a_failed_pull(client: TestClient, auth: TokenFactory) -> None:
    body = {"patients": ["H-0001", "H-0002"]}
    researcher = auth("researcher")
    assert client.post("/api/v1/pulls", json=body).status_code == 401
    for role in ("radiologist", "screener"):
        assert client.post("/api/v1/pulls", json=body, headers=auth(role)).status_code == 403
        assert client.get("/api/v1/pulls/x", headers=auth(role)).status_code == 403
    assert client.post("/api/v1/pulls", json={"patients": []}, headers=researcher).status_code == 422
    elsewhere = client.post(
        "/api/v1/pulls", json={**body, "dicomweb": "http://192.0.2.1/dicom-web"}, headers=researcher
    )
    assert elsewhere.status_code == 422
    assert elsewhere.json()["detail"].startswith("dicomweb 'http://192.0.2.1/dicom-web': only the configured")
    dimse = client.post("/api/v1/pulls", json={**body, "dimse": "192.0.2.1:104"}, headers=researcher)
    assert dimse.status_code == 422
    assert client.get("/api/v1/pulls/no-such-pull", headers=researcher).status_code == 404

    started = client.post("/api/v1/pulls", json={**body, "dicomweb": CLOSED}, headers=auth("admin"))
    assert started.status_code == 202, started.text
    pull = started.json()
    assert (pull["patients_total"], pull["archive"]) == (2, f"DICOMweb {CLOSED}")
    deadline = time.monotonic() + 60
    while pull["status"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.1)
        answer = client.get(f"/api/v1/pulls/{pull['id']}", headers=researcher)
        pull = answer.json()
    assert pull["status"] == "failed"
    assert pull["error"].startswith(f"DICOMweb {CLOSED} cannot be reached")
    assert [(o["row"], o["patient"], o["outcome"]) for o in pull["outcomes"]] == [
        (1, None, "pending"),
        (2, None, "pending"),
    ]
    assert "H-000" not in started.text + answer.text


def _screened(header: InstanceHeader) -> Weighting | str | None:
    try:
        return screen_series(header, 11)
    except LookupError as exc:
        return f"undecided: {exc}".replace(header.source, "<source>")


def test_the_series_query_asks_for_everything_screening_reads() -> None:
    # Every image of the sample studies and every MR image of pydicom's corpus, screened from its whole
    # header and from an answer holding only SERIES_KEYWORDS, as an archive's series query gives it.
    files = [p for study in SAMPLE_STUDIES for p in sorted(study.rglob("*.dcm"))]
    files += [Path(f) for f in get_testdata_files("MR*") + get_testdata_files("emri*") if os.path.isfile(f)]
    screened = 0
    for path in files:
        try:
            instance = read_dicom(path, "image")
        except ImagingError:
            continue
        full = pydicom.dcmread(path, stop_before_pixels=True).to_json_dict()
        answer = {tag: value for tag, value in full.items() if tag in _SERIES_TAGS}
        from_answer = QueryAnswer.of_json(answer).headers("image")[0]
        assert _screened(from_answer) == _screened(instance.headers[0]), path
        screened += 1
    assert screened > 150


_SERIES_TAGS = {f"{pydicom.datadict.tag_for_keyword(k):08X}" for k in SERIES_KEYWORDS}


def test_a_series_is_screened_on_one_representative_image_by_the_rules_of_ingest() -> None:
    # One image of each series of the 0.2 T protocol, as an archive answers a series query.
    first = {}
    for header in protocol_study():
        first.setdefault(header.series_instance_uid, header)
    screened = {uid: screen_series(header, 11) for uid, header in first.items()}
    assert screened == {"1.1": None, "1.2": Weighting.T1, "1.3": Weighting.T2, "1.4": Weighting.STIR, "1.5": None}
    assert screen_series(first["1.2"], 2) is None  # too few images for a grading series
    with pytest.raises(LookupError, match="no ImageOrientationPatient"):
        screen_series(dataclasses.replace(first["1.2"], image_orientation=None, image_position=None), 11)
    with pytest.raises(LookupError, match="weighting not decided"):
        screen_series(dataclasses.replace(first["1.2"], repetition_time_ms=None, series_description=""), 11)
