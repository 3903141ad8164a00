"""Reliability studies (docs/agreement.md#reliability-studies): set-up, blinded worklists, reads and the report.

A researcher picks the cases (registry studies), the raters (radiologists), the reads per rater (1 or
2) and the washout. Every rater gets each read of the cases in a random order of their own, derived
from the study's recorded seed and stored position by position. Raters see only blinded case labels
and the series to read: no patient identifiers, no clinical or screening data, no other rater's
grading and, on read 2, not their own read 1. Read 2 opens ``washout_days`` after the rater finished
read 1. A read is an ordinary grading of kind ``reliability``; it never counts as the clinical grading.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import itertools
import secrets
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from grading.agreement import AgreementReport, RatingColumns, start_report
from grading.agreement.continuous import ContinuousComparison, compare_measurements
from grading.agreement.nordic_variables import add_nordic_ratings_to, not_assessable_counts, protocol_specs
from grading.agreement.summary import METHODS, SummaryTable, summary_table
from grading.nordic import StudyGrading
from grading.protocols import get_protocol
from registry.errors import AlreadyExists, Forbidden, InvalidInput, NotFound
from registry.exports.raters import rater_pseudonym
from registry.models import (
    ENFORCED_BLINDING,
    Blinding,
    GradingKind,
    OrderScheme,
    RaterRole,
    ReliabilityCase,
    ReliabilityRater,
    ReliabilityStudy,
    Role,
    Sampling,
    Series,
    SeriesViewed,
    Study,
    User,
    WorklistItem,
)
from registry.models.base import utcnow
from registry.report_processes import computed, ratings_in, report_processes
from registry.repositories import gradings as gradings_repo
from registry.repositories import reliability as reliability_repo
from registry.repositories import studies as studies_repo
from registry.repositories import users as users_repo
from registry.services import audit
from registry.services import gradings as gradings_service
from registry.services.gradings import NewGrading
from registry.services.studies import stir_to_show

MAX_WASHOUT_DAYS = 3650
MAX_EXPERIENCE_YEARS = 70
POOLED = "all raters"
"""The rater name of the pooled intra-rater comparison (read 1 vs read 2 over every rater's cases)."""
POOLED_PAIR = (f"{POOLED} read 1", f"{POOLED} read 2")


class ReadStatus(enum.StrEnum):
    """Where a rater stands in a study."""

    OPEN = "open"
    """The current read is open: its cases are on the worklist."""
    WASHOUT = "washout"
    """Read 1 is done and read 2 opens after the washout (``opens_at``)."""
    COMPLETE = "complete"
    """Every read is done."""


@dataclass(frozen=True)
class RaterSetup:
    """A rater of a new study: the user name and, for the report (GRRAS), profession and experience."""

    name: str
    role: RaterRole | None = None
    experience_years: float | None = None


@dataclass(frozen=True)
class StudySetup:
    """What a researcher decides when setting up a reliability study (docs/agreement.md#reliability-studies)."""

    name: str
    study_ids: tuple[str, ...]
    raters: tuple[RaterSetup, ...]
    reads_per_rater: int = 1
    washout_days: int = 0
    seed: int | None = None
    protocol: str | None = None
    """The grading protocol of every read (``None``: the default, type and size)."""
    sampling: Sampling | None = None
    sampling_note: str | None = None
    blinded_to: tuple[Blinding, ...] = ()
    """What raters are blinded to beyond what the service enforces (:data:`ENFORCED_BLINDING`)."""


@dataclass(frozen=True)
class ReadProgress:
    """One rater's progress on one read."""

    rater: str
    read: int
    done: int
    total: int
    opens_at: dt.datetime | None


@dataclass(frozen=True)
class RaterState:
    """The read a rater works on now: its number, whether it is open, and when read 2 opens."""

    read: int | None
    status: ReadStatus
    opens_at: dt.datetime | None


@dataclass(frozen=True)
class ReliabilityStudyView:
    """A reliability study as its researcher sees it."""

    study: ReliabilityStudy
    created_by: str
    cases: list[ReliabilityCase]
    raters: list[User]
    progress: list[ReadProgress]


@dataclass(frozen=True)
class WorklistEntry:
    """One case of a rater's current read, blinded."""

    label: str
    position: int
    done: bool


@dataclass(frozen=True)
class Worklist:
    """A rater's view of a study: the current read and its blinded cases in the rater's own order."""

    study: ReliabilityStudy
    state: RaterState
    entries: list[WorklistEntry]


IMAGE_ROLES = ("t1", "t2", "stir")
"""The blinded names of a case's image stacks: the grading T1 and T2 series and a sagittal STIR."""


@dataclass(frozen=True)
class CaseView:
    """One blinded case of the rater's current read: what to read, and the rater's grading of this read.

    ``slices`` counts the slices of each image role present (``t1``, ``t2``, ``stir``); the series
    themselves are reached only through the case (:func:`case_series`), never by their registry ids,
    so that nothing the rater sees links the case to a registry study.
    """

    label: str
    read: int
    position: int
    slices: dict[str, int]
    endplates: dict[str, Any] | None
    protocol: str
    """The grading protocol of the study: which variables the rater grades."""


def _image_series(session: Session, study: Study) -> dict[str, Series]:
    """The series behind each image role of a study."""
    series = studies_repo.series_of_studies(session, [study.id])[study.id]
    by_id = {s.id: s for s in series}
    roles: dict[str, Series] = {}
    for role, series_id in (("t1", study.t1_series_id), ("t2", study.t2_series_id)):
        if series_id is not None and series_id in by_id:
            roles[role] = by_id[series_id]
    stir = stir_to_show(series)
    if stir is not None:
        roles["stir"] = stir
    return roles


def _case_view(
    session: Session, case: ReliabilityCase, item: WorklistItem, endplates: dict[str, Any] | None
) -> CaseView:
    study = session.get(Study, case.study_id)
    assert study is not None
    slices = {role: s.slices for role, s in _image_series(session, study).items()}
    protocol = session.get(ReliabilityStudy, case.reliability_study_id)
    assert protocol is not None
    return CaseView(case.label_of(item.read), item.read, item.position, slices, endplates, protocol.protocol)


def case_series(session: Session, rater: User, study_id: str, label: str, role: str) -> str:
    """The registry series behind image ``role`` of a case on the rater's current read (for rendering)."""
    if role not in IMAGE_ROLES:
        raise InvalidInput(f"image {role!r} is unknown; allowed: {', '.join(IMAGE_ROLES)}")
    _, case, _ = _open_item(session, rater, study_id, label, utcnow())
    study = session.get(Study, case.study_id)
    assert study is not None
    series = _image_series(session, study).get(role)
    if series is None:
        raise NotFound(f"case {label} has no {role} images")
    return series.id


def _new_label(session: Session, taken: set[str]) -> str:
    while True:
        label = f"C-{secrets.token_hex(4).upper()}"
        if label not in taken and not reliability_repo.label_exists(session, label):
            taken.add(label)
            return label


def order_key(seed: int, rater: str, read: int, label: str) -> str:
    """The sort key of case ``label`` in the order of ``rater`` (their pseudonym) on ``read``:
    the hex SHA-256 of ``"<seed>:<rater>:<read>:<label>"`` (docs/agreement.md#raw-reads)."""
    return hashlib.sha256(f"{seed}:{rater}:{read}:{label}".encode()).hexdigest()


def rater_order(seed: int, rater: str, read: int, labels: Sequence[str]) -> list[str]:
    """The rater's order of a read's case labels: sorted by :func:`order_key`, a uniform random
    permutation that anyone can re-derive from the study seed, the rater pseudonym and the labels."""
    return sorted(labels, key=lambda label: order_key(seed, rater, read, label))


def _check_setup(session: Session, setup: StudySetup) -> list[User]:
    """Validate a set-up; the raters' users."""
    if not setup.name.strip():
        raise InvalidInput("name: a reliability study needs a name")
    if setup.reads_per_rater not in (1, 2):
        raise InvalidInput(f"reads_per_rater {setup.reads_per_rater!r} is not allowed; allowed: 1, 2")
    if not 0 <= setup.washout_days <= MAX_WASHOUT_DAYS:
        raise InvalidInput(f"washout_days {setup.washout_days!r} is out of range; allowed: 0 to {MAX_WASHOUT_DAYS}")
    study_ids = setup.study_ids
    if len(set(study_ids)) != len(study_ids) or len(study_ids) < 2:
        raise InvalidInput(f"study_ids: give at least 2 distinct registry studies, got {list(study_ids)!r}")
    for study_id in study_ids:
        if session.get(Study, study_id) is None:
            raise InvalidInput(f"study_ids: study {study_id!r} does not exist")
    names = [r.name for r in setup.raters]
    if len(set(names)) != len(names) or not names:
        raise InvalidInput(f"raters: give distinct rater names, got {names!r}")
    if len(names) < 2 and setup.reads_per_rater < 2:
        raise InvalidInput("raters: one rater with one read measures nothing; give 2+ raters or reads_per_rater 2")
    raters: list[User] = []
    for rater in setup.raters:
        years = rater.experience_years
        if years is not None and not 0 <= years <= MAX_EXPERIENCE_YEARS:
            raise InvalidInput(
                f"raters: experience_years {years!r} of {rater.name!r} is out of range; "
                f"allowed: 0 to {MAX_EXPERIENCE_YEARS}"
            )
        user = users_repo.user_by_name(session, rater.name)
        if user is None:
            raise InvalidInput(f"raters: user {rater.name!r} does not exist")
        if user.role != Role.radiologist:
            raise InvalidInput(f"raters: user {rater.name!r} has role {str(user.role)!r}; raters must be radiologists")
        raters.append(user)
    if setup.seed is not None and not 0 <= setup.seed < 2**31:
        raise InvalidInput(f"seed {setup.seed!r} is out of range; allowed: 0 to {2**31 - 1}")
    return raters


def create_study(session: Session, actor: User, setup: StudySetup) -> ReliabilityStudyView:
    """Set up a reliability study and record every rater's worklist (cases in their own seeded order).

    Each case gets a random read-1 label and, with two reads, a different random read-2 label; each
    rater's order of each read is :func:`rater_order` of that read's labels.
    """
    chosen = get_protocol(setup.protocol)
    raters = _check_setup(session, setup)
    blinded = [b.value for b in ENFORCED_BLINDING]
    blinded += [b.value for b in setup.blinded_to if b.value not in blinded]
    study = ReliabilityStudy(
        name=setup.name.strip(),
        reads_per_rater=setup.reads_per_rater,
        washout_days=setup.washout_days,
        seed=secrets.randbelow(2**31) if setup.seed is None else setup.seed,
        created_by=actor.id,
        protocol=chosen.id,
        sampling=None if setup.sampling is None else setup.sampling.value,
        sampling_note=(setup.sampling_note or "").strip() or None,
        blinded_to=blinded,
        order_scheme=OrderScheme.sha256.value,
    )
    session.add(study)
    taken: set[str] = set()
    cases = [
        ReliabilityCase(
            reliability_study_id=study.id,
            study_id=sid,
            label=_new_label(session, taken),
            read2_label=_new_label(session, taken) if setup.reads_per_rater == 2 else None,
        )
        for sid in setup.study_ids
    ]
    session.add_all(cases)
    for user, rater in zip(raters, setup.raters, strict=True):
        session.add(
            ReliabilityRater(
                reliability_study_id=study.id,
                user_id=user.id,
                role=None if rater.role is None else rater.role.value,
                experience_years=rater.experience_years,
            )
        )
        for read in range(1, setup.reads_per_rater + 1):
            by_label = {c.label_of(read): c for c in cases}
            order = rater_order(study.seed, rater_pseudonym(user.id), read, list(by_label))
            for position, label in enumerate(order, start=1):
                session.add(
                    WorklistItem(
                        reliability_study_id=study.id,
                        rater_id=user.id,
                        read=read,
                        case_id=by_label[label].id,
                        position=position,
                    )
                )
    audit.record(
        session,
        actor,
        "reliability.create",
        "reliability_study",
        study.id,
        cases=len(cases),
        raters=[u.name for u in raters],
        reads_per_rater=setup.reads_per_rater,
        washout_days=setup.washout_days,
        seed=study.seed,
    )
    session.commit()
    return study_view(session, study.id)


def _study(session: Session, study_id: str) -> ReliabilityStudy:
    study = session.get(ReliabilityStudy, study_id)
    if study is None:
        raise NotFound(f"reliability study {study_id!r} does not exist")
    return study


def rater_state(study: ReliabilityStudy, items: Sequence[WorklistItem], now: dt.datetime) -> RaterState:
    """The read a rater is on: read 1 until it is done, then read 2 once the washout has passed."""
    first = [i for i in items if i.read == 1]
    if any(i.grading_id is None for i in first):
        return RaterState(1, ReadStatus.OPEN, None)
    if study.reads_per_rater == 1:
        return RaterState(None, ReadStatus.COMPLETE, None)
    finished = max((i.completed_at for i in first if i.completed_at is not None), default=now)
    opens_at = finished + dt.timedelta(days=study.washout_days)
    if now < opens_at:
        return RaterState(2, ReadStatus.WASHOUT, opens_at)
    if any(i.grading_id is None for i in items if i.read == 2):
        return RaterState(2, ReadStatus.OPEN, opens_at)
    return RaterState(None, ReadStatus.COMPLETE, opens_at)


def study_view(session: Session, study_id: str, now: dt.datetime | None = None) -> ReliabilityStudyView:
    """The study with its cases, raters and each rater's progress per read."""
    now = now or utcnow()
    study = _study(session, study_id)
    rater_ids = reliability_repo.rater_ids(session, study.id)
    users = users_repo.users_by_ids(session, {*rater_ids, study.created_by})
    items = reliability_repo.items_of(session, study.id)
    progress: list[ReadProgress] = []
    for rater_id in rater_ids:
        own = [i for i in items if i.rater_id == rater_id]
        state = rater_state(study, own, now)
        for read in range(1, study.reads_per_rater + 1):
            of_read = [i for i in own if i.read == read]
            progress.append(
                ReadProgress(
                    rater=users[rater_id].name,
                    read=read,
                    done=sum(i.grading_id is not None for i in of_read),
                    total=len(of_read),
                    opens_at=state.opens_at if read == 2 else None,
                )
            )
    cases = sorted(reliability_repo.cases_of(session, study.id), key=lambda c: c.label)
    return ReliabilityStudyView(study, users[study.created_by].name, cases, [users[r] for r in rater_ids], progress)


def list_studies(session: Session) -> list[ReliabilityStudyView]:
    """Every reliability study with its progress."""
    return [study_view(session, s.id) for s in reliability_repo.list_studies(session)]


def _rater_items(session: Session, rater: User, study_id: str) -> tuple[ReliabilityStudy, list[WorklistItem]]:
    """The study and the rater's own items; a study the user does not rate is not found."""
    study = session.get(ReliabilityStudy, study_id)
    items = [] if study is None else reliability_repo.items_of(session, study.id, rater.id)
    if study is None or not items:
        raise NotFound(f"reliability study {study_id!r} does not exist or you are not one of its raters")
    return study, items


def studies_for_rater(session: Session, rater: User) -> list[ReliabilityStudy]:
    """The studies a rater takes part in."""
    return reliability_repo.studies_rated_by(session, rater.id)


def worklist(session: Session, rater: User, study_id: str, now: dt.datetime | None = None) -> Worklist:
    """The rater's current read: blinded case labels in the rater's own recorded order."""
    study, items = _rater_items(session, rater, study_id)
    state = rater_state(study, items, now or utcnow())
    if state.status != ReadStatus.OPEN:
        return Worklist(study, state, [])
    labels = {c.id: c.label_of(state.read or 1) for c in reliability_repo.cases_of(session, study.id)}
    entries = [
        WorklistEntry(labels[i.case_id], i.position, i.grading_id is not None) for i in items if i.read == state.read
    ]
    return Worklist(study, state, entries)


def _open_item(
    session: Session, rater: User, study_id: str, label: str, now: dt.datetime
) -> tuple[ReliabilityStudy, ReliabilityCase, WorklistItem]:
    study, items = _rater_items(session, rater, study_id)
    state = rater_state(study, items, now)
    if state.status == ReadStatus.WASHOUT:
        assert state.opens_at is not None
        raise Forbidden(f"read 2 of reliability study {study_id} opens at {state.opens_at.isoformat()} (washout)")
    if state.status == ReadStatus.COMPLETE:
        raise Forbidden(f"you have finished every read of reliability study {study_id}")
    assert state.read is not None
    case = reliability_repo.case_by_label(session, study.id, label, state.read)
    item = None if case is None else next((i for i in items if i.case_id == case.id and i.read == state.read), None)
    if case is None or item is None:
        raise NotFound(f"case {label!r} is not on your worklist of reliability study {study_id}")
    return study, case, item


def case_view(session: Session, rater: User, study_id: str, label: str, now: dt.datetime | None = None) -> CaseView:
    """One case of the rater's current read, with the rater's own grading of this read if made."""
    _, case, item = _open_item(session, rater, study_id, label, now or utcnow())
    endplates = None
    if item.grading_id is not None:
        version = gradings_repo.current_versions(session, [item.grading_id]).get(item.grading_id)
        endplates = None if version is None else version.endplates
    return _case_view(session, case, item, endplates)


def submit_read(
    session: Session,
    rater: User,
    study_id: str,
    label: str,
    endplates: Any,
    now: dt.datetime | None = None,
    series_viewed: SeriesViewed | None = None,
) -> CaseView:
    """Record the rater's grading of a case for the current read (once; a second one is refused), with
    the fluid-sensitive series the rater looked at when the workstation reports it."""
    now = now or utcnow()
    study, case, item = _open_item(session, rater, study_id, label, now)
    if item.grading_id is not None:
        raise AlreadyExists(f"you have already graded case {label} in read {item.read}; reliability reads are final")
    value = get_protocol(study.protocol).parse(endplates)
    read = NewGrading(rater, case.study_id, value, GradingKind.reliability, study.protocol, at=now)
    (grading,) = gradings_service.write_first_versions(session, [read])
    if isinstance(grading, Exception):
        raise grading
    assert item.id is not None
    viewed = None if series_viewed is None else series_viewed.value
    if not reliability_repo.attach_grading(session, item.id, grading.id, now, viewed):
        session.rollback()
        raise AlreadyExists(f"you have already graded case {label} in read {item.read}; reliability reads are final")
    audit.record(
        session,
        rater,
        "reliability.read",
        "reliability_study",
        study.id,
        case=label,
        read=item.read,
        grading=grading.id,
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise AlreadyExists(f"you have already graded case {label} in read {item.read}") from None
    return _case_view(session, case, item, grading.endplates)


# --- the report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudyReport:
    """Inter-rater agreement (read 1 of every rater) and intra-rater agreement (read 1 vs read 2)."""

    study: ReliabilityStudy
    inter_rater: AgreementReport
    intra_rater: AgreementReport | None
    cases: int
    complete_reads: int
    not_assessable: dict[str, int] = dataclasses.field(default_factory=dict)
    """How many endplates each rater (each rater's read, with two reads) marked not assessable: they
    are missing ratings in every statistic."""
    continuous: tuple[tuple[str, ContinuousComparison], ...] = ()
    """``(analysis, comparison)`` of ``extension_pct`` on the endplates where both reads give it."""
    summary: SummaryTable | None = None
    """The paper-shaped table: variable × (intra, inter), range and pooled value (docs/agreement.md#summary-table)."""
    grras: Grras | None = None
    """Design and conduct as GRRAS asks them to be reported."""

    def to_mapping(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "study": {
                "id": self.study.id,
                "name": self.study.name,
                "reads_per_rater": self.study.reads_per_rater,
                "washout_days": self.study.washout_days,
                "protocol": self.study.protocol,
            },
            "cases": self.cases,
            "complete_reads": self.complete_reads,
            "not_assessable": self.not_assessable,
            "inter_rater": self.inter_rater.to_mapping(),
            "intra_rater": None if self.intra_rater is None else self.intra_rater.to_mapping(),
            "continuous": [{"analysis": analysis, **c.to_mapping()} for analysis, c in self.continuous],
            "summary": None if self.summary is None else self.summary.to_mapping(),
            "grras": None if self.grras is None else self.grras.to_mapping(),
        }


def build_study_report(
    session: Session,
    study_id: str,
    *,
    per_endplate: bool = True,
    n_boot: int = 1000,
    seed: int = 0,
    processes: int = 0,
) -> StudyReport:
    """The agreement report of a study from every completed read (latest version of each grading).

    Variables: presence, type, size and beyond-endplate pooled and per endplate, the study protocol's
    other variables (each at its level of measurement), and each trial's MRI criterion per case; the
    bootstrap resamples patients. Not-assessable endplates are missing ratings, counted per rater.
    A large report is computed in ``processes`` processes (0: one per core; registry/report_processes.py).
    """
    study = _study(session, study_id)
    protocol = get_protocol(study.protocol)
    cases = {c.id: c for c in reliability_repo.cases_of(session, study.id)}
    patients = {s.id: s.patient_id for s in (session.get(Study, c.study_id) for c in cases.values()) if s}
    items = [i for i in reliability_repo.items_of(session, study.id) if i.grading_id is not None]
    users = users_repo.users_by_ids(session, {i.rater_id for i in items})
    inter: dict[str, RatingColumns] = {}
    intra: dict[str, RatingColumns] = {}
    pairs: list[tuple[str, str]] = []
    graded: list[tuple[str, StudyGrading]] = []
    extension: dict[str, dict[tuple[str, str], float | None]] = {}
    versions = gradings_repo.current_versions(session, [i.grading_id for i in items if i.grading_id is not None])
    for item in items:
        assert item.grading_id is not None
        value = protocol.parse(versions[item.grading_id].endplates)
        case = cases[item.case_id]
        rater = users[item.rater_id].name
        cluster = patients[case.study_id]
        graded.append((rater if study.reads_per_rater == 1 else f"{rater} read {item.read}", value))
        for g in value.endplates:
            key = f"{rater} read {item.read}"
            extension.setdefault(key, {})[(case.label, g.endplate.value)] = g.extension_pct
        targets = [(inter, case.label, rater)] if item.read == 1 else []
        if study.reads_per_rater == 2:
            # pooled over raters: each (rater, case) is a unit of its own, still clustered by patient
            targets += [
                (intra, case.label, f"{rater} read {item.read}"),
                (intra, f"{rater}|{case.label}", f"{POOLED} read {item.read}"),
            ]
        add_nordic_ratings_to(targets, value, cluster=cluster, per_endplate=per_endplate, protocol=protocol)
        if study.reads_per_rater == 2:
            pair = (f"{rater} read 1", f"{rater} read 2")
            if pair not in pairs:
                pairs.append(pair)
    specs = protocol_specs(protocol, per_endplate=per_endplate)
    pooled = [POOLED_PAIR] if pairs else []

    def build(executor: Executor | None) -> tuple[AgreementReport, AgreementReport | None]:
        # both reports' variables are submitted before either is awaited, so no core waits between them
        inter_pending = start_report(inter, specs, n_boot=n_boot, seed=seed, executor=executor)
        if study.reads_per_rater != 2:
            return inter_pending.result(), None
        wanted = sorted(pairs) + pooled
        intra_pending = start_report(
            intra, specs, pairs=wanted, include_all=False, n_boot=n_boot, seed=seed, executor=executor
        )
        return inter_pending.result(), intra_pending.result()

    inter_report, intra_report = computed(build, report_processes(processes, ratings_in(inter, intra) * n_boot))
    continuous = _extension_comparisons(extension, inter_report.variable("presence").raters if inter else (), pairs)
    return StudyReport(
        study,
        inter_report,
        intra_report,
        len(cases),
        len(items),
        dict(sorted(not_assessable_counts(graded).items())),
        continuous,
        summary_table(inter_report, intra_report, POOLED_PAIR),
        grras(session, study.id),
    )


def _extension_comparisons(
    extension: dict[str, dict[tuple[str, str], float | None]],
    raters: tuple[str, ...],
    intra_pairs: list[tuple[str, str]],
) -> tuple[tuple[str, ContinuousComparison], ...]:
    """ICC and Bland–Altman of ``extension_pct`` for every inter-rater pair (read 1) and every rater's
    read 1 vs read 2, on the endplates both give it (pooled over endplates)."""
    out: list[tuple[str, ContinuousComparison]] = []
    wanted = [("inter-rater", (f"{a} read 1", f"{b} read 1"), (a, b)) for a, b in itertools.combinations(raters, 2)]
    wanted += [("intra-rater", pair, pair) for pair in sorted(intra_pairs)]
    for analysis, (first, second), names in wanted:
        a, b = extension.get(first, {}), extension.get(second, {})
        values = [(a[key], b[key]) for key in a if key in b and a[key] is not None and b[key] is not None]
        out.append((analysis, compare_measurements("extension_pct", names, values)))
    return tuple(out)


# --- GRRAS: what the report states about the study's design and conduct -----------------------

MISSING_READS = (
    "Reads not done are left out (available-case analysis): a pairwise statistic uses the units both of "
    "its reads rated, an all-raters statistic every rating present; a not-assessable endplate is a "
    "missing rating in the same way. Nothing is imputed."
)
"""How missing reads are handled (GRRAS item 11)."""


@dataclass(frozen=True)
class Spread:
    """Minimum, median and maximum of some values, and how many there were."""

    n: int
    min: float | None
    median: float | None
    max: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """The spread of ``values`` (Nones when empty)."""
        if not values:
            return cls(0, None, None, None)
        ordered = sorted(values)
        middle = len(ordered) // 2
        median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
        return cls(len(ordered), ordered[0], median, ordered[-1])

    def to_mapping(self) -> dict[str, Any]:
        """JSON-ready, days rounded to 0.01."""
        rounded = [None if x is None else round(x, 2) for x in (self.min, self.median, self.max)]
        return {"n": self.n, "min": rounded[0], "median": rounded[1], "max": rounded[2]}


@dataclass(frozen=True)
class ReadConduct:
    """One rater's read: planned and done, and the fluid-sensitive series looked at (counts)."""

    read: int
    planned: int
    done: int
    series_viewed: dict[str, int]

    def to_mapping(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "read": self.read,
            "planned": self.planned,
            "done": self.done,
            "missing": self.planned - self.done,
            "series_viewed": self.series_viewed,
        }


@dataclass(frozen=True)
class RaterConduct:
    """A rater as the report describes them: who, and how their reads went."""

    rater: str
    pseudonym: str
    role: str | None
    experience_years: float | None
    reads: tuple[ReadConduct, ...]
    interval_days: Spread
    """Days between the rater's read 1 and read 2 of the same case, over the cases read twice."""

    def to_mapping(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "rater": self.rater,
            "pseudonym": self.pseudonym,
            "role": self.role,
            "experience_years": self.experience_years,
            "reads": [r.to_mapping() for r in self.reads],
            "interval_days": self.interval_days.to_mapping(),
        }


@dataclass(frozen=True)
class Grras:
    """The report's statement of design and conduct, item by item of the Guidelines for Reporting
    Reliability and Agreement Studies (Kottner et al., J Clin Epidemiol 2011;64:96–106)."""

    study: ReliabilityStudy
    cases: int
    patients: int
    raters: tuple[RaterConduct, ...]

    @property
    def missing_reads(self) -> int:
        """Reads planned but not done, over every rater and read."""
        return sum(r.planned - r.done for rater in self.raters for r in rater.reads)

    def to_mapping(self) -> dict[str, Any]:
        """JSON-ready."""
        s = self.study
        enforced = {b.value for b in ENFORCED_BLINDING}
        blinded = list(s.blinded_to or [b.value for b in ENFORCED_BLINDING])
        return {
            "sampling": {"method": s.sampling, "note": s.sampling_note, "cases": self.cases, "patients": self.patients},
            "raters": [r.to_mapping() for r in self.raters],
            "blinded_to": [{"item": b, "enforced_by_service": b in enforced} for b in blinded],
            "reads_per_rater": s.reads_per_rater,
            "washout_days_planned": s.washout_days,
            "read_2_labels": (
                "not applicable: one read per rater"
                if s.reads_per_rater == 1
                else "each case has a read-2 label unrelated to its read-1 label"
                if s.order_scheme == OrderScheme.sha256.value
                else "read 2 showed the read-1 labels (study set up before read-2 labels existed)"
            ),
            "order": {
                "seed": s.seed,
                "scheme": s.order_scheme,
                "derivation": (
                    "each rater's cases of a read sorted by the hex SHA-256 of "
                    "'<seed>:<rater pseudonym>:<read>:<label>'"
                    if s.order_scheme == OrderScheme.sha256.value
                    else "Python random.Random shuffle keyed by the rater's internal record id (not re-derivable "
                    "from an export; the stored order is exported)"
                ),
            },
            "missing_reads": {"count": self.missing_reads, "handling": MISSING_READS},
            "protocol": s.protocol,
            "methods": [m.to_mapping() for m in METHODS],
        }


def grras(session: Session, study_id: str) -> Grras:
    """What the report states about the study's design and conduct (docs/agreement.md#grras)."""
    study = _study(session, study_id)
    cases = reliability_repo.cases_of(session, study.id)
    patients = {s.patient_id for s in (session.get(Study, c.study_id) for c in cases) if s is not None}
    items = reliability_repo.items_of(session, study.id)
    raters = reliability_repo.raters_of(session, study.id)
    users = users_repo.users_by_ids(session, {r.user_id for r in raters})
    conduct: list[RaterConduct] = []
    for rater in raters:
        own = [i for i in items if i.rater_id == rater.user_id]
        reads = []
        for read in range(1, study.reads_per_rater + 1):
            of_read = [i for i in own if i.read == read]
            viewed: dict[str, int] = {v.value: 0 for v in SeriesViewed} | {"not_reported": 0}
            for item in of_read:
                if item.grading_id is not None:
                    viewed[item.series_viewed or "not_reported"] += 1
            reads.append(ReadConduct(read, len(of_read), sum(i.grading_id is not None for i in of_read), viewed))
        done = {(i.case_id, i.read): i.completed_at for i in own if i.completed_at is not None}
        intervals = [
            (done[(case_id, 2)] - first).total_seconds() / 86400
            for (case_id, read), first in done.items()
            if read == 1 and (case_id, 2) in done
        ]
        conduct.append(
            RaterConduct(
                users[rater.user_id].name,
                rater_pseudonym(rater.user_id),
                rater.role,
                rater.experience_years,
                tuple(reads),
                Spread.of(intervals),
            )
        )
    return Grras(study, len(cases), len(patients), tuple(conduct))
