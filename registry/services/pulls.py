"""Pulling what grading needs from a PACS: for each requested patient, find the studies in the date range,
judge their series from the archive's metadata by the rules of ingest (:func:`screen_series` on the
series-level answer, :func:`grading.series.classify_study` image by image when that does not decide)
*before* any pixel data moves, retrieve only the chosen series (the sagittal T1 and T2 that grading uses,
and any gradable sagittal STIR the viewer can show instead of T2), and ingest them (``docs/pacs.md``).

A pull is resumable: images already in the file store are not retrieved again, and running the same
request again (same archive, date range and patient list: the same ``request_key``) continues the pull
that did not finish, skipping the patients it already settled. Progress and per-patient outcomes are kept
in the database (:class:`~registry.models.Pull`, :class:`~registry.models.PullItem`).

Hospital patient ids are used only to query the archive: outcomes, logs and messages name a patient by
its row in the request and, once its images are in, by its pseudonym.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import Engine, Integer, bindparam, func, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from grading.errors import GradingError
from grading.series import (
    MIN_GRADABLE_SLICES,
    InstanceHeader,
    StudyClassification,
    Weighting,
    WeightingReason,
    classify_study,
    classify_weighting,
    plane_from_orientation,
)
from registry.db import session_scope
from registry.errors import InvalidInput, NotFound, RegistryError
from registry.imaging.cohort import PullRequest, StudyFinder
from registry.imaging.errors import ImagingError
from registry.imaging.pacs import (
    Archive,
    ArchiveConfig,
    ArchiveRefused,
    ArchiveStudy,
    ArchiveUnavailable,
    QueryAnswer,
)
from registry.imaging.sources import AcceptedInstance, Rejection, SourceFile, read_sources
from registry.imaging.store import ImageStore
from registry.jobs import run_once
from registry.models import Patient, Pull, PullItem, PullOutcome, PullStatus, User
from registry.models.base import utcnow
from registry.repositories import studies as studies_repo
from registry.services import audit
from registry.services.imaging import ingest_accepted

log = logging.getLogger(__name__)

PATIENTS_AHEAD = 2
"""How many patients a DICOMweb pull finds and retrieves ahead of the one being ingested."""


def open_pull(session: Session, request: PullRequest, actor: User | None) -> tuple[Pull, bool]:
    """The pull of this request that has not finished (to resume), or a new one; and whether it is resumed."""
    unfinished = session.exec(
        select(Pull)
        .where(Pull.request_key == request.key, Pull.status != PullStatus.done)
        .order_by(col(Pull.created_at).desc())
    ).first()
    if unfinished is not None:
        return unfinished, True
    pull = Pull(
        request_key=request.key,
        archive=request.archive[:300],
        since=request.since,
        until=request.until,
        patients_total=len(request.patient_ids),
        requested_by=None if actor is None else actor.id,
    )
    session.add(pull)
    session.flush()
    session.add_all(PullItem(pull_id=pull.id, row=row) for row in range(1, len(request.patient_ids) + 1))
    audit.record(session, actor, "pull.create", "pull", pull.id, patients=len(request.patient_ids))
    session.commit()
    return pull, False


@dataclass(frozen=True)
class ItemReport:
    """The outcome for one requested patient, as reported (row and pseudonym, never the hospital id)."""

    row: int
    pseudonym: str | None
    outcome: PullOutcome
    reason: str | None = None
    studies: int = 0
    series: int = 0
    series_retrieved: int = 0
    instances: int = 0
    gradable_studies: int = 0
    earlier: bool = False
    """Settled by an earlier run of the same pull (and skipped by this one)."""

    @property
    def line(self) -> str:
        """``row 3 (P-7K2M9QX4TB): fetched: 1 study, 3 series (3 retrieved, 33 new images), 1 gradable``."""
        who = f"row {self.row}" + (f" ({self.pseudonym})" if self.pseudonym else "")
        text = f"{who}: {self.outcome.value}"
        if self.outcome in (PullOutcome.fetched, PullOutcome.nothing_gradable):
            text += f": {_plural(self.studies, 'study', 'studies')}"
        if self.outcome is PullOutcome.fetched:
            text += f", {_plural(self.series, 'series', 'series')}"
            if self.earlier:
                text += " (earlier run)"
            else:
                retrieved = f"{self.series_retrieved} retrieved, {self.instances} new images"
                text += f" ({retrieved}), {self.gradable_studies} gradable"
        return text + (f": {self.reason}" if self.reason else "")


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


@dataclass
class PullSummary:
    """Totals of one run of a pull."""

    pull_id: str
    status: PullStatus
    outcomes: Counter[PullOutcome] = field(default_factory=Counter)
    series_fetched: int = 0
    instances_fetched: int = 0
    seconds: float = 0.0
    error: str | None = None

    @property
    def line(self) -> str:
        """The summary line printed at the end of a run."""
        counts = ", ".join(
            f"{self.outcomes[o]} {o.value}" for o in PullOutcome if o is not PullOutcome.pending or self.outcomes[o]
        )
        text = (
            f"pull {self.pull_id} {self.status.value}: {sum(self.outcomes.values())} patients: {counts}; "
            f"{self.series_fetched} series, {self.instances_fetched} images retrieved in {self.seconds:.1f} s"
        )
        return text + (f"; stopped: {self.error}" if self.error else "")


ItemCallback = Callable[[ItemReport], None]


def run_pull(
    engine: Engine,
    store: ImageStore,
    archive: Archive,
    pull_id: str,
    patient_ids: Sequence[str],
    *,
    expected_field_strength_t: float = 0.2,
    on_item: ItemCallback | None = None,
    finder: StudyFinder | None = None,
) -> PullSummary:
    """Run (or resume) a pull opened by :func:`open_pull` with the same ``patient_ids``.

    Patients already settled (fetched, nothing gradable) are skipped; ``on_item`` is called with the
    outcome of every patient (skipped ones included). An archive that cannot be reached stops the run
    with status ``failed``; running it again resumes. ``finder``, when given, has been searching for the
    patients' studies already (the command starts it before loading the database layer); the run takes it
    over and closes it, and makes its own when it does not serve this pull's patients, archive and dates.
    """
    started = time.perf_counter()
    with session_scope(engine, write=True) as session:
        pull = session.get(Pull, pull_id)
        if pull is None:
            raise NotFound(f"pull {pull_id!r} does not exist")
        if pull.patients_total != len(patient_ids):
            raise InvalidInput(f"pull {pull_id} has {pull.patients_total} patients; {len(patient_ids)} given")
        pull.status = PullStatus.running
        pull.error = None
        pull.updated_at = utcnow()
        session.add(pull)
        session.commit()
        since, until = pull.since, pull.until
        items = list(session.exec(select(PullItem).where(PullItem.pull_id == pull_id).order_by(col(PullItem.row))))
        pseudonyms = _pseudonyms(session, {i.patient_id for i in items if i.patient_id})
    summary = PullSummary(pull_id, PullStatus.running)
    settled = (PullOutcome.fetched, PullOutcome.nothing_gradable)
    todo = [item for item in items if item.outcome not in settled]
    ahead = PATIENTS_AHEAD if archive.parallel > 1 else 0
    if finder is None or not finder.serves(archive, patient_ids, since, until):
        if finder is not None:
            finder.close()
        finder = StudyFinder.of(archive, patient_ids, since, until)
    finder.only([item.row - 1 for item in todo])
    with (
        contextlib.closing(finder),
        ThreadPoolExecutor(max_workers=max(1, archive.parallel), thread_name_prefix="modic-pull") as pool,
        ThreadPoolExecutor(max_workers=max(1, ahead), thread_name_prefix="modic-pull-ahead") as fetchers,
    ):

        def fetch(item: PullItem) -> _Fetched | ItemReport:
            patient = patient_ids[item.row - 1]
            return _fetch_patient(engine, store, finder, pool, item.row, patient, expected_field_strength_t)

        # Patients are found and retrieved up to ``ahead`` in advance (DICOMweb only); ingest and the
        # outcomes follow in row order in this thread.
        running: dict[int, Future[_Fetched | ItemReport]] = {}
        queue = iter(todo)
        for item in itertools.islice(queue, ahead):
            running[item.row] = fetchers.submit(fetch, item)
        for item in items:
            if item.outcome in settled:
                report = _report_of(item, pseudonyms)
            else:
                try:
                    fetched = running.pop(item.row).result() if item.row in running else fetch(item)
                except ArchiveUnavailable as exc:
                    summary.error = exc.message
                    for future in running.values():
                        future.cancel()
                    break
                following = next(queue, None)
                if following is not None and ahead:
                    running[following.row] = fetchers.submit(fetch, following)
                report, patient_id = (
                    (fetched, None)
                    if isinstance(fetched, ItemReport)
                    else _ingest_patient(engine, store, archive, fetched, expected_field_strength_t)
                )
                _save_item(engine, pull_id, item.id, report, patient_id)
                summary.series_fetched += report.series_retrieved
                summary.instances_fetched += report.instances
                log.info("pull %s row %d: %s", pull_id, report.row, report.outcome.value)
            summary.outcomes[report.outcome] += 1
            if on_item is not None:
                on_item(report)
    summary.seconds = time.perf_counter() - started
    summary.status = PullStatus.failed if summary.error else PullStatus.done
    _finish(engine, pull_id, summary)
    return summary


def _pseudonyms(session: Session, patient_ids: set[str]) -> dict[str, str]:
    if not patient_ids:
        return {}
    return {p.id: p.pseudonym for p in studies_repo.patients_by_ids(session, patient_ids).values()}


def _report_of(item: PullItem, pseudonyms: dict[str, str]) -> ItemReport:
    return ItemReport(
        row=item.row,
        pseudonym=pseudonyms.get(item.patient_id) if item.patient_id else None,
        outcome=PullOutcome(item.outcome),
        reason=item.reason,
        studies=item.studies,
        series=item.series,
        earlier=True,
    )


def series_to_fetch(classification: StudyClassification) -> list[str]:
    """The series grading needs: those holding the chosen sagittal T1 and T2 stacks and any gradable
    sagittal STIR stack; never a localizer, an axial or a derived series."""
    chosen = classification.grading_series
    stacks = [s for s in (chosen.t1, chosen.t2) if s is not None]
    stacks += [s for s in classification.stacks if s.gradable and s.weighting is Weighting.STIR]
    return list(dict.fromkeys(s.series_instance_uid for s in stacks))


_FETCHED_WEIGHTINGS = frozenset({Weighting.T1, Weighting.T2, Weighting.STIR})


def screen_series(header: InstanceHeader, images: int | None) -> Weighting | None:
    """Whether grading needs a series, judged from one representative image of it by the rules of ingest
    (:func:`~grading.series.classify_weighting`, the plane of ImageOrientationPatient): its weighting when
    it is a sagittal T1, T2 or STIR series with at least :data:`~grading.series.MIN_GRADABLE_SLICES`
    images, ``None`` when it is not (localizer, axial, derived, too few images, …).

    Raises :class:`LookupError` when the answer lacks what the rules need (orientation, or timing that left
    the weighting ambiguous): the series must then be classified image by image.
    """
    weighting = classify_weighting(header)
    if weighting.reason in (WeightingReason.AMBIGUOUS, WeightingReason.DESCRIPTION):
        raise LookupError(f"{header.source}: weighting not decided by the series attributes")
    if not weighting.gradable or weighting.weighting not in _FETCHED_WEIGHTINGS:
        return None
    if header.image_orientation is None:
        raise LookupError(f"{header.source}: no ImageOrientationPatient")
    if not plane_from_orientation(header.image_orientation).sagittal_enough:
        return None
    if images is not None and images < MIN_GRADABLE_SLICES:
        return None
    return weighting.weighting


@dataclass
class _StudyPlan:
    """What one study of the archive needs: the series to fetch, each with its images when they are known
    (``None``: the whole series, none of it stored yet)."""

    study_instance_uid: str
    series: dict[str, list[str] | None]


def _headers(archive: Archive, answers: list[QueryAnswer]) -> list[InstanceHeader]:
    headers: list[InstanceHeader] = []
    for answer in answers:
        sop = answer.text("SOPInstanceUID")
        try:
            headers.extend(answer.headers(f"{archive.label} instance {sop or '<no SOP Instance UID>'}"))
        except ImagingError:
            continue  # an answer without UIDs cannot be retrieved either
    return headers


def _plan_study(
    archive: Archive, store: ImageStore, known: bool, study: ArchiveStudy, expected_field_strength_t: float
) -> _StudyPlan:
    """Choose a study's series from the archive's metadata (no pixel data moves).

    Each MR series is screened on its series-level answer (:func:`screen_series`); series that answer
    cannot decide, and rival candidates for T1 or T2, are classified image by image with
    :func:`~grading.series.classify_study`, which chooses between them as ingest does. A chosen series
    whose study is ``known`` to the registry, or whose representative image is stored, is listed image by
    image so that only the missing images are fetched.
    """
    study_instance_uid = study.study_instance_uid
    candidates: dict[Weighting, list[str]] = {}
    undecided: list[str] = []
    representative: dict[str, str] = {}
    series = archive.find_series(study_instance_uid) if study.series is None else study.series
    for answer in series:
        series_uid = answer.text("SeriesInstanceUID")
        sop = answer.text("SOPInstanceUID")
        representative[series_uid] = sop
        answer.fill("SOPInstanceUID", series_uid)  # a stand-in when missing: only the series attributes are judged
        images = answer.value("NumberOfSeriesRelatedInstances")
        try:
            header = answer.headers(f"{archive.label} series {series_uid}")[0]
            weighting = screen_series(header, None if images in (None, "") else int(images))
        except (ImagingError, LookupError, ValueError, TypeError):
            undecided.append(series_uid)
            continue
        if weighting is not None:
            candidates.setdefault(weighting, []).append(series_uid)
    wanted: list[str] = []
    rivals: list[str] = []  # several sagittal T1 (or T2) series: their images decide, as at ingest
    for weighting, uids in candidates.items():
        (rivals if len(uids) > 1 and weighting is not Weighting.STIR else wanted).extend(uids)
    listed: dict[str, list[str]] = {}
    if undecided or rivals:
        by_series = {uid: archive.find_instances(study_instance_uid, uid) for uid in undecided + rivals}
        headers = _headers(archive, [answer for answers in by_series.values() for answer in answers])
        if headers:
            with contextlib.suppress(GradingError):  # images the rules cannot read are not fetched
                classification = classify_study(headers, expected_field_strength_t=expected_field_strength_t)
                wanted += [uid for uid in series_to_fetch(classification) if uid not in wanted]
        listed = {uid: [a.text("SOPInstanceUID") for a in answers] for uid, answers in by_series.items()}
    plan: dict[str, list[str] | None] = {}
    for uid in wanted:
        if uid not in listed and (known or (representative.get(uid) and store.contains(representative[uid]))):
            listed[uid] = [a.text("SOPInstanceUID") for a in archive.find_instances(study_instance_uid, uid)]
        plan[uid] = list(dict.fromkeys(listed[uid])) if uid in listed else None
    return _StudyPlan(study_instance_uid, plan)


@dataclass(frozen=True)
class _Fetched:
    """A patient whose chosen series are in the store, waiting to be ingested."""

    row: int
    studies: int
    series: int
    series_retrieved: int
    new: int
    read: list[AcceptedInstance | Rejection]
    """Images retrieved now, their headers read as they arrived."""
    stored: list[str]
    """Images to read from the store (there before, or delivered by C-MOVE)."""


def _fetch_patient(
    engine: Engine,
    store: ImageStore,
    finder: StudyFinder,
    pool: ThreadPoolExecutor,
    row: int,
    patient_id: str,
    expected_field_strength_t: float,
) -> _Fetched | ItemReport:
    """Find, choose and retrieve one patient's series (no database writes: this may run ahead of ingest)."""
    archive = finder.archive
    try:
        studies = finder.studies(row - 1)
        if not studies:
            return ItemReport(row, _known_pseudonym(engine, patient_id), PullOutcome.not_found)
        with session_scope(engine) as session:
            known = studies_repo.known_study_uids(session, {s.study_instance_uid for s in studies})
        plans = [
            _plan_study(archive, store, s.study_instance_uid in known, s, expected_field_strength_t) for s in studies
        ]
        jobs = []
        present: list[str] = []
        for plan in plans:
            for series_uid, sops in plan.series.items():
                missing = None if sops is None else [uid for uid in sops if not store.contains(uid)]
                present += [uid for uid in sops or () if uid not in (missing or ())]
                if missing is None or missing:
                    jobs.append(pool.submit(archive.retrieve, plan.study_instance_uid, series_uid, missing))
        retrieved = [job.result() for job in jobs]
    except ArchiveRefused as exc:
        # The archive's answer may quote the query: never pass the patient id on.
        reason = exc.message.replace(patient_id.strip(), "<patient id>")
        return ItemReport(row, _known_pseudonym(engine, patient_id), PullOutcome.refused, reason)
    if not present and not any(r.sop_instance_uids for r in retrieved):
        return ItemReport(row, _known_pseudonym(engine, patient_id), PullOutcome.nothing_gradable, studies=len(studies))
    read = [item for r in retrieved for item in r.read or ()]
    stored = present + [uid for r in retrieved if r.read is None for uid in r.sop_instance_uids]
    return _Fetched(
        row,
        studies=sum(1 for plan in plans if plan.series),
        series=sum(len(plan.series) for plan in plans),
        series_retrieved=len(jobs),
        new=sum(r.new for r in retrieved),
        read=read,
        stored=list(dict.fromkeys(stored)),
    )


