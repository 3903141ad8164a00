"""The imaging adapters on real files: pydicom's test corpus and pydicom-data, zip archives, NIfTI,
the file store and slice rendering."""

from __future__ import annotations

import datetime as dt
import io
import multiprocessing
import os
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path

import nibabel
import numpy as np
import pydicom
import pytest
from packaging.requirements import Requirement
from PIL import Image
from pydicom.data import get_testdata_file, get_testdata_files

from grading.series import Plane, Weighting, classify_study
from registry.imaging.archive import ArchiveLimits, iter_zip_members
from registry.imaging.dicom import (
    METADATA_KEYWORDS,
    DicomInstance,
    headers_from_metadata,
    json_value,
    read_dicom,
    read_dicom_with_pydicom,
)
from registry.imaging.errors import ArchiveError, ImagingError, NotDicomError, NotMRImageError, RenderError
from registry.imaging.fastheader import read_fast
from registry.imaging.nifti import NiftiMetadata
from registry.imaging.render import display_transform, render_png
from registry.imaging.sources import AcceptedInstance, Rejection, SourceFile, iter_paths, read_sources
from registry.imaging.store import FileStore, StoreError
from tests.imaging_support import SAMPLE_STUDIES, series_dir

CORPUS = sorted({f for f in get_testdata_files() if f and os.path.isfile(f)})
"""pydicom's own test files and pydicom-data (download-only entries are None offline)."""


def _outcome(read: Callable[[], DicomInstance]) -> DicomInstance | str:
    try:
        return read()
    except ImagingError as exc:
        return f"{type(exc).__name__}: {exc}"


def _both_readers_agree(path: Path, name: str) -> DicomInstance | str:
    """The outcome of plain pydicom (public API only), after checking that the fast path gives the same
    instance or rejection from memory and from disk."""
    data = path.read_bytes()
    reference = _outcome(lambda: read_dicom_with_pydicom(data, name))
    assert _outcome(lambda: read_dicom(data, name)) == reference
    assert _outcome(lambda: read_dicom(path, name)) == reference
    return reference


@pytest.mark.parametrize("study", SAMPLE_STUDIES, ids=[s.name for s in SAMPLE_STUDIES])
def test_the_fast_reader_agrees_with_pydicom_on_the_samples(study: Path) -> None:
    files = sorted(study.rglob("*.dcm"))
    assert files
    for path in files:
        assert isinstance(_both_readers_agree(path, path.name), DicomInstance)


def _query_answer(ds: pydicom.Dataset) -> dict[str, object]:
    """What a QIDO-RS answer for the image holds: its classification attributes in the DICOM JSON model."""
    wanted = {pydicom.datadict.tag_for_keyword(k) for k in (*METADATA_KEYWORDS, "PatientName")}
    return {key: value for key, value in ds.to_json_dict().items() if int(key, 16) in wanted}


@pytest.mark.parametrize("study", SAMPLE_STUDIES, ids=[s.name for s in SAMPLE_STUDIES])
def test_query_answers_are_read_from_their_json_as_from_a_dataset(study: Path) -> None:
    files = sorted(study.rglob("*.dcm"))
    assert files
    for path in files:
        answer = _query_answer(pydicom.dcmread(path, stop_before_pixels=True))
        expected = headers_from_metadata(pydicom.Dataset.from_json(answer), path.name)
        assert headers_from_metadata(answer, path.name, json_value) == expected
        assert json_value(answer, "ImageOrientationPatient") == list(expected[0].image_orientation or ())
        assert json_value(answer, "PatientName") == str(pydicom.Dataset.from_json(answer).PatientName)
    empty = {"0008103E": {"vr": "LO"}, "00200037": {"vr": "DS", "Value": []}, "00089121": {"vr": "SQ", "Value": [{}]}}
    assert [json_value(empty, k) for k in ("SeriesDescription", "ImageOrientationPatient", "Modality")] == [None] * 3
    assert json_value(empty, "ReferencedRawDataSequence") is None
    assert json_value(empty, "NoSuchKeyword") is None


def test_the_corpus_is_there() -> None:
    assert len(CORPUS) > 200, "pydicom-data is not installed"


