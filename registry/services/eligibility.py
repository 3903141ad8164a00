"""Eligibility decisions: re-evaluated in the transaction that changes their inputs, published as a feed.

Which grading counts (contract, ``GET /eligibility``): the latest version of the most recent clinical
grading (by creation time) of the patient's most recent graded study (by study date, then
registration time). Reliability-study reads never count. A patient gets a decision for a rule set
when a grading counts for them or screening answers were recorded for the rule set's trial.

Decisions are stored per (patient, trial, rule version). A decision that changes (a grading created
or amended, screening recorded, a date criterion passed by time) gets the next feed position, so a
reader following ``next_cursor`` sees every change exactly once. Positions come from a single
counter row updated just before commit (see :class:`registry.models.FeedCounter`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from grading.eligibility import (
    COMPUTATIONS,
    Catalog,
    Episode,
    RuleSet,
    default_catalog,
    episode_answers,
    evaluate,
    validate_answers,
)
from grading.endplates import ENDPLATES
from grading.errors import GradingError
from grading.nordic import EndplateGrading, StudyGrading
from grading.protocols import all_extras
from registry.cursors import decode_cursor, encode_cursor
from registry.db import session_scope
from registry.errors import InvalidInput, NotFound
from registry.jobs import REEVALUATION_JOB, run_once
from registry.models import EligibilityDecision, GradingKind, Patient, ScreeningRecord, User
from registry.models.base import utcnow
from registry.repositories import eligibility as repo
from registry.repositories import studies as studies_repo
from registry.services import audit

_log = logging.getLogger(__name__)


def today() -> dt.date:
    """The evaluation date: today in UTC."""
    return utcnow().date()


def catalog() -> Catalog:
    """The shipped rule sets."""
    return default_catalog()


@dataclass(frozen=True)
class ReevaluationReport:
    """What a re-evaluation did."""

    patients: int = 0
    evaluated: int = 0
    created: int = 0
    changed: int = 0
    by_rule_set: dict[str, int] = field(default_factory=dict)
    """Decisions created, changed or amended per ``trial@version``."""
    amended: int = 0
    """Frozen (enrolled) decisions whose re-evaluation now differs (or agrees again): flagged, not applied."""


def reevaluate(
    session: Session,
    patient_ids: Sequence[str] | None,
    on: dt.date,
    rule_sets: Sequence[RuleSet] | None = None,
) -> ReevaluationReport:
    """Evaluate the rule sets (default: all shipped) for the patients (``None``: every patient with
    inputs) on day ``on``, storing new and changed decisions. Runs in the caller's transaction.

    The caller has written its change of inputs and holds the patients' locks (:func:`lock_for`),
    so the inputs read here are the latest.
    """
    rule_sets = list(rule_sets) if rule_sets is not None else list(catalog().rule_sets)
    trials = sorted({r.trial for r in rule_sets})
    counting = repo.counting_gradings(session, patient_ids)
    answers = repo.screening_answers(session, trials, patient_ids)
    patients = set(counting) | {patient for patient, _ in answers}
    if patient_ids is not None:
        patients &= set(patient_ids)
    by_text: dict[str, StudyGrading] = {}
    gradings: dict[str, StudyGrading] = {}
    for patient_id in patients:
        chosen = counting.get(patient_id)
        if chosen is not None:
            grading = by_text.get(chosen.endplates_json)
            if grading is None:
                grading = by_text[chosen.endplates_json] = grading_from_stored(json.loads(chosen.endplates_json))
            gradings[patient_id] = grading
    now = utcnow()
    new_rows: list[dict[str, Any]] = []
    changed_rows: list[dict[str, Any]] = []
    amended_rows: list[dict[str, Any]] = []
    touched: list[dict[str, Any]] = []
    evaluated = 0
    by_rule_set: dict[str, int] = {}
    stored_by_rule_set = repo.stored_decisions(session, [(r.trial, r.version) for r in rule_sets], patient_ids)
    episodes = {key: episode_of(inputs) for key, inputs in answers.items()}
    for rule_set in rule_sets:
        stored = stored_by_rule_set[(rule_set.trial, rule_set.version)]
        before = len(new_rows) + len(changed_rows) + len(amended_rows)
        # Evaluation is a pure function of its inputs: identical inputs (e.g. the many gradings without
        # any change, which share one StudyGrading object) are evaluated once.
        memo: dict[tuple[Any, ...], tuple[str, str, list[dict[str, Any]], dt.date | None, dt.date]] = {}
        for patient_id in sorted(patients):
            chosen = counting.get(patient_id)
            recorded = answers.get((patient_id, rule_set.trial))
            if chosen is None and recorded is None:
                continue
            grading = gradings.get(patient_id)
            study_date = None if chosen is None else chosen.study_date
            own = rule_set.own_answers({} if recorded is None else recorded.answers)
            episode = episodes.get((patient_id, rule_set.trial))
            key = (
                id(grading),
                study_date if rule_set.reads_dates else None,
                tuple(sorted(own.items())),
                episode,
            )
            outcome = memo.get(key)
            if outcome is None:
                day = on if episode is None else episode.index_date
                decision = evaluate(rule_set, grading, study_date, own, day, episode)
                outcome = (
                    decision.status.value,
                    decision.imaging.value,
                    [r.to_mapping() for r in decision.results],
                    decision.next_change,
                    day,
                )
                memo[key] = outcome
            evaluated += 1
            status, imaging, criteria, next_change, day = outcome
            row = {
                "patient_id": patient_id,
                "trial": rule_set.trial,
                "rule_version": rule_set.version,
                "study_id": None if chosen is None else chosen.study_id,
                "grading_id": None if chosen is None else chosen.grading_id,
                "grading_version": None if chosen is None else chosen.grading_version,
                "status": status,
                "imaging": imaging,
                "criteria": criteria,
                "evaluation_date": day,
                "next_change": next_change,
                "decided_at": now,
            }
            old = stored.get(patient_id)
            if old is None:
                new_rows.append(row)
            elif old.frozen:
                # Enrolled: the decision stands; a different outcome is shown beside it, never applied.
                differs = old.fingerprint != repo.fingerprint(row)
                if differs and old.amendment != repo.fingerprint(row):
                    amended_rows.append({"id": old.id, "amendment": amendment_of(row)})
                elif not differs and old.amendment is not None:
                    amended_rows.append({"id": old.id, "amendment": None})
            elif old.fingerprint != repo.fingerprint(row):
                changed_rows.append({"id": old.id, **row})
            elif old.next_change != next_change:
                touched.append({"id": old.id, "next_change": next_change, "evaluation_date": day})
        by_rule_set[rule_set.key] = len(new_rows) + len(changed_rows) + len(amended_rows) - before
    count = len(new_rows) + len(changed_rows) + len(amended_rows)
    if count:
        first = repo.take_positions(session, count) - count + 1
        for offset, row in enumerate([*new_rows, *changed_rows, *amended_rows]):
            row["seq"] = first + offset
    repo.insert_decisions(session, new_rows)
    repo.update_decisions(session, changed_rows)
    repo.set_amendments(session, amended_rows)
    repo.set_next_change(session, touched)
    return ReevaluationReport(
        len(patients), evaluated, len(new_rows), len(changed_rows), by_rule_set, len(amended_rows)
    )


def episode_of(inputs: repo.ScreeningInputs) -> Episode | None:
    """The screening episode of recorded inputs (``None`` before an index date is recorded)."""
    if inputs.index_date is None:
        return None
    return Episode(inputs.index_date, inputs.date_of_birth, inputs.symptom_onset_date)


def amendment_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """What a frozen decision would now be: shown in the feed beside it."""
    keys = ("status", "criteria", "study_id", "grading_id", "grading_version", "evaluation_date", "decided_at")
    return {
        key: value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value
        for key, value in row.items()
        if key in keys
    }


def grading_from_stored(endplates: Mapping[str, Any]) -> StudyGrading:
    """The :class:`StudyGrading` of a stored (validated, canonical) grading version.

    Endplate gradings are immutable values that :meth:`EndplateGrading.from_mapping` parses once
    and shares: this is part of what keeps re-evaluating 100,000 gradings fast. A version may hold the
    variables of any protocol, so all of them are accepted.
    """
    extras = all_extras()
    return StudyGrading(tuple(EndplateGrading.from_mapping(e, endplates[e.value], extras) for e in ENDPLATES))


def lock_for(session: Session, patient_ids: Sequence[str]) -> None:
    """Take the patients' eligibility locks (after writing the changed input, before reading inputs)."""
    session.flush()
    repo.lock_patients(session, patient_ids)


