"""The sample studies in DICOM peers nobody here wrote (``docs/imaging.md#phantoms``:
the files must load in dcm2niix, highdicom and Orthanc; highdicom is covered by the Enhanced MR copy of
``test_imaging_samples.py``).

- Orthanc 1.10 with its DICOMweb plugin takes every file by STOW-RS, lists the studies and series by
  QIDO-RS and returns an instance by WADO-RS whose pixels decode to the local file's. Orthanc binds
  0.0.0.0 with no option to change it, so it runs in a private network namespace (``unshare --net``)
  together with the DICOMweb client: this module run as ``python -m tests.registry.test_imaging_peers``
  (:func:`orthanc_exchange`), which writes what it saw to a JSON file for the test to check.
- dcm2niix converts each sagittal T1 series to one NIfTI volume holding the same voxels, and modic's own
  NIfTI ingest (``modic ingest FILE.nii.gz --patient-id --study-date --weighting T1``) takes that volume
  back as a gradable sagittal T1 series with the same slice count.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
import pytest
from pydicom.pixels.processing import apply_modality_lut
from pydicom.uid import ExplicitVRLittleEndian, RLELossless

from tests.imaging_support import ROOT, SAMPLE_STUDIES, ground_truth, sample_files, series_dir
from tests.orthanc_support import missing_orthanc, namespace_prefix, run_group, running_orthanc, tool

PEER_TIMEOUT_S = 120
"""Upper bound for one peer process; each test normally takes a few seconds."""


def _dicomweb_session(base: str, studies: list[Path], retrieve: list[str], workdir: Path) -> dict[str, Any]:
    """STOW-RS every file of ``studies`` (one request per study), QIDO-RS every study and its series, and
    WADO-RS the instance ``retrieve`` (study, series, SOP instance UID) once as stored and once as
    Explicit VR Little Endian, written to ``workdir``. Returns what Orthanc answered."""
    import requests
    from dicomweb_client import DICOMwebClient

    http = requests.Session()
    http.trust_env = False
    client = DICOMwebClient(url=f"{base}/dicom-web", session=http)

    stored: list[dict[str, Any]] = []
    for study in studies:
        datasets = [pydicom.dcmread(path) for path in sample_files(study)]
        response = client.store_instances(datasets=datasets)
        stored.append(
            {
                "sent": len(datasets),
                "referenced": len(response.get("ReferencedSOPSequence", [])),
                "failed": len(response.get("FailedSOPSequence", [])),
            }
        )

    found: dict[str, Any] = {}
    for item in client.search_for_studies(fields=["PatientID", "StudyDate"]):
        study_ds = pydicom.Dataset.from_json(item)
        series = client.search_for_series(
            study_instance_uid=study_ds.StudyInstanceUID,
            fields=["SeriesDescription", "Modality", "SeriesNumber", "NumberOfSeriesRelatedInstances"],
        )
        found[study_ds.StudyInstanceUID] = {
            "patient_id": study_ds.get("PatientID"),
            "study_date": study_ds.get("StudyDate"),
            "series": [
                {
                    "uid": ds.SeriesInstanceUID,
                    "description": ds.get("SeriesDescription"),
                    "modality": ds.get("Modality"),
                    "instances": int(ds.get("NumberOfSeriesRelatedInstances", -1)),
                }
                for ds in (pydicom.Dataset.from_json(s) for s in series)
            ],
        }

    study_uid, series_uid, sop_uid = retrieve
    retrieved: dict[str, str] = {}
    for name, syntax in (("as_stored", "*"), ("explicit", ExplicitVRLittleEndian)):
        instance = client.retrieve_instance(
            study_uid, series_uid, sop_uid, media_types=(("application/dicom", str(syntax)),)
        )
        target = workdir / f"retrieved-{name}.dcm"
        instance.save_as(target)
        retrieved[name] = str(target)
    return {"stored": stored, "studies": found, "retrieved": retrieved}


def orthanc_exchange(workdir: Path, orthanc: str, ip: str, studies: list[Path], retrieve: list[str]) -> None:
    """Inside a fresh network namespace: start Orthanc with a private configuration, run the DICOMweb
    session and write its answers to ``workdir/result.json``."""
    with running_orthanc(workdir, orthanc, ip) as base:
        result = _dicomweb_session(base, studies, retrieve, workdir)
    (workdir / "result.json").write_text(json.dumps(result, indent=2))


def _series_of(study: Path) -> Counter[tuple[str, str, int]]:
    """(SeriesDescription, Modality, instance count) of every series of a local study, from its headers."""
    per_series: dict[str, tuple[str, str]] = {}
    counts: Counter[str] = Counter()
    for path in sample_files(study):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        per_series[ds.SeriesInstanceUID] = (str(ds.SeriesDescription), str(ds.Modality))
        counts[ds.SeriesInstanceUID] += 1
    return Counter((*per_series[uid], counts[uid]) for uid in per_series)


@pytest.fixture
def orthanc_tools() -> tuple[list[str], str, str]:
    """The namespace prefix, the Orthanc binary and ``ip``; skips when any is missing or no network
    namespace can be made here."""
    pytest.importorskip("dicomweb_client", reason="dicomweb-client not installed (pip install dicomweb-client)")
    reason = missing_orthanc()
    if reason is not None:
        pytest.skip(reason)
    return namespace_prefix(), str(tool("Orthanc")), str(tool("ip"))


def test_orthanc_takes_the_sample_studies_by_stow_and_returns_them_by_qido_and_wado(
    orthanc_tools: tuple[list[str], str, str], tmp_path: Path
) -> None:
    prefix, orthanc, ip = orthanc_tools
    local = pydicom.dcmread(sample_files(series_dir(SAMPLE_STUDIES[0], "t1"))[0])
    retrieve = [local.StudyInstanceUID, local.SeriesInstanceUID, local.SOPInstanceUID]
    command = [
        *prefix,
        sys.executable,
        "-m",
        "tests.registry.test_imaging_peers",
        str(tmp_path),
        orthanc,
        ip,
        ",".join(retrieve),
        *(str(study) for study in SAMPLE_STUDIES),
    ]
    done = run_group(command, timeout=PEER_TIMEOUT_S, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    log = tmp_path / "orthanc.log"
    assert done.returncode == 0, f"{done.stderr[-3000:]}\n{log.read_text()[-2000:] if log.exists() else ''}"
    result = json.loads((tmp_path / "result.json").read_text())

    # STOW-RS: every file referenced, none failed.
    sent = [len(sample_files(study)) for study in SAMPLE_STUDIES]
    assert [s["sent"] for s in result["stored"]] == sent
    assert [s["referenced"] for s in result["stored"]] == sent
    assert [s["failed"] for s in result["stored"]] == [0] * len(SAMPLE_STUDIES)

    # QIDO-RS: the studies of the ground truth, each with the series of its files (all MR).
    truths = {ground_truth(study)["study_instance_uid"]: study for study in SAMPLE_STUDIES}
    assert set(result["studies"]) == set(truths)
    for uid, study in truths.items():
        truth = ground_truth(study)
        found = result["studies"][uid]
        assert found["patient_id"] == truth["patient_id"]
        assert found["study_date"] == truth["study_date"].replace("-", "")
        series = Counter((s["description"], s["modality"], s["instances"]) for s in found["series"])
        assert series == _series_of(study)
        assert series == Counter((s["description"], "MR", s["slices"]) for s in truth["series"])
        assert {s["uid"] for s in found["series"]} == {s["series_instance_uid"] for s in truth["series"]}

    # WADO-RS: the same SOP instance, stored as sent (RLE) and transcoded to Explicit VR Little Endian by
    # Orthanc, both decoding to the local pixels.
    expected = local.pixel_array
    for name, syntax in (("as_stored", RLELossless), ("explicit", ExplicitVRLittleEndian)):
        retrieved = pydicom.dcmread(result["retrieved"][name])
        assert retrieved.SOPInstanceUID == local.SOPInstanceUID
        assert retrieved.file_meta.TransferSyntaxUID == syntax
        assert np.array_equal(retrieved.pixel_array, expected)


# ---------------------------------------------------------------------------------------------- dcm2niix


@pytest.fixture
def dcm2niix() -> str:
    found = tool("dcm2niix")
    if found is None:
        pytest.skip("dcm2niix (Debian package dcm2niix) not installed")
    return found


def _dicom_volume(folder: Path) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The series as a (slice, row, column) array of rescaled values, sorted by n·ImagePositionPatient as
    docs/imaging.md#dicom-peers says, and the 4×4 affine from (column, row, slice) indices to LPS millimetres."""
    datasets = [pydicom.dcmread(path) for path in sorted(folder.glob("*.dcm"))]
    iop = np.array(datasets[0].ImageOrientationPatient, dtype=float)
    row_dir, col_dir = iop[:3], iop[3:]
    normal = np.cross(row_dir, col_dir)
    datasets.sort(key=lambda ds: float(normal @ np.array(ds.ImagePositionPatient, dtype=float)))
    first = np.array(datasets[0].ImagePositionPatient, dtype=float)
    last = np.array(datasets[-1].ImagePositionPatient, dtype=float)
    step = (last - first) / (len(datasets) - 1)
    row_spacing, col_spacing = (float(v) for v in datasets[0].PixelSpacing)
    affine = np.eye(4)
    affine[:3, 0] = row_dir * col_spacing
    affine[:3, 1] = col_dir * row_spacing
    affine[:3, 2] = step
    affine[:3, 3] = first
    volume = np.stack([apply_modality_lut(ds.pixel_array, ds) for ds in datasets]).astype(float)
    return volume, affine


