"""The sample studies and the broken variants built from them (docs/imaging.md#broken-variants):
classification matches their headers and ground truth, and every variant is handled as that document
describes."""

from __future__ import annotations

import dataclasses
import importlib.util
import random
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless

from grading.nordic import StudyGrading
from grading.series import Plane, StudyClassification, Weighting, classify_study
from registry.imaging.render import render_png
from registry.imaging.sources import AcceptedInstance, Rejection, iter_paths, read_sources
from tests.imaging_support import (
    SAMPLE_DIR,
    SAMPLE_STUDIES,
    as_field_strength,
    copy_study,
    enhanced_copy,
    ground_truth,
    new_uid,
    rewrite,
    series_dir,
    tilt,
    transcode,
)


def classify(paths: list[Path]) -> tuple[StudyClassification, list[Rejection]]:
    """Read and classify the files of one study."""
    items = list(read_sources(iter_paths(paths)))
    headers = [h for i in items if isinstance(i, AcceptedInstance) for h in i.instance.headers]
    return classify_study(headers), [i for i in items if isinstance(i, Rejection)]


def stack_of(result: StudyClassification, description: str) -> list[object]:
    return [s for s in result.stacks if s.description == description]


def test_at_least_four_patients_cover_every_type_and_size() -> None:
    assert len(SAMPLE_STUDIES) >= 4
    types: set[str] = set()
    sizes: set[str] = set()
    for study in SAMPLE_STUDIES:
        truth = ground_truth(study)
        grading = StudyGrading.from_mapping(truth["endplates"])
        for endplate in grading.endplates:
            if endplate.has_change:
                types.add(str(endplate.type))
                assert endplate.size is not None
                sizes.add(endplate.size.value)
    assert {"I", "II", "III", "I/II", "II/III"} <= types
    assert sizes == {"A", "B", "C", "D"}


def test_the_sample_folder_is_small() -> None:
    total = sum(p.stat().st_size for p in SAMPLE_DIR.rglob("*") if p.is_file())
    assert total < 20 * 1024 * 1024


@pytest.mark.parametrize("study", SAMPLE_STUDIES, ids=[s.name for s in SAMPLE_STUDIES])
def test_classification_matches_headers_and_ground_truth(study: Path) -> None:
    truth = ground_truth(study)
    result, rejections = classify(sorted(study.rglob("*.dcm")))
    assert rejections == []
    assert result.study_instance_uid == truth["study_instance_uid"]
    assert result.field_strength_t == truth["field_strength_t"] == 0.2
    assert result.warnings == ()
    chosen = result.grading_series
    assert chosen.t1 is not None and chosen.t1.series_instance_uid == truth["grading_series"]["t1"]
    assert chosen.t2 is not None and chosen.t2.series_instance_uid == truth["grading_series"]["t2"]
    for expected in truth["series"]:
        stacks = [s for s in result.stacks if s.series_instance_uid == expected["series_instance_uid"]]
        assert sum(s.slices for s in stacks) == expected["slices"]
        if expected["role"] == "localizer":
            assert {s.plane for s in stacks} == {Plane.SAGITTAL, Plane.CORONAL, Plane.AXIAL}
            assert all(s.weighting is Weighting.OTHER and not s.gradable for s in stacks)
            continue
        (stack,) = stacks
        assert (stack.plane.value, stack.weighting.value) == (expected["plane"], expected["weighting"])
    stir = next(s for s in result.stacks if s.weighting is Weighting.STIR)
    axial = next(s for s in result.stacks if s.plane is Plane.AXIAL and s.weighting is Weighting.T2)
    assert stir not in (chosen.t1, chosen.t2) and axial not in (chosen.t1, chosen.t2)
    assert axial.not_gradable_reason == "plane is axial, not sagittal"


def test_shuffled_order_and_random_names_change_nothing(tmp_path: Path) -> None:
    study = SAMPLE_STUDIES[1]
    reference, _ = classify(sorted(study.rglob("*.dcm")))
    files = sorted(study.rglob("*.dcm"))
    random.Random(7).shuffle(files)
    renamed = []
    for path in files:
        target = tmp_path / f"{uuid.UUID(int=random.Random(str(path)).getrandbits(128)).hex}.img"
        shutil.copyfile(path, target)
        renamed.append(target)
    result, rejections = classify(renamed)
    assert rejections == []
    assert [(s.series_instance_uid, [h.sop_instance_uid for h in s.instances]) for s in result.stacks] == [
        (s.series_instance_uid, [h.sop_instance_uid for h in s.instances]) for s in reference.stacks
    ]