def on_grading_changed(session: Session, study_id: str, kind: GradingKind) -> None:
    """Re-decide the patient of a study whose grading was created or amended, in the same transaction.

    Reliability-study reads never count, so they change nothing.
    """
    if kind is not GradingKind.clinical:
        return
    patient_id = studies_repo.patients_of_studies(session, {study_id}).get(study_id)
    if patient_id is None:
        raise NotFound(f"study {study_id!r} does not exist")
    on_patients_graded(session, [patient_id])


def on_patients_graded(session: Session, patient_ids: Sequence[str]) -> None:
    """Re-decide patients whose clinical gradings were just created or amended, in the same
    transaction (one evaluation pass for all of them)."""
    if patient_ids:
        unique = sorted(set(patient_ids))
        lock_for(session, unique)
        reevaluate(session, unique, today())


def reevaluate_and_commit(
    session: Session, on: dt.date, *, due_only: bool, rule_sets: Sequence[RuleSet] | None = None
) -> ReevaluationReport:
    """The daily (``due_only``: decisions whose date criteria may have changed) or full re-evaluation."""
    patient_ids: list[str] | None = repo.due_patients(session, on) if due_only else None
    if patient_ids is not None and not patient_ids:
        return ReevaluationReport()
    if patient_ids is not None:
        lock_for(session, patient_ids)
    else:
        lock_for(session, repo.patients_with_inputs(session))
    report = reevaluate(session, patient_ids, on, rule_sets)
    audit.record(
        session,
        None,
        "eligibility.reevaluate",
        "eligibility",
        on.isoformat(),
        due_only=due_only,
        created=report.created,
        changed=report.changed,
    )
    session.commit()
    return report