def test_only_the_fast_path_uses_pydicom_internals() -> None:
    root = Path(__file__).resolve().parents[2]
    users = [p.relative_to(root).as_posix() for p in (root / "registry").rglob("*.py") if "._dict" in p.read_text()]
    assert users == ["registry/imaging/fastheader.py"]


def test_the_installed_pydicom_is_in_the_range_the_fast_path_was_checked_against() -> None:
    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]
    (requirement,) = [r for r in map(Requirement, project["dependencies"]) if r.name == "pydicom"]
    assert requirement.specifier.contains(pydicom.__version__)
    assert not requirement.specifier.contains("3.1.0"), "the upper bound keeps a new minor out until it is checked"


@pytest.mark.parametrize("path", CORPUS, ids=[os.path.basename(p) for p in CORPUS])
def test_every_corpus_file_is_accepted_or_rejected_naming_it(path: str) -> None:
    name = os.path.basename(path)
    data = Path(path).read_bytes()
    # The fast header reader and plain pydicom agree, from memory and from disk.
    _both_readers_agree(Path(path), name)
    items = list(read_sources([SourceFile(name, data)]))
    assert items
    for item in items:
        if isinstance(item, Rejection):
            assert item.message.startswith(name) and item.reason
        else:
            assert item.instance.source == name
            assert item.instance.headers and item.instance.sop_class_uid.startswith("1.2.840.10008.5.1.4.1.1.4")


@pytest.mark.parametrize(
    ("name", "error", "match"),
    [
        ("CT_small.dcm", NotMRImageError, "not an MR image .*CT Image Storage"),  # a CT image
        ("rtplan.dcm", NotMRImageError, "not an MR image .*RT Plan"),  # not an image at all
        ("MR_truncated.dcm", ImagingError, "pixel data cut short"),  # deliberately truncated
        ("README.txt", NotDicomError, "no DICM preamble and no SOP Class UID"),  # text that force=True would read
        ("no_meta.dcm", NotDicomError, "no DICM preamble"),  # raw dataset without a SOP Class UID
    ],
)
def test_bad_corpus_files_are_refused_with_the_reason(name: str, error: type[Exception], match: str) -> None:
    path = get_testdata_file(name)
    assert path is not None
    with pytest.raises(error, match=match):
        read_dicom(Path(str(path)).read_bytes(), name)


@pytest.mark.parametrize(
    "name",
    [
        "MR_small.dcm",  # explicit little endian
        "MR_small_implicit.dcm",  # implicit VR
        "MR_small_bigendian.dcm",  # big endian
        "MR_small_RLE.dcm",  # RLE lossless
        "MR_small_jp2klossless.dcm",  # JPEG 2000 lossless
        "MR_small_jpeg_ls_lossless.dcm",  # JPEG-LS lossless
        "MR2_J2KI.dcm",  # JPEG 2000 lossy (pydicom-data)
    ],
)
def test_mr_files_of_every_transfer_syntax_render(name: str) -> None:
    path = Path(str(get_testdata_file(name)))
    instance = read_dicom(path.read_bytes(), name)
    assert instance.headers[0].image_orientation is not None
    png = render_png(path.read_bytes(), source=name)
    image = Image.open(io.BytesIO(png))
    assert image.mode == "L" and image.size[0] > 0 and len(np.unique(np.asarray(image))) > 10


def test_enhanced_mr_without_geometry_is_not_gradable() -> None:
    path = Path(str(get_testdata_file("emri_small.dcm")))
    instance = read_dicom(path.read_bytes(), "emri_small.dcm")
    assert instance.number_of_frames == 10 and len(instance.headers) == 10
    (stack,) = classify_study(instance.headers).stacks
    assert not stack.gradable and "slice order unknown" in (stack.not_gradable_reason or "")
    assert len(render_png(path.read_bytes(), frame=9)) > 100


def test_a_damaged_jpeg2000_stream_is_refused_at_ingest_and_fails_to_render_with_the_reason() -> None:
    name = "emri_small_jpeg_2k_lossless_too_short.dcm"
    data = Path(str(get_testdata_file(name))).read_bytes()
    with pytest.raises(ImagingError, match=f"{name}: pixel data cut short"):
        read_dicom(data, name)
    with pytest.raises(RenderError, match=f"{name}: pixel data cannot be decoded"):
        for frame in range(10):
            render_png(data, frame=frame, source=name)