def test_a_missing_slice_is_reported(tmp_path: Path) -> None:
    study = copy_study(SAMPLE_STUDIES[0], tmp_path / "study")
    (sorted(series_dir(study, "t1").glob("*.dcm"))[5]).unlink()
    result, _ = classify(sorted(study.rglob("*.dcm")))
    t1 = result.grading_series.t1
    assert t1 is not None and t1.slices == 10
    assert any("t1_se_sag" in w and "1 missing slice(s)" in w for w in result.warnings)


def test_a_duplicate_slice_is_reported(tmp_path: Path) -> None:
    study = copy_study(SAMPLE_STUDIES[0], tmp_path / "study")
    source = sorted(series_dir(study, "t2").glob("*.dcm"))[3]
    copy = source.with_name("copy.dcm")
    shutil.copyfile(source, copy)
    rewrite(copy, lambda ds: setattr(ds, "SOPInstanceUID", new_uid("duplicate")))
    result, _ = classify(sorted(study.rglob("*.dcm")))
    assert result.grading_series.t2 is not None and result.grading_series.t2.slices == 11
    assert any("duplicate slice position" in w and "copy.dcm" in w for w in result.warnings)


def test_a_tilted_slice_is_reported(tmp_path: Path) -> None:
    study = copy_study(SAMPLE_STUDIES[0], tmp_path / "study")
    target = sorted(series_dir(study, "t1").glob("*.dcm"))[2]
    rewrite(target, tilt)
    result, _ = classify(sorted(study.rglob("*.dcm")))
    assert any("tilted slice" in w and target.name in w for w in result.warnings)
    assert result.grading_series.t1 is not None


def test_localizer_and_axial_are_recorded_but_not_chosen() -> None:
    result, _ = classify(sorted(SAMPLE_STUDIES[2].rglob("*.dcm")))
    localizers = [s for s in result.stacks if s.reason.value == "localizer"]
    assert len(localizers) == 3
    assert result.grading_series.t1 not in localizers and result.grading_series.t2 not in localizers


def test_an_enhanced_mr_copy_is_read_frame_by_frame(tmp_path: Path) -> None:
    study = SAMPLE_STUDIES[0]
    truth = ground_truth(study)
    path = enhanced_copy(series_dir(study, "t1"), tmp_path / "enhanced.dcm")
    (item,) = read_sources(iter_paths([path]))
    assert isinstance(item, AcceptedInstance)
    assert item.instance.sop_class_uid == "1.2.840.10008.5.1.4.1.1.4.4" and item.instance.number_of_frames == 11
    others = [p for p in sorted(study.rglob("*.dcm")) if series_dir(study, "t1") not in p.parents]
    result, _ = classify([path, *others])
    t1 = result.grading_series.t1
    assert t1 is not None and t1.slices == 11 and t1.plane is Plane.SAGITTAL
    assert t1.series_instance_uid != truth["grading_series"]["t1"]
    assert len(render_png(path.read_bytes(), frame=t1.instances[5].frame_index)) > 1000


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, JPEG2000Lossless])
def test_uncompressed_and_jpeg2000_copies_read_and_render_the_same(tmp_path: Path, syntax: str) -> None:
    source = sorted(series_dir(SAMPLE_STUDIES[3], "t1").glob("*.dcm"))[5]
    assert pydicom.dcmread(source, stop_before_pixels=True).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.5"
    copy = transcode(source, tmp_path / "copy.dcm", syntax)
    (original,) = read_sources(iter_paths([source]))
    (converted,) = read_sources(iter_paths([copy]))
    assert isinstance(original, AcceptedInstance) and isinstance(converted, AcceptedInstance)
    assert converted.instance.transfer_syntax_uid == syntax
    assert converted.instance.headers == tuple(
        dataclasses.replace(h, source=str(copy)) for h in original.instance.headers
    )
    assert render_png(copy.read_bytes()) == render_png(source.read_bytes())


def test_a_15_tesla_study_is_warned_about(tmp_path: Path) -> None:
    study = copy_study(SAMPLE_STUDIES[0], tmp_path / "study")
    for path in study.rglob("*.dcm"):
        rewrite(path, as_field_strength)
    result, _ = classify(sorted(study.rglob("*.dcm")))
    assert result.field_strength_t == 1.5
    assert any("field strength 1.5 T differs from the expected 0.2 T" in w for w in result.warnings)
    assert result.grading_series.t1 is not None


def test_a_ct_image_and_a_fake_dcm_are_rejected_naming_them(tmp_path: Path) -> None:
    ct = tmp_path / "ct.dcm"
    shutil.copyfile(str(get_testdata_file("CT_small.dcm")), ct)
    fake = tmp_path / "fake.dcm"
    fake.write_text("PatientName: not really DICOM\n")
    items = list(read_sources(iter_paths([ct, fake, *sorted(SAMPLE_STUDIES[0].rglob("*.dcm"))])))
    rejected = {i.source: i.reason for i in items if isinstance(i, Rejection)}
    assert rejected == {
        str(ct): "not an MR image (SOP class CT Image Storage, modality CT); only MR image storage is accepted",
        str(fake): "not a DICOM file (no DICM preamble and no SOP Class UID)",
    }
    assert sum(isinstance(i, AcceptedInstance) for i in items) == 43