class PeriodicReevaluation:
    """Re-evaluates the decisions whose date criteria may have changed, at start and then every
    ``interval_s`` seconds, in a daemon thread: ``modic serve`` keeps time-dependent criteria (the
    contract: "re-evaluated at least daily") current without an external scheduler."""

    def __init__(self, engine: Engine, interval_s: float = 3600.0):
        self._engine = engine
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="eligibility-reevaluation", daemon=True)

    def start(self) -> PeriodicReevaluation:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                every = dt.timedelta(seconds=self._interval_s)  # once per interval across processes
                with (
                    run_once(self._engine, REEVALUATION_JOB, every=every) as mine,
                    session_scope(self._engine, write=True) as session,
                ):
                    report = reevaluate_and_commit(session, today(), due_only=True) if mine else ReevaluationReport()
                if report.changed:
                    _log.info("eligibility: %d decisions changed by date criteria", report.changed)
            except Exception:
                _log.exception("eligibility: periodic re-evaluation failed; retrying at the next interval")
            self._stop.wait(self._interval_s)


# Screening ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScreeningView:
    """A patient's screening answers for one trial and the resulting decisions."""

    pseudonym: str
    trial: str
    answers: dict[str, Any]
    version: int
    updated_at: dt.datetime | None
    decisions: list[EligibilityDecision]
    episode: Episode | None = None
    computed: dict[str, Any] = field(default_factory=dict)
    """The fields computed from the episode's dates at the index date (age, duration)."""


def _patient(session: Session, pseudonym: str) -> Patient:
    patient = repo.patient_by_pseudonym(session, pseudonym)
    if patient is None:
        raise NotFound(f"patient {pseudonym!r} does not exist")
    return patient


def _trial_fields(trial: str) -> dict[str, Any]:
    try:
        return dict(catalog().screening_fields(trial))
    except GradingError as exc:
        raise NotFound(exc.message) from None