def _ingest_patient(
    engine: Engine, store: ImageStore, archive: Archive, fetched: _Fetched, expected_field_strength_t: float
) -> tuple[ItemReport, str | None]:
    """Ingest a patient's images; its outcome, and the id of the patient row (``None`` when no study was
    written)."""
    files = [SourceFile.of(f"{archive.label} instance {uid}", store.content(uid)) for uid in fetched.stored]
    images = itertools.chain(fetched.read, read_sources(files))
    with session_scope(engine, write=True) as session:
        result = ingest_accepted(session, store, images, expected_field_strength_t=expected_field_strength_t)
    views = [s.view for s in result.studies]
    report = ItemReport(
        fetched.row,
        views[0].pseudonym if views else None,
        PullOutcome.fetched,
        reason="; ".join(result.warnings)[:1000] or None,
        studies=fetched.studies,
        series=fetched.series,
        series_retrieved=fetched.series_retrieved,
        instances=fetched.new,
        gradable_studies=sum(1 for v in views if v.study.t1_series_id and v.study.t2_series_id),
    )
    return report, views[0].study.patient_id if views else None


def _known_pseudonym(engine: Engine, patient_id: str) -> str | None:
    """The pseudonym of a patient the registry already knows (nothing is created for a patient not pulled)."""
    with session_scope(engine) as session:
        patient = studies_repo.patient_by_hospital_id(session, patient_id.strip())
        return None if patient is None else patient.pseudonym


