"""Trial, screening and eligibility-feed shapes of the contract. The feed carries pseudonyms only."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from grading.eligibility import DecisionStatus, RuleSet
from registry.models import EligibilityDecision, Patient
from registry.services.eligibility.decisions import ReevaluationReport
from registry.services.eligibility.feed import FeedItem, FeedPage
from registry.services.eligibility.screening import ScreeningView


class TrialPublic(BaseModel):
    """One version of a trial's rule set, with every criterion, its test and its source sentence."""

    id: str
    version: str
    default: bool
    title: str
    criteria: list[dict[str, Any]]
    fields: dict[str, dict[str, Any]] = Field(description="the screening vocabulary this version reads")

    @classmethod
    def of(cls, rule_set: RuleSet) -> TrialPublic:
        return cls(
            id=rule_set.trial,
            version=rule_set.version,
            default=rule_set.default,
            title=rule_set.title,
            criteria=[c.to_mapping() for c in rule_set.criteria],
            fields={name: spec.to_mapping() for name, spec in rule_set.fields.items()},
        )


class TrialList(BaseModel):
    items: list[TrialPublic]


class CriterionPublic(BaseModel):
    id: str
    kind: str
    met: bool | None
    evidence: str


class DecisionPublic(BaseModel):
    """One item of ``GET /eligibility``."""

    patient: str = Field(description="the patient's pseudonym")
    study_id: str | None
    trial: str
    rule_version: str
    status: DecisionStatus
    criteria: list[CriterionPublic]
    grading_id: str | None
    grading_version: int | None
    decided_at: dt.datetime
    evaluation_date: dt.date | None = Field(
        default=None, description="the day the decision was made: the episode's index date when it has one"
    )
    frozen_at: dt.datetime | None = Field(
        default=None, description="set when the patient was enrolled: the decision then stands as it was"
    )
    amendment: dict[str, Any] | None = Field(
        default=None,
        description="for a frozen decision: what re-evaluation would now decide (status, criteria, grading), "
        "flagged for screening staff and never applied",
    )

    @classmethod
    def of(cls, decision: EligibilityDecision, pseudonym: str) -> DecisionPublic:
        return cls(
            patient=pseudonym,
            study_id=decision.study_id,
            trial=decision.trial,
            rule_version=decision.rule_version,
            status=decision.status,
            criteria=[CriterionPublic(**c) for c in decision.criteria],
            grading_id=decision.grading_id,
            grading_version=decision.grading_version,
            decided_at=decision.decided_at,
            evaluation_date=decision.evaluation_date,
            frozen_at=decision.frozen_at,
            amendment=decision.amendment,
        )

    @classmethod
    def of_item(cls, item: FeedItem) -> DecisionPublic:
        return cls.of(item.decision, item.pseudonym)


class FeedPagePublic(BaseModel):
    items: list[DecisionPublic]
    next_cursor: str = Field(description="pass as ?since= to continue; on the last page, the position to poll from")

    @classmethod
    def of(cls, page: FeedPage) -> FeedPagePublic:
        return cls(items=[DecisionPublic.of_item(i) for i in page.items], next_cursor=page.next_cursor)


class EpisodeDates(BaseModel):
    """The dates of a screening episode; a date not named is kept, ``null`` clears it."""

    model_config = ConfigDict(extra="forbid")

    index_date: dt.date | None = Field(default=None, description="the screening visit: decisions are made at it")
    date_of_birth: dt.date | None = Field(default=None, description="age is computed from it at the index date")
    symptom_onset_date: dt.date | None = Field(
        default=None, description="symptom duration is computed from it at the index date"
    )


class ScreeningUpdate(BaseModel):
    """Answers to set; ``null`` makes an answer unknown again; answers not named are kept."""

    answers: dict[str, Any] = Field(
        default_factory=dict, examples=[{"nrs_back": 6, "nrs_leg": 2, "danish": True, "pregnant": "not_applicable"}]
    )
    episode: EpisodeDates | None = None


class ScreeningPublic(BaseModel):
    patient: str
    trial: str
    answers: dict[str, Any]
    version: int
    updated_at: dt.datetime | None
    decisions: list[DecisionPublic]
    episode: EpisodeDates | None = None
    computed: dict[str, Any] = Field(
        default_factory=dict, description="fields computed from the episode's dates at the index date"
    )

    @classmethod
    def of(cls, view: ScreeningView) -> ScreeningPublic:
        episode = view.episode
        return cls(
            patient=view.pseudonym,
            trial=view.trial,
            answers=view.answers,
            version=view.version,
            updated_at=view.updated_at,
            decisions=[DecisionPublic.of(d, view.pseudonym) for d in view.decisions],
            episode=None
            if episode is None
            else EpisodeDates(
                index_date=episode.index_date,
                date_of_birth=episode.date_of_birth,
                symptom_onset_date=episode.symptom_onset_date,
            ),
            computed=view.computed,
        )


class ResolveRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=500, description="why the identity is needed; audited")


class PatientIdentifiers(BaseModel):
    """The hospital identifiers behind a pseudonym (audited)."""

    pseudonym: str
    hospital_id: str
    name: str | None
    birth_date: dt.date | None
    sex: str | None

    @classmethod
    def of(cls, patient: Patient) -> PatientIdentifiers:
        return cls(
            pseudonym=patient.pseudonym,
            hospital_id=patient.hospital_id,
            name=patient.name,
            birth_date=patient.birth_date,
            sex=patient.sex,
        )


class ReevaluationRequest(BaseModel):
    all: bool = Field(default=False, description="re-evaluate every decision, not only those a date may have changed")
    date: dt.date | None = Field(default=None, description="evaluation date (default: today, UTC)")


class ReevaluationPublic(BaseModel):
    date: dt.date
    patients: int
    evaluated: int
    created: int
    changed: int

    @classmethod
    def of(cls, on: dt.date, report: ReevaluationReport) -> ReevaluationPublic:
        return cls(
            date=on,
            patients=report.patients,
            evaluated=report.evaluated,
            created=report.created,
            changed=report.changed,
        )
