"""The registry's tables, one module per subject.

``from registry.models import User`` imports the module of ``User`` only (with the modules of the
tables its foreign keys name, which that module imports itself: a flush needs them), so a command
that touches a few tables does not build all of them. :func:`load_all` registers every table on
``SQLModel.metadata`` (the migrations, comparing the schema with them).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from registry.models.assignments import Assignment as Assignment
    from registry.models.audit import AuditEvent as AuditEvent
    from registry.models.eligibility import EligibilityDecision as EligibilityDecision
    from registry.models.eligibility import FeedCounter as FeedCounter
    from registry.models.eligibility import ScreeningRecord as ScreeningRecord
    from registry.models.enrolment import Allocation as Allocation
    from registry.models.enrolment import AllocationStream as AllocationStream
    from registry.models.enrolment import Enrolment as Enrolment
    from registry.models.gradings import Grading as Grading
    from registry.models.gradings import GradingKind as GradingKind
    from registry.models.gradings import GradingVersion as GradingVersion
    from registry.models.imaging import Instance as Instance
    from registry.models.jobs import BackgroundJob as BackgroundJob
    from registry.models.pulls import Pull as Pull
    from registry.models.pulls import PullItem as PullItem
    from registry.models.pulls import PullOutcome as PullOutcome
    from registry.models.pulls import PullStatus as PullStatus
    from registry.models.reliability import ENFORCED_BLINDING as ENFORCED_BLINDING
    from registry.models.reliability import Blinding as Blinding
    from registry.models.reliability import OrderScheme as OrderScheme
    from registry.models.reliability import RaterRole as RaterRole
    from registry.models.reliability import ReliabilityCase as ReliabilityCase
    from registry.models.reliability import ReliabilityRater as ReliabilityRater
    from registry.models.reliability import ReliabilityStudy as ReliabilityStudy
    from registry.models.reliability import Sampling as Sampling
    from registry.models.reliability import SeriesViewed as SeriesViewed
    from registry.models.reliability import WorklistItem as WorklistItem
    from registry.models.sr_store import SrDelivery as SrDelivery
    from registry.models.sr_store import SrDeliveryStatus as SrDeliveryStatus
    from registry.models.studies import Patient as Patient
    from registry.models.studies import Series as Series
    from registry.models.studies import Study as Study
    from registry.models.users import ApiToken as ApiToken
    from registry.models.users import Revocations as Revocations
    from registry.models.users import Role as Role
    from registry.models.users import User as User

MODULES: dict[str, tuple[str, ...]] = {
    "assignments": ("Assignment",),
    "audit": ("AuditEvent",),
    "eligibility": ("EligibilityDecision", "FeedCounter", "ScreeningRecord"),
    "enrolment": ("Allocation", "AllocationStream", "Enrolment"),
    "gradings": ("Grading", "GradingKind", "GradingVersion"),
    "imaging": ("Instance",),
    "jobs": ("BackgroundJob",),
    "pulls": ("Pull", "PullItem", "PullOutcome", "PullStatus"),
    "reliability": (
        "ENFORCED_BLINDING",
        "Blinding",
        "OrderScheme",
        "RaterRole",
        "ReliabilityCase",
        "ReliabilityRater",
        "ReliabilityStudy",
        "Sampling",
        "SeriesViewed",
        "WorklistItem",
    ),
    "sr_store": ("SrDelivery", "SrDeliveryStatus"),
    "studies": ("Patient", "Series", "Study"),
    "users": ("ApiToken", "Revocations", "Role", "User"),
}
"""The names this package offers, by the module that defines them."""

_HOME = {name: module for module, names in MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    """``registry.models.NAME``: imported from its module on first use."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def load_all() -> None:
    """Import every table's module: every table is then on ``SQLModel.metadata``."""
    for module in MODULES:
        importlib.import_module(f"{__name__}.{module}")