# ---------------------------------------------------------------------------------------------- store


def test_store_keys_files_by_uid_and_is_idempotent(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    first = store.put("1.2.3.4", b"one")
    again = store.put("1.2.3.4", b"two")
    assert first == again and first.read_bytes() == b"one" and first.name == "1.2.3.4.dcm"
    assert store.contains("1.2.3.4") and not store.contains("1.2.3.5")
    assert not list(first.parent.glob(".incoming-*"))


@pytest.mark.parametrize(
    "uid",
    [
        "../../etc/passwd",  # path traversal
        "1.2.3/4",  # a separator
        "1.2.3.",  # trailing dot
        "",  # empty
        "1." + "2" * 70,  # longer than 64 characters
        "1.2.3\x00",  # NUL
    ],
)
def test_store_refuses_what_is_not_a_uid(tmp_path: Path, uid: str) -> None:
    with pytest.raises(StoreError, match="is not a valid UID"):
        FileStore(tmp_path).put(uid, b"x")
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def _put_many(root: str, worker: int) -> None:
    store = FileStore(root)
    for i in range(50):
        store.put(f"1.2.{i}", f"{i}".encode() * 1000)
        store.put(f"1.3.{worker}.{i}", b"x")


def test_several_processes_share_the_store(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_put_many, args=(str(tmp_path), w)) for w in range(3)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    store = FileStore(tmp_path)
    assert all(store.read(f"1.2.{i}") == f"{i}".encode() * 1000 for i in range(50))
    assert not list(tmp_path.rglob(".incoming-*"))


# -------------------------------------------------------------------------------------------- archives


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_zip_members_are_read_in_memory_whatever_their_names(tmp_path: Path) -> None:
    t1 = sorted(series_dir(SAMPLE_STUDIES[0], "t1").glob("*.dcm"))
    members = {
        "../../escape.dcm": t1[0].read_bytes(),  # traversal
        "/abs/path.dcm": t1[1].read_bytes(),  # absolute
        "..\\..\\win.dcm": t1[3].read_bytes(),  # traversal, Windows separators
        "nested/dir/x.dcm": t1[2].read_bytes(),
        "notes.txt": b"hello",
        "__MACOSX/._x.dcm": b"resource fork",
    }
    before = set(Path.cwd().rglob("escape.dcm")) | set(tmp_path.parent.rglob("escape.dcm"))
    items = list(read_sources([SourceFile("upload.zip", _zip(members))]))
    accepted = [i for i in items if isinstance(i, AcceptedInstance)]
    rejected = [i for i in items if isinstance(i, Rejection)]
    assert len(accepted) == 4
    # Every member not used is named: the metadata file is not read, the text file is not DICOM.
    assert [r.source for r in rejected] == ["upload.zip:__MACOSX/._x.dcm", "upload.zip:notes.txt"]
    assert "metadata" in rejected[0].reason
    assert {a.instance.source for a in accepted} == {
        "upload.zip:../../escape.dcm",
        "upload.zip:/abs/path.dcm",
        "upload.zip:..\\..\\win.dcm",
        "upload.zip:nested/dir/x.dcm",
    }
    after = set(Path.cwd().rglob("escape.dcm")) | set(tmp_path.parent.rglob("escape.dcm"))
    assert after == before


@pytest.mark.parametrize(
    ("members", "limits", "match"),
    [
        ({f"{i}.dcm": b"x" for i in range(11)}, ArchiveLimits(max_members=10), "11 members; at most 10"),  # too many
        ({"a.dcm": b"x" * 5000}, ArchiveLimits(max_total_bytes=4000), "5000 bytes uncompressed"),  # too big
        ({"bomb.dcm": b"\0" * (4 << 20)}, ArchiveLimits(max_ratio=50), "expands .*-fold"),  # zip bomb
    ],
)
def test_zip_limits(members: dict[str, bytes], limits: ArchiveLimits, match: str) -> None:
    with pytest.raises(ArchiveError, match=match):
        list(iter_zip_members(_zip(members), "upload.zip", limits))


def test_a_corrupt_zip_is_rejected_naming_it() -> None:
    data = _zip({"a.dcm": b"abc" * 1000})
    broken = data[:30] + b"\xff" * 20 + data[50:]
    items = list(read_sources([SourceFile("broken.zip", broken)]))
    assert items and all(isinstance(i, Rejection) and i.source.startswith("broken.zip") for i in items)


def test_a_nested_zip_is_reported() -> None:
    inner = _zip({"a.dcm": b"x"})
    (item,) = read_sources([SourceFile("outer.zip", _zip({"inner.zip": inner}))])
    assert (
        isinstance(item, Rejection)
        and item.message == "outer.zip:inner.zip: nested archive; unpack it or send its files"
    )


# ----------------------------------------------------------------------------------------------- NIfTI

NIBABEL_DATA = Path(nibabel.__file__).parent / "tests" / "data"


def test_nifti_needs_the_study_data() -> None:
    (item,) = read_sources(iter_paths([NIBABEL_DATA / "anatomical.nii"]))
    assert isinstance(item, Rejection) and "anatomical.nii" in item.source
    assert "--patient-id, --study-date and --weighting" in item.reason


def test_nifti_becomes_a_series_with_the_callers_data() -> None:
    meta = NiftiMetadata("HOSP-7", dt.date(2024, 5, 1), "T2")
    items = list(read_sources(iter_paths([NIBABEL_DATA / "example_nifti2.nii.gz"]), nifti=meta))
    accepted = [i for i in items if isinstance(i, AcceptedInstance)]
    assert accepted and len(accepted) == len(items)
    first = accepted[0].instance
    assert first.patient.patient_id == "HOSP-7" and first.study_date == dt.date(2024, 5, 1)
    (stack,) = classify_study([h for a in accepted for h in a.instance.headers]).stacks
    assert stack.weighting is Weighting.T2 and stack.slices == len(accepted)
    again = list(read_sources(iter_paths([NIBABEL_DATA / "example_nifti2.nii.gz"]), nifti=meta))
    assert [a.instance.sop_instance_uid for a in again if isinstance(a, AcceptedInstance)] == [
        a.instance.sop_instance_uid for a in accepted
    ]


def test_a_sagittal_nifti_is_gradable(tmp_path: Path) -> None:
    volume = np.random.default_rng(1).integers(0, 1000, size=(64, 48, 11)).astype(np.int16)
    # voxel axes: i → anterior-posterior (RAS −y), j → head-feet (RAS −z), k → left-right (RAS x)
    affine = np.array([[0, 0, 4.8, -24], [-1.5, 0, 0, 50], [0, -1.5, 0, 40], [0, 0, 0, 1]], dtype=float)
    path = tmp_path / "sag_t1.nii.gz"
    nibabel.save(nibabel.Nifti1Image(volume, affine), path)
    meta = NiftiMetadata("HOSP-8", dt.date(2024, 5, 2), "T1")
    accepted = [i for i in read_sources(iter_paths([path]), nifti=meta) if isinstance(i, AcceptedInstance)]
    result = classify_study([h for a in accepted for h in a.instance.headers])
    assert result.grading_series.t1 is not None and result.grading_series.t1.plane is Plane.SAGITTAL
    assert result.grading_series.t1.slices == 11


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"patient_id": " ", "study_date": dt.date(2024, 1, 1), "weighting": "T1"}, "patient id is required"),
        ({"patient_id": "X", "study_date": dt.date(2024, 1, 1), "weighting": "STIR"}, "weighting 'STIR'"),
    ],
)
def test_nifti_metadata_is_validated(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        NiftiMetadata(**kwargs)  # type: ignore[arg-type]


def test_a_broken_nifti_is_rejected_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "broken.nii"
    path.write_bytes((NIBABEL_DATA / "anatomical.nii").read_bytes()[:400])
    meta = NiftiMetadata("HOSP-9", dt.date(2024, 5, 3), "T1")
    (item,) = read_sources(iter_paths([path]), nifti=meta)
    assert isinstance(item, Rejection) and item.source == str(path)


# ------------------------------------------------------------------------------------------- rendering


def _png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def _variant(path: Path, orientation: list[float], pixels: np.ndarray) -> bytes:
    ds = pydicom.dcmread(path)
    ds.decompress(generate_instance_uid=False)
    ds.ImageOrientationPatient = [f"{v:g}" for v in orientation]
    ds.Rows, ds.Columns = pixels.shape
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("orientation", "stored"),
    [
        ([0, 1, 0, 0, 0, -1], lambda a: a),  # Siemens sagittal: already anterior left, head up
        ([0, 1, 0, 0, 0, 1], lambda a: a[::-1, :]),  # feet first in rows
        ([0, -1, 0, 0, 0, -1], lambda a: a[:, ::-1]),  # posterior first in columns
        ([0, 0, -1, 0, 1, 0], lambda a: a.T),  # rows and columns swapped
        ([0, 0, 1, 0, -1, 0], lambda a: a.T[::-1, ::-1]),  # swapped and both reversed
    ],
)
def test_display_orientation_is_anterior_left_head_up(orientation: list[float], stored: object) -> None:
    path = sorted(series_dir(SAMPLE_STUDIES[0], "t1").glob("*.dcm"))[5]
    reference = _png(render_png(path.read_bytes(), window_center=600, window_width=1200))
    original = pydicom.dcmread(path).pixel_array
    data = _variant(path, orientation, stored(original))  # type: ignore[operator]
    assert np.array_equal(_png(render_png(data, window_center=600, window_width=1200)), reference)


