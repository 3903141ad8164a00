"""Closed vocabularies of trial eligibility (docs/eligibility.md)."""

from __future__ import annotations

import enum
from collections.abc import Iterable


class CriterionKind(enum.Enum):
    """What a criterion is judged from."""

    IMAGING = "imaging"
    """Judged from the MRI: the study grading and the study date."""
    CLINICAL = "clinical"
    """An inclusion criterion judged from screening answers (age, pain, duration, ...)."""
    EXCLUSION = "exclusion"
    """An exclusion item answered yes/no at screening; met when the item is absent."""


class Outcome(enum.StrEnum):
    """The three-valued result of one criterion (docs/eligibility.md#rule-sets-are-data: met / not met / unknown)."""

    MET = "met"
    """The data show the criterion is fulfilled."""
    NOT_MET = "not_met"
    """The data show the criterion is not fulfilled."""
    UNKNOWN = "unknown"
    """The data needed to judge the criterion are missing."""

    @property
    def met(self) -> bool | None:
        """``True``, ``False`` or ``None`` (unknown), the feed's ``met`` value."""
        if self is Outcome.MET:
            return True
        if self is Outcome.NOT_MET:
            return False
        return None

    @classmethod
    def from_met(cls, met: bool | None) -> Outcome:
        """The outcome whose :attr:`met` is ``met``."""
        if met is None:
            return cls.UNKNOWN
        return cls.MET if met else cls.NOT_MET


def combine(outcomes: Iterable[Outcome]) -> Outcome:
    """Any not met → not met; all met (or none given) → met; otherwise unknown."""
    seen = list(outcomes)
    if Outcome.NOT_MET in seen:
        return Outcome.NOT_MET
    if all(o is Outcome.MET for o in seen):
        return Outcome.MET
    return Outcome.UNKNOWN


class DecisionStatus(enum.StrEnum):
    """The overall eligibility of a patient for one trial rule set (docs/eligibility.md#rule-sets-are-data)."""

    ELIGIBLE = "eligible"
    """Every criterion is met."""
    INELIGIBLE = "ineligible"
    """At least one criterion is not met."""
    PENDING = "pending"
    """Nothing is not met but something is unknown: typically the MRI criterion is met and clinical
    screening has not been recorded yet, i.e. exactly the patients screening staff must see next."""

    @classmethod
    def from_outcome(cls, outcome: Outcome) -> DecisionStatus:
        """The status for the combined outcome of all criteria."""
        if outcome is Outcome.MET:
            return cls.ELIGIBLE
        return cls.INELIGIBLE if outcome is Outcome.NOT_MET else cls.PENDING


class FieldKind(enum.Enum):
    """The value type of a screening field."""

    INTEGER = "integer"
    """A whole number (JSON integer), e.g. age in completed years, an NRS score, the RMDQ score."""
    NUMBER = "number"
    """Any finite number, e.g. symptom duration in months."""
    BOOLEAN = "boolean"
    """Yes/no (JSON ``true``/``false``), e.g. ``danish`` or an exclusion item."""

    @property
    def numeric(self) -> bool:
        """True for integer and number fields."""
        return self is not FieldKind.BOOLEAN
