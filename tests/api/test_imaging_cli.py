"""``modic ingest`` and ``modic receive`` in real subprocesses (dcmtk's storescu/echoscu as the sender)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nibabel
import pytest
from fastapi.testclient import TestClient
from pydicom.data import get_testdata_file, get_testdata_files
from sqlalchemy import text

from api.app import create_app
from bench.common import free_port
from registry.db import session_scope
from registry.services.users import add_user
from registry.settings import Settings
from tests.imaging_support import SAMPLE_DIR, SAMPLE_STUDIES, dcmtk, ground_truth

ROOT = Path(__file__).resolve().parents[2]


def modic(settings: Settings, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MODIC_DATABASE_URL": settings.database_url, "MODIC_DATA_DIR": str(settings.data_dir)},
    )


def lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_ingest_a_folder_prints_one_json_line_per_study(settings: Settings) -> None:
    result = modic(settings, "ingest", SAMPLE_STUDIES[0], SAMPLE_STUDIES[1])
    # The folders also hold ground_truth.json: reported, the images kept, exit status 2.
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("ground_truth.json: not a DICOM file") == 2
    studies = lines(result.stdout)
    assert [s["study_instance_uid"] for s in studies] == [
        ground_truth(SAMPLE_STUDIES[0])["study_instance_uid"],
        ground_truth(SAMPLE_STUDIES[1])["study_instance_uid"],
    ]
    assert all(s["grading_series"]["t1"] and s["grading_series"]["t2"] for s in studies)  # type: ignore[index]
    assert "Traceback" not in result.stderr
    again = modic(settings, "ingest", *sorted(SAMPLE_STUDIES[0].rglob("*.dcm")))
    assert again.returncode == 0 and again.stderr == ""
    assert lines(again.stdout)[0]["id"] == studies[0]["id"]


def test_ingest_a_zip_archive(settings: Settings, tmp_path: Path) -> None:
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(SAMPLE_STUDIES[1].rglob("*.dcm")):
            out.write(path, path.relative_to(SAMPLE_STUDIES[1]))
    result = modic(settings, "ingest", archive)
    assert result.returncode == 0, result.stderr
    (study,) = lines(result.stdout)
    assert study["study_instance_uid"] == ground_truth(SAMPLE_STUDIES[1])["study_instance_uid"]
    assert len(study["series"]) == 7  # type: ignore[arg-type]


def test_ingest_reports_bad_files_and_keeps_the_good_ones(settings: Settings, tmp_path: Path) -> None:
    fake = tmp_path / "fake.dcm"
    fake.write_text("not DICOM")
    result = modic(settings, "ingest", fake, *sorted(SAMPLE_STUDIES[2].rglob("*.dcm")))
    assert result.returncode == 2
    assert f"modic: rejected {fake}: not a DICOM file (no DICM preamble and no SOP Class UID)" in result.stderr
    assert len(lines(result.stdout)) == 1


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["ingest", "/no/such/dir"], "/no/such/dir: no such file or folder"),  # missing path
        (["ingest", "--patient-id", "X", str(SAMPLE_DIR / "generate.py")], "needs all of --patient-id"),  # partial
        (
            ["ingest", "--patient-id", "X", "--study-date", "14/03/2008", "--weighting", "T1", "x.nii"],
            "--study-date '14/03/2008' is not a date",
        ),  # bad date
    ],
)
def test_ingest_bad_input_is_one_line_and_nonzero(settings: Settings, args: list[str], match: str) -> None:
    result = modic(settings, *args)
    assert result.returncode == 1
    assert match in result.stderr and "Traceback" not in result.stderr


def test_ingest_nifti_with_study_data(settings: Settings) -> None:
    path = Path(nibabel.__file__).parent / "tests" / "data" / "anatomical.nii"
    without = modic(settings, "ingest", path)
    assert without.returncode == 1 and "--patient-id, --study-date and --weighting" in without.stderr
    result = modic(
        settings, "ingest", "--patient-id", "HOSP-3", "--study-date", "2024-05-01", "--weighting", "T1", path
    )
    assert result.returncode == 0, result.stderr
    (study,) = lines(result.stdout)
    assert study["study_date"] == "2024-05-01"
    (series,) = study["series"]  # type: ignore[misc]
    assert series["weighting"] == "T1" and series["plane"] == "axial"


def test_every_corpus_file_goes_through_modic_ingest(settings: Settings) -> None:
    corpus = sorted({f for f in get_testdata_files() if f and os.path.isfile(f)})
    result = modic(settings, "ingest", *corpus)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    rejected = [line for line in result.stderr.splitlines() if line.startswith("modic: rejected ")]
    assert len(rejected) == len(result.stderr.splitlines())
    named = {line.removeprefix("modic: rejected ").split(": ")[0] for line in rejected}
    assert named <= set(corpus)
    accepted = set(corpus) - named
    assert accepted and lines(result.stdout)
    study_uids = {s["study_instance_uid"] for s in lines(result.stdout)}
    assert len(study_uids) == len(lines(result.stdout))


def test_storescu_to_modic_receive_to_the_api(settings: Settings) -> None:
    storescu, echoscu = dcmtk("storescu"), dcmtk("echoscu")
    if storescu is None or echoscu is None:
        pytest.skip("dcmtk (storescu, echoscu) not installed")
    port = free_port()
    env = {**os.environ, "MODIC_DATABASE_URL": settings.database_url, "MODIC_DATA_DIR": str(settings.data_dir)}
    receiver = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "receive", "--port", str(port), "--ae-title", "MODIC"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while subprocess.run([echoscu, "-aec", "MODIC", "127.0.0.1", str(port)], capture_output=True).returncode:
            assert receiver.poll() is None and time.monotonic() < deadline, "modic receive did not start"
            time.sleep(0.3)
        study = SAMPLE_STUDIES[0]
        sent = subprocess.run(
            [storescu, "-xr", "-aec", "MODIC", "127.0.0.1", str(port), "+sd", "+r", "+sp", "*.dcm", str(study)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert sent.returncode == 0, sent.stderr
        ct = str(get_testdata_file("CT_small.dcm"))
        sent_ct = subprocess.run(
            [storescu, "-aec", "MODIC", "127.0.0.1", str(port), ct], capture_output=True, text=True, timeout=60
        )
        assert sent_ct.returncode == 0, sent_ct.stderr
        truth = ground_truth(study)
        app = create_app(settings)
        with session_scope(app.state.engine, write=True) as session:
            _, token = add_user(session, "reader", "admin")
        with TestClient(app) as client:
            headers = {"Authorization": f"Bearer {token}"}
            deadline = time.monotonic() + 60
            while True:
                items = client.get("/api/v1/studies", headers=headers).json()["items"]
                if items and items[0]["grading_series"]["t2"]:
                    break
                assert time.monotonic() < deadline, "the received study did not appear"
                time.sleep(0.3)
            (received,) = items
            assert received["study_instance_uid"] == truth["study_instance_uid"]
            assert len(received["series"]) == 7 and received["warnings"] == []
            t1 = received["grading_series"]["t1"]
            assert client.get(f"/api/v1/series/{t1}/slices/5.png", headers=headers).status_code == 200
    finally:
        receiver.terminate()
        out, err = receiver.communicate(timeout=30)
    assert receiver.returncode == 0, err
    assert "Traceback" not in err
    assert "modic: rejected C-STORE from STORESCU" in err and "not an MR image (SOP class CT Image Storage" in err
    assert json.loads(out.splitlines()[0])["study_instance_uid"] == truth["study_instance_uid"]
    assert dt.date.fromisoformat(json.loads(out.splitlines()[0])["study_date"]) == dt.date(2008, 3, 14)


def test_concurrent_ingests_of_the_same_study_store_it_once(settings: Settings, tmp_path: Path) -> None:
    files = sorted(SAMPLE_STUDIES[3].rglob("*.dcm"))
    env = {**os.environ, "MODIC_DATABASE_URL": settings.database_url, "MODIC_DATA_DIR": str(settings.data_dir)}
    modic(settings, "user", "add", "migrator", "--role", "admin")  # the schema exists before the race
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "api.cli", "ingest", *map(str, files[i::2] + files)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], [err for _, err in outputs]
    ids = {json.loads(out.splitlines()[0])["id"] for out, _ in outputs}
    assert len(ids) == 1
    app = create_app(settings)
    with session_scope(app.state.engine) as session:
        rows = session.execute(text("SELECT count(*), count(DISTINCT sop_instance_uid) FROM instances")).one()
        assert tuple(rows) == (43, 43)
        assert session.execute(text("SELECT count(*) FROM series")).scalar_one() == 7
        assert session.execute(text("SELECT count(*) FROM patients")).scalar_one() == 1