@pytest.mark.parametrize(
    ("orientation", "expected"),
    [
        ((0.0, 1.0, 0.0, 0.0, 0.0, -1.0), (False, False, False)),  # sagittal, as displayed
        ((1.0, 0.0, 0.0, 0.0, 1.0, 0.0), (False, False, False)),  # axial, radiological
        ((-1.0, 0.0, 0.0, 0.0, 1.0, 0.0), (False, True, False)),  # axial with reversed rows
        ((1.0, 0.0, 0.0, 0.0, 0.0, -1.0), (False, False, False)),  # coronal
        (None, (False, False, False)),  # no orientation: shown as stored
    ],
)
def test_display_transform(orientation: tuple[float, ...] | None, expected: tuple[bool, bool, bool]) -> None:
    t = display_transform(orientation)
    assert (t.transpose, t.flip_horizontal, t.flip_vertical) == expected


def test_window_changes_the_rendering() -> None:
    data = sorted(series_dir(SAMPLE_STUDIES[0], "t2").glob("*.dcm"))[5].read_bytes()
    default = _png(render_png(data))
    narrow = _png(render_png(data, window_center=200, window_width=100))
    assert not np.array_equal(default, narrow)
    with pytest.raises(RenderError, match="window width 0 must be > 0"):
        render_png(data, window_width=0)