def screening_view(session: Session, pseudonym: str, trial: str) -> ScreeningView:
    """The recorded answers (missing = unknown) and the current decisions of every version."""
    _trial_fields(trial)
    patient = _patient(session, pseudonym)
    record = repo.screening_record(session, patient.id, trial)
    episode = None if record is None else episode_of(_inputs(record))
    computed: dict[str, Any] = {}
    if episode is not None:
        for rule_set in catalog().versions(trial):
            computed.update(episode_answers(rule_set, episode, {}))
    return ScreeningView(
        pseudonym,
        trial,
        dict(record.answers) if record else {},
        record.version if record else 0,
        record.updated_at if record else None,
        repo.decisions_of_patient(session, patient.id, trial),
        episode,
        dict(sorted(computed.items())),
    )


def _inputs(record: ScreeningRecord) -> repo.ScreeningInputs:
    return repo.ScreeningInputs(record.answers, record.index_date, record.date_of_birth, record.symptom_onset_date)


EPISODE_FIELDS = ("index_date", "date_of_birth", "symptom_onset_date")
"""The dates of a screening episode, settable with the screening answers."""


def _check_episode(session: Session, patient_id: str, trial: str, record: ScreeningRecord) -> None:
    """The episode's dates fit each other, the MRI that counts, and the computed fields' ranges; a
    typed answer to a field the dates give is refused (422 naming the field)."""
    episode = episode_of(_inputs(record))
    if episode is None:
        if record.date_of_birth is not None or record.symptom_onset_date is not None:
            raise InvalidInput("index_date: record the index date (the screening visit) with the episode's dates")
        return
    if episode.index_date > today():
        raise InvalidInput(f"index_date: {episode.index_date.isoformat()} is in the future; allowed: today or earlier")
    chosen = repo.counting_gradings(session, [patient_id]).get(patient_id)
    episode.check_study_date(None if chosen is None else chosen.study_date)
    for rule_set in catalog().versions(trial):
        computed = episode_answers(rule_set, episode, {})
        typed = sorted(set(computed) & set(record.answers))
        if typed:
            spec = rule_set.fields[typed[0]]
            source = COMPUTATIONS[spec.computed or ""][0]
            raise GradingError(
                f"screening field {typed[0]} is computed from {source} at the index date; clear it (null) "
                "instead of typing it",
                field=typed[0],
            )


def record_screening(
    session: Session,
    actor: User,
    pseudonym: str,
    trial: str,
    answers: Mapping[str, Any],
    episode: Mapping[str, dt.date | None] | None = None,
) -> ScreeningView:
    """Set screening answers of a patient for a trial (``null`` makes an answer unknown again), and the
    episode's dates (``episode``: any of :data:`EPISODE_FIELDS`; ``null`` clears one).

    Answers not named are kept. Validated against the trial's vocabulary and the episode's dates,
    audited, and the trial's decisions re-evaluated in the same transaction.
    """
    fields = _trial_fields(trial)
    patient = _patient(session, pseudonym)
    checked = validate_answers(fields, answers)
    cleared = {name for name, value in answers.items() if value is None}
    repo.lock_patients(session, [patient.id])
    record = repo.screening_record(session, patient.id, trial)
    if record is None:
        record = ScreeningRecord(patient_id=patient.id, trial=trial, answers={}, version=0)
    before = dict(record.answers)
    after = {name: value for name, value in {**before, **checked}.items() if name not in cleared}
    changes = {
        name: {"from": before.get(name), "to": after.get(name)}
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name) or type(before.get(name)) is not type(after.get(name))
    }
    record.answers = dict(sorted(after.items()))
    for name, value in (episode or {}).items():
        if name not in EPISODE_FIELDS:
            raise InvalidInput(f"episode.{name}: unknown; allowed: {', '.join(EPISODE_FIELDS)}")
        if getattr(record, name) != value:
            changes[name] = {"from": _iso(getattr(record, name)), "to": _iso(value)}
            setattr(record, name, value)
    _check_episode(session, patient.id, trial, record)
    record.version += 1
    record.updated_by = actor.id
    record.updated_at = utcnow()
    session.add(record)
    audit.record(
        session, actor, "screening.record", "screening", record.id, patient=pseudonym, trial=trial, changes=changes
    )
    session.flush()
    reevaluate(session, [patient.id], today(), catalog().versions(trial))
    session.commit()
    return screening_view(session, pseudonym, trial)