_PULLS = Pull.__table__  # type: ignore[attr-defined]
_ITEMS = PullItem.__table__  # type: ignore[attr-defined]
_COUNT_OUTCOME = (
    update(_PULLS)
    .where(_PULLS.c.id == bindparam("pull_id"))
    .values(
        # the patient is done now unless an earlier run settled it already
        patients_done=_PULLS.c.patients_done
        + sa_select(func.count())
        .where(_ITEMS.c.id == bindparam("item_id"), _ITEMS.c.outcome == PullOutcome.pending)
        .scalar_subquery(),
        series_fetched=_PULLS.c.series_fetched + bindparam("series_fetched", type_=Integer),
        instances_fetched=_PULLS.c.instances_fetched + bindparam("instances_fetched", type_=Integer),
        updated_at=bindparam("now", type_=_PULLS.c.updated_at.type),
    )
)
_ITEM_VALUES = {
    "outcome": bindparam("outcome", type_=_ITEMS.c.outcome.type),
    "reason": bindparam("reason", type_=_ITEMS.c.reason.type),
    "studies": bindparam("studies", type_=Integer),
    "series": bindparam("series", type_=Integer),
    "instances": _ITEMS.c.instances + bindparam("instances", type_=Integer),
    "updated_at": bindparam("now", type_=_ITEMS.c.updated_at.type),
}
_SAVE_ITEM = update(_ITEMS).where(_ITEMS.c.id == bindparam("item_id")).values(**_ITEM_VALUES)
_SAVE_ITEM_OF_PATIENT = (
    update(_ITEMS)
    .where(_ITEMS.c.id == bindparam("item_id"))
    .values(**_ITEM_VALUES, patient_id=bindparam("patient_id", type_=_ITEMS.c.patient_id.type))
)


