"""``POST /studies`` with images (multipart) and ``GET /series/{id}/slices/{n}.png``."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from pydicom.data import get_testdata_file, get_testdata_files
from sqlalchemy import event, text
from sqlmodel import select

from api.app import create_app
from registry.db import session_scope
from registry.imaging.render import render_png
from registry.models import Patient
from registry.services.slices import locate_slice
from registry.services.users import add_user
from registry.settings import Settings
from tests.api.helpers import study_body
from tests.conftest import TokenFactory
from tests.imaging_support import SAMPLE_STUDIES, as_field_strength, copy_study, ground_truth, rewrite, series_dir

Parts = list[tuple[str, tuple[str, bytes, str]]]


def parts(paths: list[Path]) -> Parts:
    """Multipart parts named ``files``."""
    return [("files", (p.name, p.read_bytes(), "application/dicom")) for p in paths]


def upload(client: TestClient, headers: dict[str, str], files: Parts) -> Any:
    return client.post("/api/v1/studies", files=files, headers=headers)


def study_files(index: int = 0) -> list[Path]:
    return sorted(SAMPLE_STUDIES[index].rglob("*.dcm"))


def test_upload_gives_the_contract_shape(client: TestClient, auth: TokenFactory) -> None:
    headers = auth("radiologist")
    truth = ground_truth(SAMPLE_STUDIES[0])
    response = upload(client, headers, parts(study_files()))
    assert response.status_code == 201, response.text
    study = response.json()
    assert set(study) >= {"id", "study_instance_uid", "study_date", "field_strength_t", "patient", "series"}
    assert study["study_instance_uid"] == truth["study_instance_uid"]
    assert study["study_date"] == truth["study_date"] and study["field_strength_t"] == 0.2
    assert study["warnings"] == []
    by_id = {s["id"]: s for s in study["series"]}
    t1, t2 = by_id[study["grading_series"]["t1"]], by_id[study["grading_series"]["t2"]]
    assert (t1["series_instance_uid"], t1["plane"], t1["weighting"], t1["slices"]) == (
        truth["grading_series"]["t1"],
        "sagittal",
        "T1",
        11,
    )
    assert (t2["series_instance_uid"], t2["weighting"], t2["description"]) == (
        truth["grading_series"]["t2"],
        "T2",
        "t2_tse_sag",
    )
    assert sorted(s["weighting"] for s in study["series"] if s["plane"] == "sagittal") == [
        "STIR",
        "T1",
        "T2",
        "other",
    ]
    for series in study["series"]:
        assert series["field_strength_t"] == 0.2
        assert set(series) >= {"id", "series_instance_uid", "description", "plane", "weighting", "slices"}
    assert client.get(f"/api/v1/studies/{study['id']}", headers=headers).json() == study
    assert "MODIC-P01" not in response.text and "PHANTOM" not in response.text


def test_reupload_is_idempotent(client: TestClient, auth: TokenFactory, app: FastAPI) -> None:
    headers = auth("radiologist")
    first = upload(client, headers, parts(study_files(1))).json()
    again = upload(client, headers, parts(list(reversed(study_files(1)))))
    assert again.status_code == 201 and again.json() == first
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in study_files(1):
            archive.write(path, path.relative_to(SAMPLE_STUDIES[1]))
    zipped = upload(client, headers, [("files", ("study.zip", buffer.getvalue(), "application/zip"))])
    assert zipped.status_code == 201 and zipped.json() == first
    with session_scope(app.state.engine) as session:
        counts = session.execute(text("SELECT count(*), count(DISTINCT sop_instance_uid) FROM instances")).one()
        assert tuple(counts) == (43, 43)
        assert session.execute(text("SELECT count(*) FROM studies")).scalar_one() == 1


def test_images_arrive_in_several_uploads(client: TestClient, auth: TokenFactory) -> None:
    headers = auth("radiologist")
    t1 = sorted(series_dir(SAMPLE_STUDIES[2], "t1").glob("*.dcm"))
    partial = upload(client, headers, parts(t1[:6])).json()
    assert partial["grading_series"]["t2"] is None and "no gradable sagittal T2 series" in partial["warnings"]
    (t1_partial,) = partial["series"]
    assert t1_partial["slices"] == 6 and t1_partial["id"] == partial["grading_series"]["t1"]
    complete = upload(client, headers, parts(study_files(2))).json()
    assert complete["id"] == partial["id"] and complete["warnings"] == []
    t1_series = next(s for s in complete["series"] if s["id"] == complete["grading_series"]["t1"])
    assert t1_series["slices"] == 11 and t1_series["id"] == partial["grading_series"]["t1"]


def test_upload_attaches_to_a_study_registered_by_json(client: TestClient, auth: TokenFactory) -> None:
    headers = auth("admin")
    truth = ground_truth(SAMPLE_STUDIES[3])
    body = study_body(uid=truth["study_instance_uid"], patient_id=truth["patient_id"])
    registered = client.post("/api/v1/studies", json=body, headers=headers)
    assert registered.status_code == 201 and registered.json()["series"] == []
    uploaded = upload(client, headers, parts(study_files(3))).json()
    assert uploaded["id"] == registered.json()["id"]
    assert uploaded["patient"] == registered.json()["patient"]
    assert uploaded["grading_series"]["t1"] is not None and len(uploaded["series"]) == 7


def test_images_of_a_study_registered_for_another_patient_are_not_attached(
    client: TestClient, auth: TokenFactory
) -> None:
    headers = auth("admin")
    truth = ground_truth(SAMPLE_STUDIES[3])
    client.post(
        "/api/v1/studies", json=study_body(uid=truth["study_instance_uid"], patient_id="OTHER"), headers=headers
    )
    response = upload(client, headers, parts(study_files(3)))
    assert response.status_code == 409  # as when the study is registered again (tests/api/test_studies.py)
    assert "registered for another patient" in response.json()["detail"]


def test_bad_files_in_a_batch_are_warnings_by_name(client: TestClient, auth: TokenFactory, tmp_path: Path) -> None:
    headers = auth("radiologist")
    ct = Path(str(get_testdata_file("CT_small.dcm")))
    files = [
        *parts(study_files(0)),
        ("files", ("fake.dcm", b"PatientName: nobody\n", "application/dicom")),
        ("files", ("ct_small.dcm", ct.read_bytes(), "application/dicom")),
    ]
    response = upload(client, headers, files)
    assert response.status_code == 201
    warnings = response.json()["warnings"]
    assert "fake.dcm: not a DICOM file (no DICM preamble and no SOP Class UID)" in warnings
    assert any(w.startswith("ct_small.dcm: not an MR image") for w in warnings)
    assert response.json()["grading_series"]["t1"] is not None


@pytest.mark.parametrize(
    ("files", "status", "match"),
    [
        ([("files", ("notes.txt", b"hello", "text/plain"))], 422, "notes.txt: not a DICOM file"),  # not DICOM
        (
            [("files", ("ct.dcm", Path(str(get_testdata_file("CT_small.dcm"))).read_bytes(), "application/dicom"))],
            422,
            "ct.dcm: not an MR image",
        ),  # DICOM but CT
        ([("other", ("x.dcm", b"x", "application/dicom"))], 422, "no part named 'files'"),  # wrong part name
        ([("files", ("empty.dcm", b"", "application/dicom"))], 422, "empty.dcm: not a"),  # empty file
        (
            [("files", ("../../../etc/passwd", b"root:x:0:0", "text/plain"))],
            422,
            r"passwd: not a DICOM file",
        ),  # a path as file name: reported by its last component only
    ],
)
def test_uploads_without_any_usable_image_are_4xx(
    client: TestClient, auth: TokenFactory, files: Parts, status: int, match: str
) -> None:
    response = upload(client, auth("radiologist"), files)
    assert response.status_code == status
    assert re.search(match, response.json()["detail"])


def test_garbage_requests_are_4xx(client: TestClient, auth: TokenFactory) -> None:
    headers = auth("radiologist")
    wrong_type = client.post("/api/v1/studies", content=b"\x00\x01", headers={**headers, "content-type": "image/png"})
    assert wrong_type.status_code == 415 and "multipart/form-data" in wrong_type.json()["detail"]
    broken = client.post(
        "/api/v1/studies", content=b"--xx\r\ngarbage", headers={**headers, "content-type": "multipart/form-data"}
    )
    assert 400 <= broken.status_code < 500
    bad_json = client.post(
        "/api/v1/studies", content=b"{not json", headers={**headers, "content-type": "application/json"}
    )
    assert bad_json.status_code == 422


def test_upload_size_is_limited(settings: Settings, tmp_path: Path) -> None:
    small = settings.model_copy(update={"max_upload_bytes": 50_000})
    app = create_app(small)
    with session_scope(app.state.engine, write=True) as session:
        _, token = add_user(session, "limited", "admin")
    with TestClient(app) as client:
        response = upload(client, {"Authorization": f"Bearer {token}"}, parts(study_files()[:10]))
    assert response.status_code == 413 and "50000" in response.json()["detail"]


def test_upload_needs_a_radiologist_or_admin(client: TestClient, auth: TokenFactory) -> None:
    files = parts(study_files()[:1])
    assert client.post("/api/v1/studies", files=files).status_code == 401
    assert upload(client, auth("screener"), files).status_code == 403


def test_a_15_tesla_study_is_flagged(client: TestClient, auth: TokenFactory, tmp_path: Path) -> None:
    study = copy_study(SAMPLE_STUDIES[1], tmp_path / "study")
    for path in study.rglob("*.dcm"):
        rewrite(path, as_field_strength)
    response = upload(client, auth("radiologist"), parts(sorted(study.rglob("*.dcm")))).json()
    assert response["field_strength_t"] == 1.5
    assert any("1.5 T differs from the expected 0.2 T" in w for w in response["warnings"])


def test_patient_identifiers_live_only_in_the_patients_table(
    client: TestClient, auth: TokenFactory, app: FastAPI
) -> None:
    upload(client, auth("radiologist"), parts(study_files(0)))
    identifiers = ("MODIC-P01", "PHANTOM", "19620311", "1962-03-11")
    with session_scope(app.state.engine) as session:
        tables = (
            [
                row[0]
                for row in session.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))
                if row[0] not in ("patients", "alembic_version")
            ]
            if app.state.engine.dialect.name == "sqlite"
            else [
                row[0]
                for row in session.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
                if row[0] not in ("patients", "alembic_version")
            ]
        )
        assert "instances" in tables and "series" in tables
        for table in tables:
            dump = json.dumps([list(map(str, row)) for row in session.execute(text(f'SELECT * FROM "{table}"'))])
            assert not any(i in dump for i in identifiers), table
        patients = json.dumps([list(map(str, r)) for r in session.execute(text("SELECT * FROM patients"))])
        assert not any(i in patients for i in identifiers)  # there too, only encrypted
        (patient,) = session.exec(select(Patient)).all()
        assert (patient.hospital_id, patient.name, patient.birth_date) == (
            "MODIC-P01",
            "PHANTOM^ONE",
            dt.date(1962, 3, 11),
        )


# ---------------------------------------------------------------------------------------------- slices


def _png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def test_slices_come_in_spatial_order_and_display_orientation(client: TestClient, auth: TokenFactory) -> None:
    headers = auth("radiologist")
    study = upload(client, headers, parts(study_files(0))).json()
    t1 = study["grading_series"]["t1"]
    files = sorted(series_dir(SAMPLE_STUDIES[0], "t1").glob("*.dcm"))
    # The sample T1 is stored right (x = +24 mm) to left; n = (−1, 0, 0), so n·IPP grows with the file number.
    for index in (0, 5, 10):
        response = client.get(f"/api/v1/series/{t1}/slices/{index}.png", headers=headers)
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
        assert np.array_equal(_png(response.content), _png(render_png(files[index].read_bytes())))
    windowed = client.get(f"/api/v1/series/{t1}/slices/5.png", params={"wc": 300, "ww": 200}, headers=headers)
    assert np.array_equal(
        _png(windowed.content), _png(render_png(files[5].read_bytes(), window_center=300, window_width=200))
    )


def test_locating_a_slice_reads_the_series_with_its_study_then_the_image(
    app: FastAPI, client: TestClient, auth: TokenFactory
) -> None:
    study = upload(client, auth("radiologist"), parts(study_files(0))).json()
    t1 = study["grading_series"]["t1"]
    statements: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(app.state.engine, "before_cursor_execute", note)
    try:
        with session_scope(app.state.engine) as session:
            where = locate_slice(session, t1, 5)
    finally:
        event.remove(app.state.engine, "before_cursor_execute", note)
    assert where.address.study_instance_uid == study["study_instance_uid"] and where.slices == 11
    queries = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(queries) == 2, (
        queries
    )  # the series joined with its study, then the image: no query of its own for the study


@pytest.mark.parametrize(
    ("path", "params", "status", "match"),
    [
        ("{t1}/slices/11.png", {}, 404, "slice 11 does not exist; series .* has slices 0 to 10"),  # past the end
        ("{t1}/slices/-1.png", {}, 404, "slice -1 does not exist"),  # negative
        ("no-such-series/slices/0.png", {}, 404, "series 'no-such-series' does not exist"),  # unknown series
        ("{t1}/slices/abc.png", {}, 422, "index"),  # not a number
        ("{t1}/slices/0.png", {"ww": 0}, 422, "ww"),  # a window width must be positive
    ],
)
def test_bad_slice_requests(
    client: TestClient, auth: TokenFactory, path: str, params: dict[str, Any], status: int, match: str
) -> None:
    headers = auth("radiologist")
    study = upload(client, headers, parts(sorted(series_dir(SAMPLE_STUDIES[0], "t1").glob("*.dcm")))).json()
    response = client.get(
        "/api/v1/series/" + path.format(t1=study["grading_series"]["t1"]), params=params, headers=headers
    )
    assert response.status_code == status
    assert re.search(match, response.json()["detail"])


def test_slices_need_a_radiologist_or_admin(client: TestClient, auth: TokenFactory) -> None:
    study = upload(client, auth("admin"), parts(sorted(series_dir(SAMPLE_STUDIES[0], "t1").glob("*.dcm")))).json()
    url = f"/api/v1/series/{study['grading_series']['t1']}/slices/0.png"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=auth("researcher")).status_code == 403
    assert client.get(url, headers=auth("admin")).status_code == 200


# ---------------------------------------------------------------------------------------------- corpus

CORPUS = sorted({f for f in get_testdata_files() if f and os.path.isfile(f)})


def test_every_corpus_file_goes_through_post_studies(client: TestClient, auth: TokenFactory) -> None:
    headers = auth("radiologist")
    outcomes: dict[str, int] = {}
    for path in CORPUS:
        name = os.path.basename(path)
        response = upload(client, headers, [("files", (name, Path(path).read_bytes(), "application/octet-stream"))])
        outcomes[name] = response.status_code
        assert response.status_code in (201, 422), f"{name}: {response.status_code} {response.text[:300]}"
        if response.status_code == 422:
            assert name in response.json()["detail"], response.text
        else:
            study = response.json()
            assert study["id"] and isinstance(study["series"], list)
            assert not any(w.startswith(f"{name}:") for w in study["warnings"])
    assert 0 < sum(s == 201 for s in outcomes.values()) < len(outcomes)


def test_a_stored_file_that_was_removed_is_404(client: TestClient, auth: TokenFactory, settings: Settings) -> None:
    headers = auth("radiologist")
    study = upload(client, headers, parts(sorted(series_dir(SAMPLE_STUDIES[0], "t1").glob("*.dcm")))).json()
    shutil.rmtree(settings.data_dir)
    response = client.get(f"/api/v1/series/{study['grading_series']['t1']}/slices/0.png", headers=headers)
    assert response.status_code == 404 and "missing from the data directory" in response.json()["detail"]
