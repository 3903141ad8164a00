"""Generate the synthetic 0.2 T lumbar phantom studies of ``sample_dicom/`` with their ground truth.

No real 0.2 T spine data can be shipped, so the project makes its own (``docs/imaging.md#phantoms``).
Each study imitates the protocol of a Siemens MAGNETOM Open Viva lumbar examination
(BMC Musculoskelet Disord 2008;9:5): a GR 40/10 three-plane localizer, sagittal T1 SE
621/26 ms, sagittal T2 TSE 4609/134 ms, sagittal STIR (TI 90 ms) and axial T2 TSE 6415/134 ms, all
with MagneticFieldStrength 0.2. The phantom holds T12-S1 vertebral bodies with a dark cortical and
endplate rim, discs (nucleus and annulus), CSF, muscle, fat and Rician noise (σ ≈ 7 / 10 / 25 % of the
marrow signal on T1 / T2 / STIR). Modic changes are placed at known endplates with the marrow signal
factors of docs/imaging.md#phantoms (type I ×0.55 T1, ×1.6 T2, ×3 STIR; type II ×1.35, ×1.2, ×0.6; type III
×0.35, ×0.35, ×0.5) and a depth that gives their size (Jensen 2012, Figure 1). ``ground_truth.json`` in
each study folder records the 11-endplate grading in the contract's ``endplates`` format and the
series expected to be chosen for grading.

The output is deterministic: UIDs derive from a fixed root and names, noise from fixed seeds.
Run ``python sample_dicom/generate.py`` from the repository root (``--out DIR`` to write elsewhere).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_ROOT_UID, MRImageStorage, RLELossless, generate_uid

UID_ROOT = PYDICOM_ROOT_UID
"""UIDs are ``generate_uid(UID_ROOT, ["modic-sample", ...names])``: deterministic hashes under pydicom's root."""

FIELD_STRENGTH_T = 0.2
LARMOR_MHZ_PER_T = 42.577

# Relative signal (T1 fat = 1.0) per tissue and contrast, docs/imaging.md#phantoms.
SIGNAL: dict[str, dict[str, float]] = {
    #            T1    T2    STIR  localizer (GR)
    "air": {"T1": 0.0, "T2": 0.0, "STIR": 0.0, "GR": 0.0},
    "fat": {"T1": 1.0, "T2": 0.80, "STIR": 0.05, "GR": 0.90},
    "marrow": {"T1": 0.70, "T2": 0.45, "STIR": 0.12, "GR": 0.60},
    "cortex": {"T1": 0.08, "T2": 0.06, "STIR": 0.03, "GR": 0.08},
    "nucleus": {"T1": 0.38, "T2": 0.90, "STIR": 0.70, "GR": 0.35},
    "nucleus_degenerated": {"T1": 0.35, "T2": 0.30, "STIR": 0.20, "GR": 0.33},
    "annulus": {"T1": 0.30, "T2": 0.22, "STIR": 0.15, "GR": 0.28},
    "csf": {"T1": 0.15, "T2": 1.00, "STIR": 0.95, "GR": 0.20},
    "muscle": {"T1": 0.42, "T2": 0.28, "STIR": 0.22, "GR": 0.40},
    "abdomen": {"T1": 0.36, "T2": 0.50, "STIR": 0.35, "GR": 0.34},
}
TISSUES = tuple(SIGNAL)

MODIC_FACTOR: dict[str, dict[str, float]] = {
    "I": {"T1": 0.55, "T2": 1.6, "STIR": 3.0, "GR": 0.6},
    "II": {"T1": 1.35, "T2": 1.2, "STIR": 0.6, "GR": 1.3},
    "III": {"T1": 0.35, "T2": 0.35, "STIR": 0.5, "GR": 0.4},
}
NOISE_FRACTION = {"T1": 0.07, "T2": 0.10, "STIR": 0.25, "GR": 0.12}
"""Rician σ as a fraction of the marrow signal on that contrast (SNR ≈ 13 / 9 / 4 on T1 / T2 / STIR)."""

