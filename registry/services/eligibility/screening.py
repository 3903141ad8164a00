"""Screening: a patient's answers and episode dates per trial, recorded and audited; the trial's
decisions are re-evaluated in the same transaction (docs/eligibility.md#screening-episodes-and-the-index-date).
Resolving a pseudonym to the hospital identifiers is audited too."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from grading.eligibility import COMPUTATIONS, Episode, episode_answers, validate_answers
from grading.errors import GradingError
from registry.errors import InvalidInput, NotFound
from registry.models import EligibilityDecision, Patient, ScreeningRecord, User
from registry.models.base import utcnow
from registry.repositories import eligibility as eligibility_repo
from registry.services import audit
from registry.services.eligibility import catalog, today
from registry.services.eligibility.decisions import reevaluate

EPISODE_FIELDS = ("index_date", "date_of_birth", "symptom_onset_date")
"""The dates of a screening episode, settable with the screening answers."""


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
    patient = eligibility_repo.patient_by_pseudonym(session, pseudonym)
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
    record = eligibility_repo.screening_record(session, patient.id, trial)
    episode = None if record is None else eligibility_repo.screening_of(record).episode
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
        eligibility_repo.decisions_of_patient(session, patient.id, trial),
        episode,
        dict(sorted(computed.items())),
    )


def _check_episode(session: Session, patient_id: str, trial: str, record: ScreeningRecord) -> None:
    """The episode's dates fit each other, the MRI that counts, and the computed fields' ranges; a
    typed answer to a field the dates give is refused (422 naming the field)."""
    episode = eligibility_repo.screening_of(record).episode
    if episode is None:
        if record.date_of_birth is not None or record.symptom_onset_date is not None:
            raise InvalidInput("index_date: record the index date (the screening visit) with the episode's dates")
        return
    if episode.index_date > today():
        raise InvalidInput(f"index_date: {episode.index_date.isoformat()} is in the future; allowed: today or earlier")
    chosen = eligibility_repo.counting_gradings(session, [patient_id]).get(patient_id)
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
    eligibility_repo.lock_patients(session, [patient.id])
    record = eligibility_repo.screening_record(session, patient.id, trial)
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
