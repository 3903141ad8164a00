"""The registry's tables. Importing this package registers every table on ``SQLModel.metadata``."""

from registry.models.assignments import Assignment
from registry.models.audit import AuditEvent
from registry.models.eligibility import EligibilityDecision, FeedCounter, ScreeningRecord
from registry.models.enrolment import Allocation, AllocationStream, Enrolment
from registry.models.gradings import Grading, GradingKind, GradingVersion
from registry.models.imaging import Instance
from registry.models.jobs import BackgroundJob
from registry.models.pulls import Pull, PullItem, PullOutcome, PullStatus
from registry.models.reliability import (
    ENFORCED_BLINDING,
    Blinding,
    OrderScheme,
    RaterRole,
    ReliabilityCase,
    ReliabilityRater,
    ReliabilityStudy,
    Sampling,
    SeriesViewed,
    WorklistItem,
)
from registry.models.sr_store import SrDelivery, SrDeliveryStatus
from registry.models.studies import Patient, Series, Study
from registry.models.users import ApiToken, Revocations, Role, User

__all__ = [
    "ENFORCED_BLINDING",
    "Allocation",
    "AllocationStream",
    "ApiToken",
    "Assignment",
    "AuditEvent",
    "BackgroundJob",
    "Blinding",
    "EligibilityDecision",
    "Enrolment",
    "FeedCounter",
    "Grading",
    "GradingKind",
    "GradingVersion",
    "Instance",
    "OrderScheme",
    "Patient",
    "Pull",
    "PullItem",
    "PullOutcome",
    "PullStatus",
    "RaterRole",
    "ReliabilityCase",
    "ReliabilityRater",
    "ReliabilityStudy",
    "Revocations",
    "Role",
    "Sampling",
    "ScreeningRecord",
    "Series",
    "SeriesViewed",
    "SrDelivery",
    "SrDeliveryStatus",
    "Study",
    "User",
    "WorklistItem",
]
