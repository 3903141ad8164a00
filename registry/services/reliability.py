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
import itertools
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from grading.agreement import AgreementReport, RatingRecord, build_report
from grading.agreement.continuous import ContinuousComparison, compare_measurements
from grading.agreement.nordic_variables import nordic_records, not_assessable_counts, protocol_specs
from grading.nordic import StudyGrading
from grading.protocols import get_protocol
from registry.errors import AlreadyExists, Forbidden, InvalidInput, NotFound
from registry.models import (
    Grading,
    GradingKind,
    GradingVersion,
    ReliabilityCase,
    ReliabilityRater,
    ReliabilityStudy,
    Role,
    Series,
    Study,
    User,
    WorklistItem,
)
from registry.models.base import utcnow
from registry.repositories import gradings as gradings_repo
from registry.repositories import reliability as reliability_repo
from registry.repositories import studies as studies_repo
from registry.repositories import users as users_repo
from registry.services import audit
from registry.services import gradings as gradings_service
from registry.services.gradings import NewGrading
from registry.services.studies import stir_to_show

MAX_WASHOUT_DAYS = 3650
POOLED = "all raters"
"""The rater name of the pooled intra-rater comparison (read 1 vs read 2 over every rater's cases)."""


class ReadStatus(enum.StrEnum):
    """Where a rater stands in a study."""

    OPEN = "open"
    """The current read is open: its cases are on the worklist."""
    WASHOUT = "washout"
    """Read 1 is done and read 2 opens after the washout (``opens_at``)."""
    COMPLETE = "complete"
    """Every read is done."""


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
    return CaseView(case.label, item.read, item.position, slices, endplates, protocol.protocol)


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


def _new_label(session: Session) -> str:
    while True:
        label = f"C-{secrets.token_hex(4).upper()}"
        if not reliability_repo.label_exists(session, label):
            return label


def rater_order(seed: int, rater_id: str, read: int, labels: Sequence[str]) -> list[str]:
    """The rater's order of the cases for one read: a shuffle seeded by study seed, rater and read."""
    order = sorted(labels)
    random.Random(f"{seed}:{rater_id}:{read}").shuffle(order)
    return order


def create_study(
    session: Session,
    actor: User,
    name: str,
    study_ids: Sequence[str],
    rater_names: Sequence[str],
    reads_per_rater: int,
    washout_days: int,
    seed: int | None = None,
    protocol: str | None = None,
) -> ReliabilityStudyView:
    """Set up a reliability study and record every rater's worklist (cases in their own seeded order).

    ``protocol`` is the grading protocol of every read (``None``: the default, type and size).
    """
    chosen = get_protocol(protocol)
    name = name.strip()
    if not name:
        raise InvalidInput("name: a reliability study needs a name")
    if reads_per_rater not in (1, 2):
        raise InvalidInput(f"reads_per_rater {reads_per_rater!r} is not allowed; allowed: 1, 2")
    if not 0 <= washout_days <= MAX_WASHOUT_DAYS:
        raise InvalidInput(f"washout_days {washout_days!r} is out of range; allowed: 0 to {MAX_WASHOUT_DAYS}")
    if len(set(study_ids)) != len(study_ids) or len(study_ids) < 2:
        raise InvalidInput(f"study_ids: give at least 2 distinct registry studies, got {list(study_ids)!r}")
    for study_id in study_ids:
        if session.get(Study, study_id) is None:
            raise InvalidInput(f"study_ids: study {study_id!r} does not exist")
    if len(set(rater_names)) != len(rater_names) or not rater_names:
        raise InvalidInput(f"raters: give distinct rater names, got {list(rater_names)!r}")
    if len(rater_names) < 2 and reads_per_rater < 2:
        raise InvalidInput("raters: one rater with one read measures nothing; give 2+ raters or reads_per_rater 2")
    raters: list[User] = []
    for rater_name in rater_names:
        user = users_repo.user_by_name(session, rater_name)
        if user is None:
            raise InvalidInput(f"raters: user {rater_name!r} does not exist")
        if user.role != Role.radiologist:
            raise InvalidInput(f"raters: user {rater_name!r} has role {str(user.role)!r}; raters must be radiologists")
        raters.append(user)
    if seed is not None and not 0 <= seed < 2**31:
        raise InvalidInput(f"seed {seed!r} is out of range; allowed: 0 to {2**31 - 1}")
    study = ReliabilityStudy(
        name=name,
        reads_per_rater=reads_per_rater,
        washout_days=washout_days,
        seed=secrets.randbelow(2**31) if seed is None else seed,
        created_by=actor.id,
        protocol=chosen.id,
    )
    session.add(study)
    cases = [
        ReliabilityCase(reliability_study_id=study.id, study_id=sid, label=_new_label(session)) for sid in study_ids
    ]
    session.add_all(cases)
    by_label = {c.label: c for c in cases}
    for user in raters:
        session.add(ReliabilityRater(reliability_study_id=study.id, user_id=user.id))
        for read in range(1, reads_per_rater + 1):
            for position, label in enumerate(rater_order(study.seed, user.id, read, list(by_label)), start=1):
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
        reads_per_rater=reads_per_rater,
        washout_days=washout_days,
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
    labels = {c.id: c.label for c in reliability_repo.cases_of(session, study.id)}
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
    case = reliability_repo.case_by_label(session, study.id, label)
    item = None if case is None else next((i for i in items if i.case_id == case.id and i.read == state.read), None)
    if case is None or item is None:
        raise NotFound(f"case {label!r} is not on your worklist of reliability study {study_id}")
    return study, case, item