SIZE_EXTENSION_PCT = {"A": 0.0, "B": 15.0, "C": 40.0, "D": 65.0}
"""Depth of a placed change as % of the body height; A (endplate only) is a 2.5 mm subchondral band."""
ENDPLATE_ONLY_MM = 2.5
SCALE = 1000.0
"""Stored value of signal 1.0 (12-bit data)."""

VERTEBRAE = ("T12", "L1", "L2", "L3", "L4", "L5", "S1")
ENDPLATE_IDS = (
    "L1_sup", "L1_inf", "L2_sup", "L2_inf", "L3_sup", "L3_inf",
    "L4_sup", "L4_inf", "L5_sup", "L5_inf", "S1_sup",
)  # fmt: skip


@dataclass(frozen=True)
class Change:
    """A Modic change placed at one endplate: type as ``/``-joined components and a size A-D."""

    type: str
    size: str

    @property
    def components(self) -> tuple[str, ...]:
        return tuple(self.type.split("/"))

    @property
    def extension_pct(self) -> float:
        return SIZE_EXTENSION_PCT[self.size]


@dataclass(frozen=True)
class Patient:
    """One synthetic patient and study."""

    key: str
    patient_id: str
    name: str
    birth_date: str
    sex: str
    study_date: str
    seed: int
    changes: dict[str, Change]
    degenerated_discs: tuple[str, ...] = ()
    lordosis: float = 0.0015
    body_height_mm: float = 27.0
    disc_height_mm: float = 10.0
    sacral_slope_deg: float = 38.0
    localizer_image_type_flag: bool = True
    """Whether the localizer says LOCALIZER in ImageType (else only its description and sequence tell)."""


PATIENTS: tuple[Patient, ...] = (
    Patient(
        key="modic-p01", patient_id="MODIC-P01", name="PHANTOM^ONE", birth_date="19620311", sex="M",
        study_date="20080314", seed=101,
        changes={"L4_inf": Change("I", "C"), "L5_sup": Change("I", "B")},
        degenerated_discs=("L4-L5",),
    ),
    Patient(
        key="modic-p02", patient_id="MODIC-P02", name="PHANTOM^TWO", birth_date="19550702", sex="F",
        study_date="20080502", seed=202,
        changes={"L5_inf": Change("II", "B"), "S1_sup": Change("II", "A"), "L3_inf": Change("III", "A")},
        degenerated_discs=("L5-S1", "L3-L4"), lordosis=0.0018, body_height_mm=26.0,
    ),
    Patient(
        key="modic-p03", patient_id="MODIC-P03", name="PHANTOM^THREE", birth_date="19700119", sex="M",
        study_date="20080917", seed=303,
        changes={
            "L4_inf": Change("I/II", "D"), "L5_sup": Change("I/II", "C"), "L2_inf": Change("II/III", "B"),
        },
        degenerated_discs=("L4-L5", "L2-L3"), lordosis=0.0012, body_height_mm=28.0, disc_height_mm=9.0,
        localizer_image_type_flag=False,
    ),
    Patient(
        key="modic-p04", patient_id="MODIC-P04", name="PHANTOM^FOUR", birth_date="19480830", sex="F",
        study_date="20090126", seed=404,
        changes={"L5_inf": Change("II/III", "C"), "S1_sup": Change("III", "D"), "L1_sup": Change("II", "A")},
        degenerated_discs=("L5-S1",), lordosis=0.0016, sacral_slope_deg=42.0,
    ),
)  # fmt: skip


@dataclass(frozen=True)
class Vertebra:
    """A vertebral body in the mid-sagittal plane: centre (y, z) in mm (LPS), tilt, size."""

    name: str
    y: float
    z: float
    angle: float
    height: float
    depth: float
    half_width: float