def _save_item(engine: Engine, pull_id: str, item_id: str, report: ItemReport, patient_id: str | None) -> None:
    """Record a patient's outcome and add its counts to the pull's, in one transaction of two updates.
    ``patient_id``: the patient row the outcome names, when the caller has it; else it is found by the
    report's pseudonym."""
    with session_scope(engine, write=True) as session:
        if patient_id is None and report.pseudonym is not None:
            patient_id = session.exec(select(Patient.id).where(Patient.pseudonym == report.pseudonym)).first()
        now = utcnow()
        connection = session.connection()
        counts = {"series_fetched": report.series_retrieved, "instances_fetched": report.instances}
        connection.execute(_COUNT_OUTCOME, {"pull_id": pull_id, "item_id": item_id, "now": now, **counts})
        values = {
            "item_id": item_id,
            "outcome": report.outcome,
            "reason": None if report.reason is None else report.reason[:1000],
            "studies": report.studies,
            "series": report.series,
            "instances": report.instances,
            "now": now,
        }
        if report.pseudonym is None:
            connection.execute(_SAVE_ITEM, values)
        else:
            connection.execute(_SAVE_ITEM_OF_PATIENT, {**values, "patient_id": patient_id})
        session.commit()


def _finish(engine: Engine, pull_id: str, summary: PullSummary) -> None:
    with session_scope(engine, write=True) as session:
        pull = session.get(Pull, pull_id)
        assert pull is not None
        pull.status = summary.status
        pull.error = None if summary.error is None else summary.error[:1000]
        pull.updated_at = utcnow()
        pull.finished_at = pull.updated_at if summary.status is PullStatus.done else None
        session.add(pull)
        session.commit()


