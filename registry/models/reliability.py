"""Reliability studies: cases, raters and each rater's recorded, blinded worklist.

See docs/agreement.md#reliability-studies.

A worklist item is one read of one case by one rater, at a recorded position of that rater's own
seeded random order. Its grading is an ordinary :class:`~registry.models.gradings.Grading` of kind
``reliability`` (never used for eligibility); the item tags it with study, case and read.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from grading.protocols import DEFAULT_PROTOCOL
from registry.models import gradings, studies, users  # noqa: F401  (the tables its foreign keys name)
from registry.models.base import UTCDateTime, new_id, utcnow


class Sampling(enum.Enum):
    """How the cases of a reliability study were chosen (GRRAS item 3, Kottner 2011)."""

    consecutive = "consecutive"
    """Every eligible patient in a period, in order of arrival."""
    random = "random"
    """A random sample of the eligible patients."""
    stratified = "stratified"
    """Random within strata (e.g. by Modic type), to fill rare categories."""
    enriched = "enriched"
    """Chosen on purpose to contain more changes than the population has."""
    convenience = "convenience"
    """Whatever was at hand."""


class RaterRole(enum.Enum):
    """A rater's profession (GRRAS item 4: rater characteristics)."""

    radiologist = "radiologist"
    """A consultant radiologist."""
    radiology_resident = "radiology_resident"
    """A radiologist in training."""
    chiropractor = "chiropractor"
    """A chiropractor trained in reading spine MRI."""
    physiotherapist = "physiotherapist"
    """A physiotherapist trained in reading spine MRI."""
    spine_surgeon = "spine_surgeon"
    """An orthopaedic or neurosurgical spine surgeon."""
    rheumatologist = "rheumatologist"
    """A rheumatologist."""
    other = "other"
    """Any other background."""


class Blinding(enum.Enum):
    """What raters do not see while reading (GRRAS item 6)."""

    patient_identity = "patient_identity"
    """Name, hospital id, pseudonym and study identifiers: a case shows a random label only."""
    clinical_data = "clinical_data"
    """Symptoms, screening answers, eligibility and trial allocation."""
    study_date = "study_date"
    """The date of the MRI and the other studies of the patient."""
    other_raters = "other_raters"
    """The other raters' readings."""
    own_earlier_read = "own_earlier_read"
    """On read 2, the rater's own read 1 (and its case label: read 2 has new labels)."""
    case_mix = "case_mix"
    """How many cases with changes the study holds."""
    study_aim = "study_aim"
    """The hypothesis or purpose of the study."""


ENFORCED_BLINDING: tuple[Blinding, ...] = (
    Blinding.patient_identity,
    Blinding.clinical_data,
    Blinding.study_date,
    Blinding.other_raters,
    Blinding.own_earlier_read,
)
"""What the service itself keeps from raters: every study records these, whatever the researcher lists."""


class OrderScheme(enum.Enum):
    """How each rater's case order was derived from the study's seed (docs/agreement.md#raw-reads)."""

    sha256 = "sha256"
    """The read's labels sorted by the hex SHA-256 of ``"<seed>:<rater pseudonym>:<read>:<label>"``:
    re-derivable from the exported reads with any SHA-256 function."""
    record_shuffle = "record-shuffle"
    """Studies set up before the order was exported: Python's ``random.Random`` shuffle keyed by the
    rater's internal record id. The stored order stands but cannot be re-derived from an export."""


class ReliabilityStudy(SQLModel, table=True):
    """A reliability study set up by a researcher."""

    __tablename__ = "reliability_studies"

    id: str = Field(default_factory=new_id, primary_key=True)
    name: str = Field(max_length=200)
    reads_per_rater: int = 1
    washout_days: int = 0
    seed: int
    """Seed of the raters' random orders (each rater's order is derived from it and stored)."""
    created_by: str = Field(foreign_key="users.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    protocol: str = Field(
        default=DEFAULT_PROTOCOL,
        sa_column=Column(String(40), nullable=False, server_default=DEFAULT_PROTOCOL),
    )
    """The grading protocol every read of the study is validated against, and whose variables are analysed."""
    sampling: str | None = Field(default=None, max_length=20)
    """How the cases were chosen (:class:`Sampling`); None on studies set up before it was recorded."""
    sampling_note: str | None = Field(default=None, max_length=1000)
    """The researcher's description of the sample (source, period, inclusion)."""
    blinded_to: list[str] = Field(default_factory=list, sa_type=JSON)
    """What the raters were blinded to (:class:`Blinding` values), the enforced ones included."""
    order_scheme: str = Field(
        default=OrderScheme.sha256.value,
        sa_column=Column(String(20), nullable=False, server_default=OrderScheme.record_shuffle.value),
    )
    """How the raters' orders derive from ``seed`` (:class:`OrderScheme`)."""


class ReliabilityCase(SQLModel, table=True):
    """One registry study inside a reliability study, known to raters only by its blinded label."""

    __tablename__ = "reliability_cases"
    __table_args__ = (UniqueConstraint("reliability_study_id", "study_id"),)

    id: str = Field(default_factory=new_id, primary_key=True)
    reliability_study_id: str = Field(foreign_key="reliability_studies.id", index=True)
    study_id: str = Field(foreign_key="studies.id")
    label: str = Field(max_length=20, unique=True)
    """The blinded case id shown to raters on read 1: random, unrelated to the study or patient; it
    also names the case in the report and the exports."""
    read2_label: str | None = Field(default=None, max_length=20, unique=True)
    """The label shown on read 2, unrelated to the read-1 label; None on one-read studies and on studies
    set up before read 2 had its own labels (read 2 then shows ``label``)."""

    def label_of(self, read: int) -> str:
        """The label the rater sees on ``read``."""
        return self.read2_label if read == 2 and self.read2_label is not None else self.label


class ReliabilityRater(SQLModel, table=True):
    """A rater taking part in a reliability study."""

    __tablename__ = "reliability_raters"
    __table_args__ = (UniqueConstraint("reliability_study_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    reliability_study_id: str = Field(foreign_key="reliability_studies.id", index=True)
    user_id: str = Field(foreign_key="users.id", index=True)
    role: str | None = Field(default=None, max_length=30)
    """The rater's profession (:class:`RaterRole`); None when not recorded."""
    experience_years: float | None = None
    """Years of experience reading spine MRI at set-up; None when not recorded."""


class WorklistItem(SQLModel, table=True):
    """One read of one case by one rater, at its recorded position; the grading once it is done."""

    __tablename__ = "reliability_worklist_items"
    __table_args__ = (
        UniqueConstraint("reliability_study_id", "rater_id", "read", "case_id"),
        UniqueConstraint("reliability_study_id", "rater_id", "read", "position"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reliability_study_id: str = Field(foreign_key="reliability_studies.id", index=True)
    rater_id: str = Field(foreign_key="users.id", index=True)
    read: int
    case_id: str = Field(foreign_key="reliability_cases.id")
    position: int
    grading_id: str | None = Field(default=None, foreign_key="gradings.id", unique=True)
    completed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    series_viewed: str | None = Field(default=None, max_length=20)
    """The fluid-sensitive series the rater looked at for this read (:class:`SeriesViewed`), as the
    workstation reported it; None when not reported."""


class SeriesViewed(enum.Enum):
    """The fluid-sensitive series a rater looked at for a read, beside T1 (GRRAS item 7)."""

    t2 = "T2"
    """T2 only."""
    stir = "STIR"
    """STIR only (it replaced T2 for the whole read)."""
    both = "T2+STIR"
    """Both T2 and STIR."""