def _iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def resolve_pseudonym(session: Session, actor: User, pseudonym: str, reason: str) -> Patient:
    """The hospital identifiers behind a pseudonym, for contacting the patient; who asked, when and
    why is written to the audit trail."""
    if not reason.strip():
        raise InvalidInput("reason: say why the patient's identity is needed (e.g. 'invite to NCT00454792')")
    patient = _patient(session, pseudonym)
    audit.record(session, actor, "patient.resolve", "patient", patient.id, pseudonym=pseudonym, reason=reason.strip())
    session.commit()
    return patient


# Feed --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedItem:
    """One decision as published: the patient appears by pseudonym only."""

    decision: EligibilityDecision
    pseudonym: str


@dataclass(frozen=True)
class FeedPage:
    """A page of the feed and the cursor to continue (or poll) from."""

    items: list[FeedItem]
    next_cursor: str


def rule_set_of(trial: str, version: str | None) -> RuleSet:
    """The rule set a feed is asked for; the trial's default version when ``version`` is omitted."""
    return catalog().get(trial, version)


def parse_cursor(since: str | None) -> int:
    """The feed position a cursor names; the beginning when ``since`` is omitted."""
    if since is None or since == "":
        return 0
    (position,) = decode_cursor(since, (int,), "since", "feed")
    return int(position)


def feed(session: Session, rule_set: RuleSet, since: str | None, limit: int) -> FeedPage:
    """The decisions of ``rule_set`` that changed after the cursor ``since``, oldest change first."""
    if not 1 <= limit <= 1000:
        raise InvalidInput(f"limit {limit} is out of range; allowed: 1 to 1000")
    after = parse_cursor(since)
    rows = repo.feed_page(session, rule_set.trial, rule_set.version, after, limit)
    items = [FeedItem(decision, pseudonym) for decision, pseudonym in rows]
    return FeedPage(items, encode_cursor(items[-1].decision.seq if items else after))


def iter_feed(session: Session, rule_set: RuleSet, since: str | None, page_size: int = 1000) -> Iterator[FeedItem]:
    """Every decision after ``since``, page by page (for exports)."""
    cursor = since
    while True:
        page = feed(session, rule_set, cursor, page_size)
        yield from page.items
        if len(page.items) < page_size:
            return
        cursor = page.next_cursor


# Funnel ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Funnel:
    """The screening funnel of one rule set, counting the steps of the rest-vs-exercise trial's flow (Jensen 2012,
    Figure 2: 557 had MRI, 244 had an MC beyond the endplate, 100 included, 144 did not meet the
    criteria)."""

    trial: str
    version: str
    mri_graded: int
    mri_criterion_met: int
    mri_criterion_not_met: int
    mri_criterion_unknown: int
    pending: int
    eligible: int
    ineligible: int
    ineligible_reasons: dict[str, int]
    """Among ineligible patients whose MRI criterion is met: how often each criterion was not met."""
    screened_without_mri: int


def funnel(session: Session, rule_set: RuleSet) -> Funnel:
    """Count the funnel steps from the stored decisions."""
    counts = repo.funnel_counts(session, rule_set.trial, rule_set.version)
    graded = Counter[str]()
    after_mri = Counter[str]()
    without_mri = 0
    for has_grading, imaging, status, n in counts:
        if not has_grading:
            without_mri += n
            continue
        graded[imaging] += n
        if imaging == "met":
            after_mri[status] += n
    reasons = Counter[str]()
    for criteria in repo.ineligible_criteria(session, rule_set.trial, rule_set.version):
        reasons.update(c["id"] for c in criteria if c["met"] is False)
    ordered = {c.id: reasons[c.id] for c in rule_set.criteria if reasons[c.id]}
    return Funnel(
        rule_set.trial,
        rule_set.version,
        sum(graded.values()),
        graded["met"],
        graded["not_met"],
        graded["unknown"],
        after_mri["pending"],
        after_mri["eligible"],
        after_mri["ineligible"],
        ordered,
        without_mri,
    )
