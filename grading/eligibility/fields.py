"""Screening fields: the closed vocabulary of clinical and exclusion answers of a trial.

Each rule-set file declares the fields its criteria read (name, kind, range, description). The
vocabulary of a trial is the union over its versions, so one screening record per patient and trial
serves every version. A missing answer (absent key or ``None``) is *unknown* (docs/eligibility.md#rule-sets-are-data).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grading.eligibility.episode import COMPUTATIONS
from grading.eligibility.vocabulary import FieldKind
from grading.errors import GradingError

FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
"""Field names are lower-case snake case identifiers."""

NOT_APPLICABLE = "not_applicable"
"""The answer to a yes/no item that cannot apply to the patient (pregnancy for a male patient)."""

Answer = int | float | bool | str
"""A recorded screening answer; the only string is :data:`NOT_APPLICABLE`."""


@dataclass(frozen=True)
class FieldSpec:
    """One screening field: its name, value kind, optional closed range and a description."""

    name: str
    kind: FieldKind
    description: str
    minimum: float | None = None
    maximum: float | None = None
    not_applicable: str | None = None
    """For a yes/no item that cannot apply to some patients: to whom (e.g. ``male patients``); such an
    item accepts the answer ``"not_applicable"``."""
    computed: str | None = None
    """The computation (:data:`grading.eligibility.episode.COMPUTATIONS`) that gives this field from the
    episode's dates at the index date; it is then not typed in."""

    def __post_init__(self) -> None:
        if not FIELD_NAME.match(self.name):
            raise GradingError(
                f"field name {self.name!r} is not a lower-case identifier (letters, digits, '_')", field=self.name
            )
        if not isinstance(self.kind, FieldKind):
            raise GradingError(f"{self.name}: kind {self.kind!r} is not a FieldKind", field=self.name)
        if not self.description.strip():
            raise GradingError(f"{self.name}: a description is required", field=self.name)
        if self.kind is FieldKind.BOOLEAN and (self.minimum is not None or self.maximum is not None):
            raise GradingError(f"{self.name}: a boolean field takes no min/max", field=self.name)
        if self.not_applicable is not None and (self.kind is not FieldKind.BOOLEAN or not self.not_applicable.strip()):
            raise GradingError(f"{self.name}: only a yes/no field may be not applicable (say to whom)", field=self.name)
        if self.computed is not None and (self.kind is FieldKind.BOOLEAN or self.computed not in COMPUTATIONS):
            raise GradingError(
                f"{self.name}: computed {self.computed!r} is not allowed; allowed: {', '.join(COMPUTATIONS)} "
                "(numeric fields only)",
                field=self.name,
            )
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise GradingError(
                f"{self.name}: min {self.minimum:g} is greater than max {self.maximum:g}", field=self.name
            )

    def allowed(self) -> str:
        """A human description of the allowed values."""
        if self.kind is FieldKind.BOOLEAN:
            return "true or false" + ("" if self.not_applicable is None else f' or "{NOT_APPLICABLE}"')
        noun = "an integer" if self.kind is FieldKind.INTEGER else "a number"
        if self.minimum is not None and self.maximum is not None:
            return f"{noun} from {self.minimum:g} to {self.maximum:g}"
        if self.minimum is not None:
            return f"{noun} of at least {self.minimum:g}"
        if self.maximum is not None:
            return f"{noun} of at most {self.maximum:g}"
        return noun

    def validate(self, value: object) -> Answer | None:
        """The value if it fits this field (``None`` = unknown); otherwise a :class:`GradingError`."""
        if value is None:
            return None
        bad = GradingError(
            f"screening field {self.name}: {value!r} is not allowed; allowed: {self.allowed()}", field=self.name
        )
        if self.kind is FieldKind.BOOLEAN:
            if value == NOT_APPLICABLE and self.not_applicable is not None:
                return NOT_APPLICABLE
            if not isinstance(value, bool):
                raise bad
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        if self.kind is FieldKind.INTEGER:
            if isinstance(value, float):
                if not value.is_integer():
                    raise bad
                value = int(value)
        elif not math.isfinite(value):
            raise bad
        if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
            raise bad
        return value

    def to_mapping(self) -> dict[str, Any]:
        """The JSON form used in rule-set files and by ``GET /trials``."""
        data: dict[str, Any] = {"kind": self.kind.value, "description": self.description}
        if self.minimum is not None:
            data["min"] = self.minimum
        if self.maximum is not None:
            data["max"] = self.maximum
        if self.not_applicable is not None:
            data["not_applicable"] = self.not_applicable
        if self.computed is not None:
            data["computed"] = self.computed
        return data


def validate_answers(fields: Mapping[str, FieldSpec], answers: Mapping[str, object]) -> dict[str, Answer]:
    """Check every answer against the vocabulary ``fields``; drop unknowns (``None``).

    Raises :class:`GradingError` naming the first bad field and the allowed names or values.
    """
    if not isinstance(answers, Mapping):
        raise GradingError(f"screening answers must be an object keyed by field name, got {answers!r}")
    checked: dict[str, Answer] = {}
    for name, value in answers.items():
        spec = fields.get(name) if isinstance(name, str) else None
        if spec is None:
            raise GradingError(
                f"screening field {name!r} is unknown; allowed: {', '.join(sorted(fields))}", field=str(name)
            )
        answer = spec.validate(value)
        if answer is not None:
            checked[name] = answer
    return checked


def format_answer(value: Answer) -> str:
    """An answer as written in evidence: ``yes``/``no`` for booleans, ``45`` or ``2.5`` for numbers."""
    if isinstance(value, str):
        return "not applicable"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:g}" if isinstance(value, float) else str(value)