def fail_pull(engine: Engine, pull_id: str, error: str) -> None:
    """Mark a pull failed before it ran (e.g. its archive could not be opened)."""
    _finish(engine, pull_id, PullSummary(pull_id, PullStatus.failed, error=error))


@dataclass(frozen=True)
class PullView:
    """A pull with its items and the pseudonyms of the patients they name."""

    pull: Pull
    items: list[PullItem]
    pseudonyms: dict[str, str]


def pull_view(session: Session, pull_id: str) -> PullView:
    """The pull ``pull_id`` with its per-patient outcomes; :class:`NotFound` otherwise."""
    pull = session.get(Pull, pull_id)
    if pull is None:
        raise NotFound(f"pull {pull_id!r} does not exist")
    items = list(session.exec(select(PullItem).where(PullItem.pull_id == pull_id).order_by(col(PullItem.row))))
    return PullView(pull, items, _pseudonyms(session, {i.patient_id for i in items if i.patient_id}))


class PullRunner:
    """Runs the pulls requested through the API one after another in a background thread (one archive
    connection and one Storage SCP port at a time). The patient ids of a queued pull are held in memory
    only: after a restart, posting the same request again resumes it."""

    def __init__(self, engine: Engine, store: ImageStore, *, expected_field_strength_t: float = 0.2):
        self.engine = engine
        self.store = store
        self.expected_field_strength_t = expected_field_strength_t
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modic-pulls")
        self._active: set[str] = set()
        self._lock = threading.Lock()

    def submit(self, pull_id: str, config: ArchiveConfig, patient_ids: Sequence[str]) -> bool:
        """Queue the pull unless it is already queued or running here; whether it was queued."""
        with self._lock:
            if pull_id in self._active:
                return False
            self._active.add(pull_id)
        self._pool.submit(self._run, pull_id, config, list(patient_ids))
        return True

    def _run(self, pull_id: str, config: ArchiveConfig, patient_ids: list[str]) -> None:
        try:
            archive = config.open(self.store)
        except RegistryError as exc:
            fail_pull(self.engine, pull_id, exc.message)
            return
        try:
            with run_once(self.engine, f"pull:{pull_id}") as mine:  # not twice at once, in any process
                if mine:
                    run_pull(
                        self.engine,
                        self.store,
                        archive,
                        pull_id,
                        patient_ids,
                        expected_field_strength_t=self.expected_field_strength_t,
                    )
        except Exception:  # the runner keeps serving later pulls; the pull stays resumable
            log.exception("pull %s stopped", pull_id)
            fail_pull(self.engine, pull_id, "stopped by an internal error; post the same request again to resume")
        finally:
            archive.close()
            with self._lock:
                self._active.discard(pull_id)

    def shutdown(self) -> None:
        """Stop taking pulls and drop the queued ones; a pull cut short stays resumable."""
        self._pool.shutdown(wait=False, cancel_futures=True)
