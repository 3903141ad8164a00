"""Enrolment, allocation and CONSORT shapes. Arms appear only in an enrolment's own (committed) answer
and in the allocation manager's views."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from registry.services.enrolment import Consort, EnrolmentView, Totals


class EnrolmentRequest(BaseModel):
    """Consent and enrolment of an eligible screening episode."""

    version: str | None = Field(default=None, max_length=64, description="rule-set version (default: the trial's)")
    consent_date: dt.date
    consent_by: str = Field(min_length=1, max_length=200, description="who took the consent")
    factors: dict[str, str] = Field(
        default_factory=dict,
        description="the patient's level of each minimisation factor",
        examples=[{"age_group": "40-49", "sex": "female", "heavy_smoking": "no", "hard_physical_work": "yes"}],
    )


class AllocationPublic(BaseModel):
    sequence: int
    arm: str
    allocated_at: dt.datetime


class EnrolmentPublic(BaseModel):
    patient: str
    trial: str
    rule_version: str
    consent_date: dt.date
    consent_by: str
    enrolled_at: dt.datetime
    decision: dict[str, Any] = Field(description="the eligibility decision frozen at enrolment, with provenance")
    allocation: AllocationPublic | None

    @classmethod
    def of(cls, view: EnrolmentView) -> EnrolmentPublic:
        e = view.enrolment
        a = view.allocation
        return cls(
            patient=view.pseudonym,
            trial=e.trial,
            rule_version=e.rule_version,
            consent_date=e.consent_date,
            consent_by=e.consent_by,
            enrolled_at=e.enrolled_at,
            decision=e.decision,
            allocation=None
            if a is None
            else AllocationPublic(sequence=a.sequence, arm=a.arm, allocated_at=a.allocated_at),
        )


class TotalsPublic(BaseModel):
    trial: str
    allocated: int
    per_arm: dict[str, int]
    per_level: dict[str, dict[str, dict[str, int]]]

    @classmethod
    def of(cls, totals: Totals) -> TotalsPublic:
        return cls(trial=totals.trial, allocated=totals.allocated, per_arm=totals.per_arm, per_level=totals.per_level)


class ReplayPublic(BaseModel):
    trial: str
    checked: int
    ok: bool
    mismatches: list[str]


class ConsortPublic(BaseModel):
    trial: str
    version: str
    screened: int
    mri_modic: int = Field(description="screened patients whose MRI criterion is met")
    excluded: int
    excluded_reasons: dict[str, int] = Field(description="per criterion not met (a patient may count under several)")
    pending: int
    eligible: int
    consented: int
    allocated: dict[str, int]

    @classmethod
    def of(cls, consort: Consort) -> ConsortPublic:
        return cls(**consort.__dict__)