@pytest.mark.parametrize(
    ("name", "fast"),
    [
        ("MR_small.dcm", True),  # explicit VR little endian
        ("MR_small_RLE.dcm", True),  # RLE: the dataset is explicit VR little endian
        ("MR_small_jp2klossless.dcm", True),  # JPEG 2000, likewise
        ("MR_small_bigendian.dcm", False),  # big endian: pydicom
        ("MR_small_implicit.dcm", False),  # implicit VR: pydicom
        ("emri_small.dcm", True),  # Enhanced MR without functional groups
        ("image_dfl.dcm", False),  # deflated dataset: pydicom
        ("no_meta.dcm", False),  # no preamble: pydicom decides
    ],
)
def test_when_the_fast_header_reader_is_used(name: str, fast: bool) -> None:
    data = Path(str(get_testdata_file(name))).read_bytes()
    assert (read_fast(data, [0x00080018]) is not None) is fast


def test_the_fast_header_reader_gives_up_on_a_cut_header() -> None:
    data = Path(str(get_testdata_file("MR_small.dcm"))).read_bytes()
    assert read_fast(data[:600], [0x00080018]) is None
    assert read_fast(data[:100], [0x00080018]) is None


def test_the_fast_header_reader_leaves_functional_groups_to_pydicom(tmp_path: Path) -> None:
    from tests.imaging_support import enhanced_copy

    path = enhanced_copy(series_dir(SAMPLE_STUDIES[0], "t1"), tmp_path / "enhanced.dcm")
    data = path.read_bytes()
    assert read_fast(data, [0x52009229]) is None  # SharedFunctionalGroupsSequence is wanted
    assert read_fast(data, [0x00080018]) is not None  # skipped when not wanted