@dataclass(frozen=True)
class Spine:
    """The bodies T12-S1 of one patient."""

    vertebrae: tuple[Vertebra, ...]

    def by_name(self, name: str) -> Vertebra:
        return next(v for v in self.vertebrae if v.name == name)


def build_spine(patient: Patient) -> Spine:
    """Bodies along a lordotic curve y = y3 + c (z − z3)², L3 at the origin; S1 tilted by the sacral slope."""
    rng = np.random.default_rng(patient.seed)
    heights = [patient.body_height_mm + float(rng.uniform(-1.0, 1.0)) for _ in VERTEBRAE]
    z_l3 = 0.0
    index_l3 = VERTEBRAE.index("L3")
    centres: list[float] = [0.0] * len(VERTEBRAE)
    centres[index_l3] = z_l3
    for i in range(index_l3 - 1, -1, -1):
        centres[i] = centres[i + 1] + (heights[i] + heights[i + 1]) / 2 + patient.disc_height_mm
    for i in range(index_l3 + 1, len(VERTEBRAE)):
        disc = patient.disc_height_mm * (0.85 if VERTEBRAE[i] == "S1" else 1.0)
        centres[i] = centres[i - 1] - (heights[i - 1] + heights[i]) / 2 - disc
    vertebrae = []
    for name, z, height in zip(VERTEBRAE, centres, heights, strict=True):
        y = -15.0 + patient.lordosis * (z - z_l3) ** 2
        slope = 2 * patient.lordosis * (z - z_l3)
        angle = math.atan(slope)
        if name == "S1":
            angle = -math.radians(patient.sacral_slope_deg) * 0.8
            y += 6.0
        vertebrae.append(Vertebra(name, y, z, angle, height, depth=36.0, half_width=25.0))
    return Spine(tuple(vertebrae))


