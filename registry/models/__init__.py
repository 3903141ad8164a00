"""The registry's tables. Importing this package registers every table on ``SQLModel.metadata``."""

from registry.models.assignments import Assignment
from registry.models.audit import AuditEvent
from registry.models.eligibility import EligibilityDecision, FeedCounter, ScreeningRecord
from registry.models.enrolment import Allocation, AllocationStream, Enrolment
from registry.models.gradings import Grading, GradingKind, GradingVersion
from registry.models.imaging import Instance
from registry.models.pulls import Pull, PullItem, PullOutcome, PullStatus
from registry.models.reliability import ReliabilityCase, ReliabilityRater, ReliabilityStudy, WorklistItem
from registry.models.studies import Patient, Series, Study
from registry.models.users import ApiToken, Revocations, Role, User

__all__ = [
    "Allocation",
    "AllocationStream",
    "ApiToken",
    "Assignment",
    "AuditEvent",
    "EligibilityDecision",
    "Enrolment",
    "FeedCounter",
    "Grading",
    "GradingKind",
    "GradingVersion",
    "Instance",
    "Patient",
    "Pull",
    "PullItem",
    "PullOutcome",
    "PullStatus",
    "ReliabilityCase",
    "ReliabilityRater",
    "ReliabilityStudy",
    "Revocations",
    "Role",
    "ScreeningRecord",
    "Series",
    "Study",
    "User",
    "WorklistItem",
]