def _as_dicom_voxels(
    nifti_affine: npt.NDArray[np.float64], dicom_affine: npt.NDArray[np.float64], shape: tuple[int, ...]
) -> npt.NDArray[np.int_]:
    """For every NIfTI voxel (i, j, k), the (slice, row, column) index of the DICOM voxel at the same place;
    NIfTI world coordinates are RAS, DICOM's LPS."""
    ras_to_lps = np.diag([-1.0, -1.0, 1.0, 1.0])
    to_dicom = np.linalg.inv(dicom_affine) @ ras_to_lps @ nifti_affine
    assert np.allclose(to_dicom, np.round(to_dicom), atol=1e-3), f"voxel grids differ:\n{to_dicom}"
    grid = np.indices(shape).reshape(3, -1)
    column, row, slice_ = (np.round(to_dicom[:3, :3] @ grid + to_dicom[:3, 3:4])).astype(int)
    return np.stack([slice_, row, column])


# One case per sample study, each with its own noise and Modic changes in the same geometry.
@pytest.mark.parametrize("study", SAMPLE_STUDIES, ids=[s.name for s in SAMPLE_STUDIES])
def test_dcm2niix_converts_the_sagittal_t1_and_modic_ingests_the_volume_back(
    dcm2niix: str, study: Path, tmp_path: Path, database_url: str
) -> None:
    import nibabel

    folder = series_dir(study, "t1")
    truth = ground_truth(study)
    slices = next(s["slices"] for s in truth["series"] if s["role"] == "t1")
    first = pydicom.dcmread(sample_files(folder)[0], stop_before_pixels=True)
    out = tmp_path / "nifti"
    out.mkdir()
    done = run_group([dcm2niix, "-z", "i", "-b", "y", "-f", "%s_%d", "-o", str(out), str(folder)], timeout=60)
    printed = done.stdout + done.stderr
    assert done.returncode == 0, printed
    assert not [line for line in printed.splitlines() if "error" in line.lower()], printed

    volumes = sorted(out.glob("*.nii*"))
    assert [v.name for v in volumes] == [f"{first.SeriesNumber}_{first.SeriesDescription}.nii.gz"]
    image = nibabel.Nifti1Image.from_filename(volumes[0])
    assert image.shape == (first.Columns, first.Rows, slices)

    # The same voxels at the same places: dcm2niix decoded the RLE files and kept the geometry.
    volume, dicom_affine = _dicom_volume(folder)
    index = _as_dicom_voxels(image.affine, dicom_affine, image.shape)
    assert np.array_equal(volume[tuple(index)].reshape(image.shape), image.get_fdata())

    # The BIDS sidecar carries the acquisition parameters of the headers (seconds, tesla).
    sidecar = json.loads(volumes[0].with_name(volumes[0].name.removesuffix(".nii.gz") + ".json").read_text())
    assert sidecar["MagneticFieldStrength"] == pytest.approx(float(first.MagneticFieldStrength))
    assert sidecar["RepetitionTime"] == pytest.approx(float(first.RepetitionTime) / 1000)
    assert sidecar["EchoTime"] == pytest.approx(float(first.EchoTime) / 1000)

    env = {**os.environ, "MODIC_DATABASE_URL": database_url, "MODIC_DATA_DIR": str(tmp_path / "data")}
    ingest = [
        sys.executable,
        "-m",
        "api.cli",
        "ingest",
        str(volumes[0]),
        "--patient-id",
        truth["patient_id"],
        "--study-date",
        truth["study_date"],
        "--weighting",
        "T1",
    ]
    done = run_group(ingest, timeout=PEER_TIMEOUT_S, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr
    (study_json,) = [json.loads(line) for line in done.stdout.splitlines()]
    (series,) = study_json["series"]
    assert (series["plane"], series["weighting"], series["gradable"]) == ("sagittal", "T1", True)
    assert series["slices"] == slices
    assert study_json["grading_series"]["t1"] == series["id"]
    assert study_json["study_date"] == truth["study_date"]


if __name__ == "__main__":
    # python -m tests.registry.test_imaging_peers WORKDIR ORTHANC IP STUDY,SERIES,SOP STUDY_DIR...
    workdir_arg, orthanc_arg, ip_arg, retrieve_arg, *study_args = sys.argv[1:]
    orthanc_exchange(Path(workdir_arg), orthanc_arg, ip_arg, [Path(s) for s in study_args], retrieve_arg.split(","))