def _local(v: Vertebra, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Body coordinates: u anterior→posterior, w cranial→caudal (positive down), both in mm."""
    dy, dz = y - v.y, z - v.z
    c, s = math.cos(v.angle), math.sin(v.angle)
    u = c * dy - s * dz
    w = -(s * dy + c * dz)
    return u, w


def tissue_maps(patient: Patient, spine: Spine, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> dict[str, np.ndarray]:
    """Per point: ``label`` (index into TISSUES) and a Modic factor map per contrast."""
    label = np.full(x.shape, TISSUES.index("air"), dtype=np.int8)
    l3 = spine.by_name("L3")
    canal_y = l3.y + l3.depth / 2 + 1.0 + patient.lordosis * (z - l3.z) ** 2
    body = (x / 165.0) ** 2 + ((y - 5.0) / 118.0) ** 2 < 1.0
    inner = (x / 150.0) ** 2 + ((y - 5.0) / 103.0) ** 2 < 1.0
    label[body] = TISSUES.index("fat")
    label[inner] = TISSUES.index("abdomen")
    posterior = inner & (y > canal_y - 4.0) & (np.abs(x) < 75.0)
    label[posterior] = TISSUES.index("muscle")
    canal = (np.abs(x) < 9.0) & (y > canal_y) & (y < canal_y + 15.0) & (z > spine.by_name("S1").z + 10)
    label[canal] = TISSUES.index("csf")
    modic: dict[str, np.ndarray] = {c: np.ones(x.shape, dtype=np.float32) for c in ("T1", "T2", "STIR", "GR")}
    # Discs first, bodies overwrite them.
    for upper, lower in zip(spine.vertebrae, spine.vertebrae[1:], strict=False):
        level = f"{upper.name}-{lower.name}"
        cy, cz = (upper.y + lower.y) / 2, (upper.z + lower.z) / 2
        gap = (upper.z - upper.height / 2) - (lower.z + lower.height / 2)
        mid = Vertebra(level, cy, cz, (upper.angle + lower.angle) / 2, gap + 6.0, upper.depth - 2.0, upper.half_width)
        u, w = _local(mid, y, z)
        across = (u / (mid.depth / 2)) ** 2 + (x / mid.half_width) ** 2
        disc = (across < 1.0) & (np.abs(w) < mid.height / 2)
        label[disc] = TISSUES.index("annulus")
        nucleus_name = "nucleus_degenerated" if level in patient.degenerated_discs else "nucleus"
        label[disc & (across < 0.35) & (np.abs(w) < gap / 2 - 1.0)] = TISSUES.index(nucleus_name)
    for v in spine.vertebrae:
        u, w = _local(v, y, z)
        across = (u / (v.depth / 2)) ** 2 + (x / v.half_width) ** 2
        extent = v.height / 2 if v.name != "S1" else v.height / 2 + 60.0
        inside = (across < 1.0) & (w > -v.height / 2) & (w < extent)
        half_depth = (v.depth / 2) * np.sqrt(np.clip(1.0 - (x / v.half_width) ** 2, 0.0, 1.0))
        rim = np.minimum(half_depth - np.abs(u), np.minimum(w + v.height / 2, extent - w))
        label[inside] = TISSUES.index("marrow")
        label[inside & (rim < 1.5)] = TISSUES.index("cortex")
        for side in ("sup", "inf"):
            endplate = f"{v.name}_{side}"
            change = patient.changes.get(endplate)
            if change is None:
                continue
            from_endplate = (w + v.height / 2) if side == "sup" else (v.height / 2 - w)
            depth = max(ENDPLATE_ONLY_MM, change.extension_pct / 100.0 * v.height)
            zone = inside & (rim >= 1.5) & (from_endplate < 1.5 + depth) & (np.abs(x) < 16.0)
            zone &= (u > -0.42 * v.depth) & (u < 0.30 * v.depth)
            parts = change.components
            edges = np.linspace(-0.42 * v.depth, 0.30 * v.depth, len(parts) + 1)
            for part, lo, hi in zip(parts, edges, edges[1:], strict=False):
                piece = zone & (u >= lo) & (u < hi)
                for contrast, factor in MODIC_FACTOR[part].items():
                    modic[contrast][piece] = factor
    return {"label": label, **modic}


def render(
    patient: Patient,
    spine: Spine,
    contrast: str,
    points: tuple[np.ndarray, np.ndarray, np.ndarray],
    shape: tuple[int, ...],
    rng: np.random.Generator,
) -> np.ndarray:
    """Average the signal over the sub-samples (slice thickness, in-plane ×2), add Rician noise, scale to 12 bits."""
    maps = tissue_maps(patient, spine, *points)
    table = np.array([SIGNAL[t][contrast] for t in TISSUES], dtype=np.float32)
    signal = table[maps["label"]]
    marrow = maps["label"] == TISSUES.index("marrow")
    signal = np.where(marrow, signal * maps[contrast], signal)
    signal = signal.reshape(shape).mean(axis=(1, 3, 4)) if len(shape) == 5 else signal.reshape(shape)
    sigma = NOISE_FRACTION[contrast] * SIGNAL["marrow"][contrast]
    noisy = np.hypot(signal + rng.normal(0.0, sigma, signal.shape), rng.normal(0.0, sigma, signal.shape))
    return np.clip(np.rint(noisy * SCALE), 0, 4095).astype(np.uint16)


@dataclass(frozen=True)
class SeriesPlan:
    """One series of the protocol."""

    number: int
    key: str
    description: str
    contrast: str
    role: str
    orientations: tuple[tuple[float, ...], ...]
    centres: tuple[tuple[float, float, float], ...]
    matrix: int
    fov_mm: float
    thickness_mm: float
    spacing_mm: float | None
    tr: float
    te: float
    ti: float | None
    scanning_sequence: str
    sequence_variant: str
    sequence_name: str
    echo_train: int
    flip_angle: float
    plane: str
    weighting: str


SAG = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
COR = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
TRA = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def protocol(patient: Patient, spine: Spine) -> tuple[SeriesPlan, ...]:
    """The five series of the published 0.2 T lumbar protocol, geometry centred on this spine."""
    sag_x = tuple(24.0 - 4.8 * i for i in range(11))
    centre_z = spine.by_name("L3").z - 12.0
    sag_centres = tuple((x, 0.0, centre_z) for x in sag_x)
    l4, l5 = spine.by_name("L4"), spine.by_name("L5")
    disc_z = ((l4.z - l4.height / 2) + (l5.z + l5.height / 2)) / 2
    tra_centres = tuple((0.0, 5.0, disc_z + 18.0 - 6.0 * i) for i in range(7))
    return (
        SeriesPlan(1, "localizer", "localizer", "GR", "localizer", (SAG, COR, TRA),
                   ((0.0, 0.0, centre_z), (0.0, -15.0, centre_z), (0.0, 0.0, disc_z)),
                   128, 350.0, 8.0, None, 40.0, 10.0, None, "GR", "SP\\OSP", "*fl2d1", 1, 40.0, "mixed", "other"),
        SeriesPlan(2, "t1_se_sag", "t1_se_sag", "T1", "t1", (SAG,) * 11, sag_centres,
                   192, 300.0, 4.0, 4.8, 621.0, 26.0, None, "SE", "SP\\OSP", "*se2d1", 1, 90.0, "sagittal", "T1"),
        SeriesPlan(3, "t2_tse_sag", "t2_tse_sag", "T2", "t2", (SAG,) * 11, sag_centres,
                   192, 300.0, 4.0, 4.8, 4609.0, 134.0, None, "SE", "SK\\SP\\OSP", "*tse2d1_15", 15, 180.0,
                   "sagittal", "T2"),
        SeriesPlan(4, "t2_tirm_sag", "t2_tirm_sag", "STIR", "stir", (SAG,) * 11, sag_centres,
                   192, 300.0, 4.0, 4.8, 3500.0, 30.0, 90.0, "SE\\IR", "SK\\SP\\MP\\OSP", "*tir2d1_9", 9, 150.0,
                   "sagittal", "STIR"),
        SeriesPlan(5, "t2_tse_tra", "t2_tse_tra", "T2", "axial_t2", (TRA,) * 7, tra_centres,
                   128, 200.0, 5.0, 6.0, 6415.0, 134.0, None, "SE", "SK\\SP\\OSP", "*tse2d1_15", 15, 180.0,
                   "axial", "T2"),
    )  # fmt: skip


def slice_points(
    plan_orientation: tuple[float, ...], centre: tuple[float, float, float], matrix: int, fov: float, thickness: float
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], tuple[int, ...], tuple[float, float, float]]:
    """Sample points of one slice (2×2 in-plane, 3 through-plane) and the IPP of its first pixel."""
    row = np.asarray(plan_orientation[:3])
    col = np.asarray(plan_orientation[3:])
    normal = np.cross(row, col)
    pixel = fov / matrix
    offsets = (np.arange(matrix) - (matrix - 1) / 2) * pixel
    sub = np.array([-0.25, 0.25]) * pixel
    through = np.array([-1 / 3, 0.0, 1 / 3]) * thickness
    # shape: (matrix rows, 2, matrix columns, 2, 3 through-plane): mean over axes 1, 3, 4
    r = (offsets[:, None] + sub[None, :])[:, :, None, None, None]
    c = (offsets[:, None] + sub[None, :])[None, None, :, :, None]
    t = through[None, None, None, None, :]
    shape = (matrix, 2, matrix, 2, 3)
    centre_v = np.asarray(centre)
    coords = [np.broadcast_to(centre_v[k] + r * col[k] + c * row[k] + t * normal[k], shape).ravel() for k in range(3)]
    first = centre_v + offsets[0] * row + offsets[0] * col
    return (coords[0], coords[1], coords[2]), shape, (float(first[0]), float(first[1]), float(first[2]))


def uid(*names: object) -> str:
    """A deterministic UID under :data:`UID_ROOT`."""
    return generate_uid(UID_ROOT, ["modic-sample", *(str(n) for n in names)])


def _ds_number(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def make_instance(
    patient: Patient,
    plan: SeriesPlan,
    index: int,
    pixels: np.ndarray,
    ipp: tuple[float, float, float],
    window: tuple[float, float],
) -> Dataset:
    """One MR Image Storage instance with the Siemens-like header of the protocol."""
    study_uid = uid(patient.key, "study")
    series_uid = uid(patient.key, "series", plan.number)
    sop_uid = uid(patient.key, "series", plan.number, "instance", index + 1)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = RLELossless
    meta.ImplementationClassUID = uid("implementation")
    meta.ImplementationVersionName = "MODIC_SAMPLE_1"
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    is_localizer = plan.role == "localizer"
    image_type = ["ORIGINAL", "PRIMARY", "M", "ND"]
    if is_localizer and patient.localizer_image_type_flag:
        image_type = ["ORIGINAL", "PRIMARY", "LOCALIZER", "ND"]
    ds.ImageType = image_type
    ds.InstanceCreationDate = patient.study_date
    ds.InstanceCreationTime = "101500"
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = patient.study_date
    ds.StudyTime = "100000"
    ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = f"10{plan.number:02d}00"
    ds.AccessionNumber = f"ACC{patient.seed:05d}"
    ds.Modality = "MR"
    ds.Manufacturer = "SIEMENS"
    ds.InstitutionName = "Synthetic Phantom Site"
    ds.ReferringPhysicianName = ""
    ds.StationName = "OPENVIVA"
    ds.StudyDescription = "LWS^Modic phantom"
    ds.SeriesDescription = plan.description
    ds.ManufacturerModelName = "MAGNETOM Open Viva"
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = patient.birth_date
    ds.PatientSex = patient.sex
    ds.BodyPartExamined = "LSPINE"
    ds.ScanningSequence = plan.scanning_sequence.split("\\")
    ds.SequenceVariant = plan.sequence_variant.split("\\")
    ds.ScanOptions = ""
    ds.MRAcquisitionType = "2D"
    ds.SequenceName = plan.sequence_name
    ds.AngioFlag = "N"
    ds.SliceThickness = _ds_number(plan.thickness_mm)
    ds.RepetitionTime = _ds_number(plan.tr)
    ds.EchoTime = _ds_number(plan.te)
    if plan.ti is not None:
        ds.InversionTime = _ds_number(plan.ti)
    ds.NumberOfAverages = "2"
    ds.ImagingFrequency = _ds_number(round(FIELD_STRENGTH_T * LARMOR_MHZ_PER_T, 6))
    ds.ImagedNucleus = "1H"
    ds.EchoNumbers = "1"
    ds.MagneticFieldStrength = _ds_number(FIELD_STRENGTH_T)
    if plan.spacing_mm is not None:
        ds.SpacingBetweenSlices = _ds_number(plan.spacing_mm)
    ds.EchoTrainLength = str(plan.echo_train)
    ds.PercentSampling = "100"
    ds.PercentPhaseFieldOfView = "100"
    ds.SoftwareVersions = "modic sample generator 1"
    ds.ProtocolName = plan.description
    ds.ReceiveCoilName = "Body Spine"
    ds.TransmitCoilName = "Body"
    ds.AcquisitionMatrix = [0, plan.matrix, plan.matrix, 0]
    ds.InPlanePhaseEncodingDirection = "ROW"
    ds.FlipAngle = _ds_number(plan.flip_angle)
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = str(plan.number)
    ds.AcquisitionNumber = "1"
    ds.InstanceNumber = str(index + 1)
    ds.ImagePositionPatient = [_ds_number(v) for v in ipp]
    ds.ImageOrientationPatient = [_ds_number(v) for v in plan.orientations[index]]
    ds.FrameOfReferenceUID = uid(patient.key, "frame-of-reference")
    ds.PositionReferenceIndicator = ""
    normal = np.cross(plan.orientations[index][:3], plan.orientations[index][3:])
    ds.SliceLocation = _ds_number(float(np.dot(normal, ipp)))
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = pixels.shape[0]
    ds.Columns = pixels.shape[1]
    pixel = plan.fov_mm / plan.matrix
    ds.PixelSpacing = [_ds_number(pixel), _ds_number(pixel)]
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.WindowCenter = _ds_number(window[0])
    ds.WindowWidth = _ds_number(window[1])
    ds.WindowCenterWidthExplanation = "phantom"
    ds.compress(RLELossless, pixels, generate_instance_uid=False)
    return ds


def _window(stacked: np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(stacked, [1.0, 99.5])
    return float(round((low + high) / 2)), float(max(1.0, round(high - low)))


def generate_study(patient: Patient, out_dir: Path, plans: tuple[SeriesPlan, ...] | None = None) -> dict[str, object]:
    """Write one study under ``out_dir/patient.key`` (the series of ``plans``, by default the
    protocol's) and return its ground truth."""
    spine = build_spine(patient)
    study_dir = out_dir / patient.key
    if study_dir.exists():
        shutil.rmtree(study_dir)
    series_truth = []
    for plan in plans if plans is not None else protocol(patient, spine):
        rng = np.random.default_rng([patient.seed, plan.number])
        images = []
        positions = []
        for orientation, centre in zip(plan.orientations, plan.centres, strict=True):
            points, shape, ipp = slice_points(orientation, centre, plan.matrix, plan.fov_mm, plan.thickness_mm)
            images.append(render(patient, spine, plan.contrast, points, shape, rng))
            positions.append(ipp)
        window = _window(np.stack(images))
        series_dir = study_dir / f"s{plan.number:02d}_{plan.key}"
        series_dir.mkdir(parents=True)
        for index, (pixels, ipp) in enumerate(zip(images, positions, strict=True)):
            ds = make_instance(patient, plan, index, pixels, ipp, window)
            ds.save_as(series_dir / f"im{index + 1:03d}.dcm", enforce_file_format=True)
        series_truth.append(
            {
                "series_instance_uid": uid(patient.key, "series", plan.number),
                "series_number": plan.number,
                "description": plan.description,
                "role": plan.role,
                "plane": plan.plane,
                "weighting": plan.weighting,
                "slices": len(plan.centres),
            }
        )
    endplates: dict[str, dict[str, object]] = {}
    for endplate in ENDPLATE_IDS:
        change = patient.changes.get(endplate)
        if change is None:
            endplates[endplate] = {"type": "none"}
        else:
            endplates[endplate] = {"type": change.type, "size": change.size, "extension_pct": change.extension_pct}
    truth: dict[str, object] = {
        "study_instance_uid": uid(patient.key, "study"),
        "patient_id": patient.patient_id,
        "study_date": f"{patient.study_date[:4]}-{patient.study_date[4:6]}-{patient.study_date[6:]}",
        "field_strength_t": FIELD_STRENGTH_T,
        "endplates": endplates,
        "grading_series": {
            "t1": uid(patient.key, "series", 2),
            "t2": uid(patient.key, "series", 3),
        },
        "series": series_truth,
    }
    (study_dir / "ground_truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    return truth


OFFSET_PATIENT = Patient(
    key="modic-offset", patient_id="MODIC-OFFSET", name="PHANTOM^OFFSET", birth_date="19600101", sex="F",
    study_date="20100101", seed=505, changes={"L4_inf": Change("I", "C")}, degenerated_discs=("L4-L5",),
)  # fmt: skip
"""A phantom for the workstation's geometry: its T1 and T2 differ in matrix, field of view and position."""


def offset_pair_plans(spine: Spine) -> tuple[SeriesPlan, SeriesPlan]:
    """Sagittal T1 (192², 300 mm, 7 slices 4.8 mm apart) and T2 (224², 280 mm, 7 slices 4 mm apart),
    the T2 shifted 7 mm posterior, 18 mm up and 1.6 mm through-plane, as two acquisitions of one
    examination can be: a viewer must map them by position, not by pixel or slice index."""
    t1, t2 = (plan for plan in protocol(OFFSET_PATIENT, spine) if plan.role in ("t1", "t2"))
    centre_z = spine.by_name("L3").z - 12.0
    t1_centres = tuple((14.4 - 4.8 * i, 0.0, centre_z) for i in range(7))
    t2_centres = tuple((13.6 - 4.0 * i, 7.0, centre_z + 18.0) for i in range(7))
    t1 = dataclasses.replace(t1, orientations=(SAG,) * len(t1_centres), centres=t1_centres)
    t2 = dataclasses.replace(
        t2, orientations=(SAG,) * len(t2_centres), centres=t2_centres, matrix=224, fov_mm=280.0, spacing_mm=4.0
    )
    return t1, t2


def display_pixel(plan: SeriesPlan, index: int, point: tuple[float, float, float]) -> tuple[float, float]:
    """Column and row (display pixels; sagittal SAG shows anterior left and head up unchanged) of a
    patient point on slice ``index`` of a plan, from the plan's own geometry."""
    _, _, first = slice_points(plan.orientations[index], plan.centres[index], plan.matrix, plan.fov_mm, 1.0)
    orientation = plan.orientations[index]
    offset = np.asarray(point) - np.asarray(first)
    pixel = plan.fov_mm / plan.matrix
    return float(offset @ np.asarray(orientation[:3]) / pixel), float(offset @ np.asarray(orientation[3:]) / pixel)


def body_point(v: Vertebra, u: float, w: float, x: float = 0.0) -> tuple[float, float, float]:
    """The patient point at body coordinates (u anterior→posterior, w cranial→caudal) of a vertebra."""
    c, s = math.cos(v.angle), math.sin(v.angle)
    return (x, v.y + c * u - s * w, v.z - s * u - c * w)


def generate_offset_pair(out_dir: Path) -> dict[str, object]:
    """Write the offset phantom under ``out_dir/modic-offset`` with its geometric ground truth:
    vertebral body centres, and the L4 inferior change's endplate, opposite endplate and depth
    points (its extension in % of the body height), each with its pixel on both series."""
    spine = build_spine(OFFSET_PATIENT)
    plans = offset_pair_plans(spine)
    truth = generate_study(OFFSET_PATIENT, out_dir, plans)

    def located(point: tuple[float, float, float]) -> dict[str, object]:
        where: dict[str, object] = {"point": list(point)}
        for plan in plans:
            index = min(range(len(plan.centres)), key=lambda i: abs(plan.centres[i][0] - point[0]))
            column, row = display_pixel(plan, index, point)
            where[plan.role] = {"slice": index, "x": column, "y": row}
        return where

    l4 = spine.by_name("L4")
    change = OFFSET_PATIENT.changes["L4_inf"]
    depth = change.extension_pct / 100.0 * l4.height
    truth["levels"] = {name: located(body_point(spine.by_name(name), 0.0, 0.0)) for name in VERTEBRAE[1:]}
    truth["lesion"] = {
        "endplate": "L4_inf",
        "extension_pct": change.extension_pct,
        "endplate_point": located(body_point(l4, 0.0, l4.height / 2)),
        "opposite_point": located(body_point(l4, 0.0, -l4.height / 2)),
        "depth_point": located(body_point(l4, 0.0, l4.height / 2 - depth)),
    }
    (out_dir / OFFSET_PATIENT.key / "ground_truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    return truth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="output folder")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for patient in PATIENTS:
        truth = generate_study(patient, args.out)
        print(f"{patient.key}: {truth['study_instance_uid']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