def _load_generator() -> object:
    spec = importlib.util.spec_from_file_location("sample_generate", SAMPLE_DIR / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_generator_is_deterministic(tmp_path: Path) -> None:
    generator = _load_generator()
    patient = generator.PATIENTS[0]  # type: ignore[attr-defined]
    generator.generate_study(patient, tmp_path)  # type: ignore[attr-defined]
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(SAMPLE_DIR) for p in (SAMPLE_DIR / patient.key).rglob("*") if p.is_file())
    assert made == committed
    assert all((tmp_path / p).read_bytes() == (SAMPLE_DIR / p).read_bytes() for p in made)


DCIODVFY = shutil.which("dciodvfy")
EXPLAINED_WARNINGS = (
    # Siemens writes ImageType value 3 as "M" (magnitude) and the localizer as "LOCALIZER"; neither is a
    # defined term of the MR Image module, and docs/imaging.md#phantoms asks for ORIGINAL\PRIMARY\M\ND.
    "Warning - Unrecognized defined term <M> for value 3 of attribute <Image Type>",
    "Warning - Unrecognized defined term <LOCALIZER> for value 3 of attribute <Image Type>",
)


@pytest.mark.parametrize("study", SAMPLE_STUDIES, ids=[s.name for s in SAMPLE_STUDIES])
def test_sample_files_pass_dciodvfy(study: Path) -> None:
    if DCIODVFY is None:
        pytest.skip("dciodvfy (Debian dicom3tools) not installed")
    for path in sorted(study.rglob("*.dcm")):
        out = subprocess.run([DCIODVFY, str(path)], capture_output=True, text=True, timeout=60)
        lines = [line for line in (out.stdout + out.stderr).splitlines() if line.strip()]
        assert lines[0] == "MRImage", f"{path}: {lines}"
        unexplained = [line for line in lines[1:] if line not in EXPLAINED_WARNINGS]
        assert unexplained == [], f"{path}: {unexplained}"


def test_a_study_recorded_in_several_multi_row_inserts_keeps_every_image_and_header(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from registry.db import get_engine, session_scope
    from registry.imaging.store import FileStore
    from registry.repositories import imaging as imaging_repo
    from registry.services.imaging import ingest_paths

    study = SAMPLE_STUDIES[0]
    files = sorted(study.rglob("*.dcm"))
    assert len(files) % 7, "the last insert is a shorter one"
    monkeypatch.setattr(imaging_repo, "ROWS_PER_INSERT", 7)  # 7 rows a statement instead of 100
    engine = get_engine(database_url)
    with session_scope(engine, write=True) as session:
        (ingested,) = ingest_paths(session, FileStore(tmp_path / "data"), [study]).studies
    assert ingested.new == len(files)
    read = [i for i in read_sources(iter_paths(files)) if isinstance(i, AcceptedInstance)]
    with session_scope(engine) as session:
        stored = imaging_repo.instances_of_study(session, ingested.view.study.id)
    assert {key: s.header for key, s in stored.items()} == {
        h.instance_key: h for item in read for h in item.instance.headers
    }
    placed = [s.placement for s in stored.values() if s.placement[0] is not None]
    assert len(placed) == len(set(placed)) == sum(s.slices for s in ingested.view.series)


def test_ingest_counts_its_files_and_studies_in_a_process_that_has_the_metrics(
    database_url: str, tmp_path: Path
) -> None:
    from prometheus_client import REGISTRY

    from registry import metrics  # a server has loaded them to serve /metrics
    from registry.db import get_engine, session_scope
    from registry.imaging.store import FileStore
    from registry.services.imaging import ingest_paths

    assert metrics.INGESTED_FILES is not None

    def counts() -> tuple[float, ...]:
        values = [
            REGISTRY.get_sample_value("modic_ingest_files_total", {"outcome": "stored"}),
            REGISTRY.get_sample_value("modic_ingest_files_total", {"outcome": "rejected"}),
            REGISTRY.get_sample_value("modic_ingest_studies_total"),
        ]
        return tuple(v or 0.0 for v in values)

    study = SAMPLE_STUDIES[1]  # its images and its ground_truth.json, which is not an image
    files = sorted(study.rglob("*.dcm"))
    before = counts()
    with session_scope(get_engine(database_url), write=True) as session:
        result = ingest_paths(session, FileStore(tmp_path / "data"), [study])
    assert len(result.studies) == 1
    rejected = [r.source for r in result.rejections]
    assert rejected == [str(study / "ground_truth.json")]
    assert tuple(b - a for a, b in zip(before, counts(), strict=True)) == (len(files), 1, 1)
