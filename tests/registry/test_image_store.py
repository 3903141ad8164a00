"""The image stores: the DICOMweb archive store against a real Orthanc, and moving a site into it.

Orthanc runs in a private network namespace (tests/orthanc_support.py); the scenario below runs there
and writes what it saw to ``result.json``, which the test checks outside.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from registry.settings import ImageStoreKind, Settings
from tests.orthanc_support import missing_orthanc, namespace_prefix, run_group, running_orthanc, tool

ROOT = Path(__file__).resolve().parents[2]
STUDY = ROOT / "sample_dicom" / "modic-p01"


def test_the_archive_store_needs_an_http_url() -> None:
    with pytest.raises(ValidationError) as error:
        Settings(image_store="dicomweb")
    assert "MODIC_IMAGE_STORE_URL None must be an http:// or https:// DICOMweb URL" in str(error.value)
    with pytest.raises(ValidationError) as error:
        Settings(image_store="pacs")
    assert "'dir' or 'dicomweb'" in str(error.value)
    assert Settings(image_store="dicomweb", image_store_url="http://x/dicom-web").image_store is ImageStoreKind.dicomweb


# ------------------------------------------------------------------------------- inside the namespace


def _scenario(workdir: Path, orthanc: str, ip: str) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from registry.db import get_engine, migrate, session_scope
    from registry.imaging.dicomweb_store import DicomwebStore
    from registry.imaging.store import FileStore, ImageMissing, InstanceAddress, open_store
    from registry.services.imaging import ingest_paths
    from registry.services.store_migration import migrate_to_archive
    from registry.services.users import add_user
    from tests.api.helpers import assign_every_study

    result: dict[str, Any] = {}
    files = sorted(STUDY.rglob("*.dcm"))
    with running_orthanc(workdir, orthanc, ip) as base:
        url = f"{base}/dicom-web"
        dir_settings = Settings(database_url=f"sqlite:///{workdir}/modic.db", data_dir=workdir / "data")
        archive_settings = dir_settings.model_copy(
            update={"image_store": ImageStoreKind.dicomweb, "image_store_url": url, "image_cache_bytes": 3_000_000}
        )
        engine = get_engine(dir_settings.database_url)
        migrate(engine)
        with session_scope(engine, write=True) as session:
            ingest_paths(session, FileStore.of(dir_settings), [STUDY])
            _, token = add_user(session, "rad", "radiologist")
        assign_every_study(engine)  # the study came in without a registrant: an admin assigns it

        # Move the site: a first run copies everything; one image deleted from the archive is copied alone
        # by the next run; an image missing from both places is reported, and the run is not verified.
        archive = open_store(archive_settings)
        assert isinstance(archive, DicomwebStore)
        first = migrate_to_archive(engine, FileStore.of(dir_settings), archive)
        orthanc_ids = httpx.get(f"{base}/instances").json()
        httpx.delete(f"{base}/instances/{orthanc_ids[0]}").raise_for_status()
        second = migrate_to_archive(engine, FileStore.of(dir_settings), DicomwebStore.of(archive_settings))
        third = migrate_to_archive(engine, FileStore.of(dir_settings), DicomwebStore.of(archive_settings))
        lost = FileStore.of(dir_settings).path_for(_uid(files[0]))
        lost.rename(lost.with_suffix(".away"))
        httpx.delete(f"{base}/instances/{_orthanc_id(base, _uid(files[0]))}").raise_for_status()
        fourth = migrate_to_archive(engine, FileStore.of(dir_settings), DicomwebStore.of(archive_settings))
        lost.with_suffix(".away").rename(lost)
        migrate_to_archive(engine, FileStore.of(dir_settings), DicomwebStore.of(archive_settings))
        result["migrations"] = [
            {"copied": r.copied, "already": r.already_there, "missing": r.missing_locally, "verified": r.verified}
            for r in (first, second, third, fourth)
        ]
        result["files"] = len(files)

        # The store itself: a fresh one reads from the archive (a miss), then from its cache (a hit); with
        # and without the instance's address; an unknown instance is ImageMissing.
        store = DicomwebStore.of(archive_settings)
        uid = _uid(files[1])
        head = _head(files[1])
        result["contains"] = [store.contains(uid), store.contains("1.2.3.4.5.6.7")]
        where = InstanceAddress(head["StudyInstanceUID"], head["SeriesInstanceUID"])
        read_cold = store.read(uid, where)
        read_warm = store.read(uid)
        other = DicomwebStore.of(archive_settings).read(_uid(files[2]))  # located by QIDO-RS
        stats = store.cache.stats()
        result["cache"] = {"hits": stats.hits, "misses": stats.misses, "bytes": stats.bytes}
        result["read"] = {
            "same": read_cold == read_warm,
            "pixels": _pixels(read_cold) == _pixels(files[1].read_bytes()),
            "other": _pixels(other) == _pixels(files[2].read_bytes()),
        }
        try:
            store.read("1.2.3.4.5.6.7")
        except ImageMissing as exc:
            result["missing"] = exc.message
        # The cache holds at most its limit: reading every image leaves it under 3 MB.
        for path in files:
            store.read(_uid(path))
        result["cache_after_all"] = store.cache.stats().bytes

        # Rendering through the API from the archive store gives the PNG the directory store gives.
        headers = {"Authorization": f"Bearer {token}"}
        pngs, ready = [], []
        for settings in (dir_settings, archive_settings):
            with TestClient(create_app(settings)) as client:
                ready.append(client.get("/api/v1/health/ready").json()["checks"]["store"])
                study = client.get("/api/v1/studies", headers=headers).json()["items"][0]
                t1 = client.get(f"/api/v1/studies/{study['id']}", headers=headers).json()["grading_series"]["t1"]
                answer = client.get(f"/api/v1/series/{t1}/slices/5.png", headers=headers)
                pngs.append([answer.status_code, answer.content.hex()])
        result["png_same"] = pngs[0] == pngs[1] and pngs[0][0] == 200
        result["ready"] = ready

        # Ingest into the archive store: STOW-RS, the files never touch the data directory.
        with session_scope(engine, write=True) as session:
            other_study = ROOT / "sample_dicom" / "modic-p02"
            ingested = ingest_paths(session, open_store(archive_settings), [other_study])
        result["ingested"] = [s.new for s in ingested.studies]
        result["archive_instances"] = len(httpx.get(f"{base}/instances").json())
        result["dir_files"] = sum(1 for _ in (workdir / "data").rglob("*.dcm"))
    return result


def _head(path: Path) -> dict[str, str]:
    import pydicom

    ds = pydicom.dcmread(path, stop_before_pixels=True)
    return {k: str(ds.get(k)) for k in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")}


def _pixels(content: bytes) -> tuple[str, bytes]:
    from io import BytesIO

    import pydicom

    ds = pydicom.dcmread(BytesIO(content))
    return str(ds.SOPInstanceUID), bytes(ds.PixelData)


def _uid(path: Path) -> str:
    return _head(path)["SOPInstanceUID"]


def _orthanc_id(base: str, uid: str) -> str:
    found = httpx.post(f"{base}/tools/lookup", content=uid).json()
    return str(found[0]["ID"])


# ------------------------------------------------------------------------------------------ the test


def test_the_archive_store_stores_reads_through_its_cache_renders_and_takes_a_site_over(tmp_path: Path) -> None:
    pytest.importorskip("dicomweb_client", reason="dicomweb-client not installed (pip install dicomweb-client)")
    reason = missing_orthanc()
    if reason is not None:
        pytest.skip(reason)
    command = [
        *namespace_prefix(),
        sys.executable,
        "-m",
        "tests.registry.test_image_store",
        str(tmp_path),
        str(tool("Orthanc")),
        str(tool("ip")),
    ]
    done = run_group(command, timeout=900, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    result = json.loads((tmp_path / "result.json").read_text())
    files = result["files"]

    first, second, third, fourth = result["migrations"]
    assert first == {"copied": files, "already": 0, "missing": [], "verified": True}
    assert second == {"copied": 1, "already": files - 1, "missing": [], "verified": True}
    assert third == {"copied": 0, "already": files, "missing": [], "verified": True}
    assert fourth["copied"] == 0 and len(fourth["missing"]) == 1 and fourth["verified"] is False

    assert result["contains"] == [True, False]
    assert result["read"] == {"same": True, "pixels": True, "other": True}
    assert result["cache"]["misses"] == 1 and result["cache"]["hits"] == 1
    assert "instance 1.2.3.4.5.6.7 is not in the image archive" in result["missing"]
    assert 0 < result["cache_after_all"] <= 3_000_000
    assert result["png_same"]
    assert result["ready"] == ["ok", "ok"]  # the archive store is ready when the archive answers a study query

    assert result["ingested"] == [sum(1 for _ in (ROOT / "sample_dicom" / "modic-p02").rglob("*.dcm"))]
    assert result["archive_instances"] == files + result["ingested"][0]
    assert result["dir_files"] == files  # the second study went to the archive only


if __name__ == "__main__":
    out = Path(sys.argv[1])
    (out / "result.json").write_text(json.dumps(_scenario(out, sys.argv[2], sys.argv[3])))