def case_view(session: Session, rater: User, study_id: str, label: str, now: dt.datetime | None = None) -> CaseView:
    """One case of the rater's current read, with the rater's own grading of this read if made."""
    _, case, item = _open_item(session, rater, study_id, label, now or utcnow())
    endplates = None
    if item.grading_id is not None:
        grading = session.get(Grading, item.grading_id)
        assert grading is not None
        version = gradings_repo.version_of(session, grading.id, grading.current_version)
        endplates = None if version is None else version.endplates
    return _case_view(session, case, item, endplates)


def submit_read(
    session: Session, rater: User, study_id: str, label: str, endplates: Any, now: dt.datetime | None = None
) -> CaseView:
    """Record the rater's grading of a case for the current read (once; a second one is refused)."""
    now = now or utcnow()
    study, case, item = _open_item(session, rater, study_id, label, now)
    if item.grading_id is not None:
        raise AlreadyExists(f"you have already graded case {label} in read {item.read}; reliability reads are final")
    value = get_protocol(study.protocol).parse(endplates)
    refused = gradings_service.needs_prior(session, NewGrading(rater, case.study_id, value, protocol=study.protocol))
    if refused is not None:
        raise refused
    grading = Grading(study_id=case.study_id, rater_id=rater.id, kind=GradingKind.reliability)
    session.add(grading)
    session.add(
        GradingVersion(
            grading_id=grading.id,
            version=1,
            endplates=value.to_mapping(),
            author_id=rater.id,
            at=now,
            protocol=study.protocol,
        )
    )
    session.flush()
    assert item.id is not None
    if not reliability_repo.attach_grading(session, item.id, grading.id, now):
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
    return _case_view(session, case, item, value.to_mapping())


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
        }


def build_study_report(
    session: Session, study_id: str, *, per_endplate: bool = True, n_boot: int = 1000, seed: int = 0
) -> StudyReport:
    """The agreement report of a study from every completed read (latest version of each grading).

    Variables: presence, type, size and beyond-endplate pooled and per endplate, the study protocol's
    other variables (each at its level of measurement), and each trial's MRI criterion per case; the
    bootstrap resamples patients. Not-assessable endplates are missing ratings, counted per rater.
    """
    study = _study(session, study_id)
    protocol = get_protocol(study.protocol)
    cases = {c.id: c for c in reliability_repo.cases_of(session, study.id)}
    patients = {s.id: s.patient_id for s in (session.get(Study, c.study_id) for c in cases.values()) if s}
    items = [i for i in reliability_repo.items_of(session, study.id) if i.grading_id is not None]
    users = users_repo.users_by_ids(session, {i.rater_id for i in items})
    inter: list[RatingRecord] = []
    intra: list[RatingRecord] = []
    pairs: list[tuple[str, str]] = []
    graded: list[tuple[str, StudyGrading]] = []
    extension: dict[str, dict[tuple[str, str], float | None]] = {}
    for item in items:
        assert item.grading_id is not None
        grading = session.get(Grading, item.grading_id)
        assert grading is not None
        version = gradings_repo.version_of(session, grading.id, grading.current_version)
        assert version is not None
        value = protocol.parse(version.endplates)
        case = cases[item.case_id]
        rater = users[item.rater_id].name
        cluster = patients[case.study_id]
        graded.append((rater if study.reads_per_rater == 1 else f"{rater} read {item.read}", value))
        for g in value.endplates:
            key = f"{rater} read {item.read}"
            extension.setdefault(key, {})[(case.label, g.endplate.value)] = g.extension_pct
        if item.read == 1:
            inter += nordic_records(
                case.label, rater, value, cluster=cluster, per_endplate=per_endplate, protocol=protocol
            )
        if study.reads_per_rater == 2:
            intra += nordic_records(
                case.label,
                f"{rater} read {item.read}",
                value,
                cluster=cluster,
                per_endplate=per_endplate,
                protocol=protocol,
            )
            # pooled over raters: each (rater, case) is a unit of its own, still clustered by patient
            intra += nordic_records(
                f"{rater}|{case.label}", f"{POOLED} read {item.read}", value, cluster=cluster, per_endplate=per_endplate
            )
            pair = (f"{rater} read 1", f"{rater} read 2")
            if pair not in pairs:
                pairs.append(pair)
    specs = protocol_specs(protocol, per_endplate=per_endplate)
    inter_report = build_report(inter, specs, n_boot=n_boot, seed=seed)
    pooled = [(f"{POOLED} read 1", f"{POOLED} read 2")] if pairs else []
    intra_report = (
        build_report(intra, specs, pairs=sorted(pairs) + pooled, include_all=False, n_boot=n_boot, seed=seed)
        if study.reads_per_rater == 2
        else None
    )
    continuous = _extension_comparisons(extension, inter_report.variable("presence").raters if inter else (), pairs)
    return StudyReport(
        study,
        inter_report,
        intra_report,
        len(cases),
        len(items),
        dict(sorted(not_assessable_counts(graded).items())),
        continuous,
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
