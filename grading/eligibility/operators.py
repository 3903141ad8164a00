"""The closed set of criterion tests a rule-set file may use.

| op | kind | meaning |
|---|---|---|
| ``endplate_change`` | imaging | an endplate's type contains one of ``types_any``, its size in ``sizes`` (if given) |
| ``mri_within_months`` | imaging | the study date is at most ``months`` calendar months before the evaluation date |
| ``number_in_range`` | clinical | a numeric field within ``at_least``/``more_than`` and ``at_most``/``less_than`` |
| ``boolean_is`` | clinical | a yes/no field equals ``value`` |
| ``greater_than_field`` | clinical | a numeric field is strictly greater than another (back pain > leg pain) |
| ``item_absent`` | exclusion | a yes/no exclusion item is answered no (or "not applicable") |

A missing input (no grading, no study date, an unanswered field, an endplate that is not assessable
and could decide) gives *unknown*.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from grading.eligibility.episode import add_months
from grading.eligibility.fields import NOT_APPLICABLE, Answer, format_answer
from grading.eligibility.schema import LocatedValue
from grading.eligibility.vocabulary import CriterionKind, FieldKind, Outcome
from grading.nordic import ModicComponent, Size, StudyGrading


@dataclass(frozen=True)
class Facts:
    """Everything a criterion may look at."""

    grading: StudyGrading | None
    """The grading that counts for the patient, or ``None`` when no MRI has been graded."""
    study_date: dt.date | None
    """The date of the graded MRI study, ``None`` when unknown."""
    answers: Mapping[str, Answer]
    """Validated screening answers; a missing key is unknown."""
    evaluation_date: dt.date
    """The day the decision is made; time-dependent criteria are judged against it."""


class Operator(abc.ABC):
    """A declarative test of one criterion."""

    op: ClassVar[str]
    """The operator's name in rule-set files."""
    kinds: ClassVar[tuple[CriterionKind, ...]]
    """The criterion kinds that may use this operator."""
    reads_dates: ClassVar[bool] = False
    """True when the outcome depends on the study date and the evaluation date."""
    accepts_not_applicable: ClassVar[bool] = False
    """True when the test reads a "not applicable" answer (only an exclusion item can be satisfied by it)."""

    @classmethod
    @abc.abstractmethod
    def from_node(cls, node: LocatedValue) -> Operator:
        """Parse the operator's arguments from a rule-set file."""

    @abc.abstractmethod
    def to_mapping(self) -> dict[str, Any]:
        """The JSON form, as in rule-set files."""

    @abc.abstractmethod
    def evaluate(self, facts: Facts) -> tuple[Outcome, str]:
        """The outcome and its evidence text."""

    def fields(self) -> dict[str, tuple[FieldKind, ...]]:
        """The screening fields read, each with the field kinds it accepts."""
        return {}

    def next_change(self, study_date: dt.date | None, evaluation_date: dt.date) -> dt.date | None:
        """The first day after ``evaluation_date`` on which the outcome may change by time alone."""
        return None


_NUMERIC = (FieldKind.INTEGER, FieldKind.NUMBER)
_BOOLEAN = (FieldKind.BOOLEAN,)


def _not_recorded(name: str) -> tuple[Outcome, str]:
    return Outcome.UNKNOWN, f"{name} not recorded"


def _number(facts: Facts, name: str) -> int | float | None:
    """A numeric answer (numeric fields never hold "not applicable"), ``None`` when not recorded."""
    value = facts.answers.get(name)
    return None if value is None or isinstance(value, str) else value


@dataclass(frozen=True)
class EndplateChange(Operator):
    """Some endplate has a type containing one of ``types_any`` and, if ``sizes`` is given, a size in it."""

    op: ClassVar[str] = "endplate_change"
    kinds: ClassVar[tuple[CriterionKind, ...]] = (CriterionKind.IMAGING,)

    types_any: frozenset[ModicComponent]
    sizes: frozenset[Size] | None = None

    @classmethod
    def from_node(cls, node: LocatedValue) -> EndplateChange:
        node.mapping(("op", "types_any", "sizes"))
        components = frozenset(
            ModicComponent(e.choice(c.value for c in ModicComponent)) for e in node.child("types_any").elements()
        )
        sizes_node = node.optional("sizes")
        sizes = (
            None
            if sizes_node is None
            else frozenset(Size(e.choice(s.value for s in Size)) for e in sizes_node.elements())
        )
        return cls(components, sizes)

    def to_mapping(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "op": self.op,
            "types_any": [c.value for c in sorted(self.types_any, key=lambda c: c.rank)],
        }
        if self.sizes is not None:
            data["sizes"] = sorted(s.value for s in self.sizes)
        return data

    def requirement(self) -> str:
        """The rule in words, e.g. ``type containing I, II or III and size B, C or D``."""
        names = [c.value for c in sorted(self.types_any, key=lambda c: c.rank)]
        text = "type containing " + _or_list(names)
        if self.sizes is not None:
            text += " and size " + _or_list(sorted(s.value for s in self.sizes))
        return text

    def evaluate(self, facts: Facts) -> tuple[Outcome, str]:
        if facts.grading is None:
            return Outcome.UNKNOWN, "no graded MRI"
        qualifying = []
        changes = []
        for g in facts.grading.endplates:
            if g.type is not None and g.type.components:
                changes.append(g)
                if g.type.components & self.types_any and (self.sizes is None or g.size in self.sizes):
                    qualifying.append(g)
        if qualifying:
            return Outcome.MET, "; ".join(g.evidence() for g in qualifying)
        unread = facts.grading.not_assessable
        if unread:
            # An endplate that could not be read might qualify: unknown, unless another one decides.
            return Outcome.UNKNOWN, "; ".join(g.evidence() for g in (*changes, *unread))
        if not changes:
            return Outcome.NOT_MET, "no Modic change at any endplate"
        found = "; ".join(g.evidence() for g in changes)
        return Outcome.NOT_MET, f"no endplate with {self.requirement()} ({found})"


@dataclass(frozen=True)
class MriWithinMonths(Operator):
    """The MRI was taken at most ``months`` calendar months before the evaluation date.

    Inclusive: an MRI of 15 January is within 3 months up to and including 15 April. An MRI dated
    after the evaluation date cannot have been seen then: the criterion is unknown until the dates
    are corrected.
    """

    op: ClassVar[str] = "mri_within_months"
    kinds: ClassVar[tuple[CriterionKind, ...]] = (CriterionKind.IMAGING,)
    reads_dates: ClassVar[bool] = True

    months: int

    @classmethod
    def from_node(cls, node: LocatedValue) -> MriWithinMonths:
        node.mapping(("op", "months"))
        return cls(node.child("months").positive_integer())

    def to_mapping(self) -> dict[str, Any]:
        return {"op": self.op, "months": self.months}

    def evaluate(self, facts: Facts) -> tuple[Outcome, str]:
        if facts.study_date is None:
            return Outcome.UNKNOWN, "MRI study date unknown"
        limit = add_months(facts.study_date, self.months)
        where = f"MRI of {facts.study_date.isoformat()}, evaluated {facts.evaluation_date.isoformat()}"
        if facts.study_date > facts.evaluation_date:
            return Outcome.UNKNOWN, f"{where}: the MRI is dated after the evaluation date (check the dates)"
        if facts.evaluation_date <= limit:
            return Outcome.MET, f"{where}: within {self.months} months (until {limit.isoformat()})"
        return Outcome.NOT_MET, f"{where}: older than {self.months} months (expired after {limit.isoformat()})"

    def next_change(self, study_date: dt.date | None, evaluation_date: dt.date) -> dt.date | None:
        if study_date is None:
            return None
        if study_date > evaluation_date:
            return study_date
        limit = add_months(study_date, self.months)
        return limit + dt.timedelta(days=1) if evaluation_date <= limit else None


@dataclass(frozen=True)
class NumberInRange(Operator):
    """A numeric answer within optional lower and upper bounds, each inclusive or exclusive."""

    op: ClassVar[str] = "number_in_range"
    kinds: ClassVar[tuple[CriterionKind, ...]] = (CriterionKind.CLINICAL,)

    field: str
    lower: float | None = None
    lower_inclusive: bool = True
    upper: float | None = None
    upper_inclusive: bool = True

    @classmethod
    def from_node(cls, node: LocatedValue) -> NumberInRange:
        data = node.mapping(("op", "field", "at_least", "more_than", "at_most", "less_than"))
        if "at_least" in data and "more_than" in data:
            raise node.error("give at most one of at_least and more_than")
        if "at_most" in data and "less_than" in data:
            raise node.error("give at most one of at_most and less_than")
        if not any(k in data for k in ("at_least", "more_than", "at_most", "less_than")):
            raise node.error("give a bound: at_least, more_than, at_most or less_than")
        field = node.child("field").string()
        lower_node = node.optional("at_least") or node.optional("more_than")
        upper_node = node.optional("at_most") or node.optional("less_than")
        lower = None if lower_node is None else lower_node.number()
        upper = None if upper_node is None else upper_node.number()
        if lower is not None and upper is not None and lower > upper:
            raise node.error(f"lower bound {lower:g} is greater than upper bound {upper:g}")
        return cls(field, lower, "more_than" not in data, upper, "less_than" not in data)

    def to_mapping(self) -> dict[str, Any]:
        data: dict[str, Any] = {"op": self.op, "field": self.field}
        if self.lower is not None:
            data["at_least" if self.lower_inclusive else "more_than"] = _plain(self.lower)
        if self.upper is not None:
            data["at_most" if self.upper_inclusive else "less_than"] = _plain(self.upper)
        return data

    def fields(self) -> dict[str, tuple[FieldKind, ...]]:
        return {self.field: _NUMERIC}

    def requirement(self) -> str:
        """The range in words, e.g. ``at least 18 and at most 60``."""
        parts = []
        if self.lower is not None:
            parts.append(f"{'at least' if self.lower_inclusive else 'more than'} {self.lower:g}")
        if self.upper is not None:
            parts.append(f"{'at most' if self.upper_inclusive else 'less than'} {self.upper:g}")
        return " and ".join(parts)

    def evaluate(self, facts: Facts) -> tuple[Outcome, str]:
        value = _number(facts, self.field)
        if value is None:
            return _not_recorded(self.field)
        ok = True
        if self.lower is not None:
            ok = ok and (value >= self.lower if self.lower_inclusive else value > self.lower)
        if self.upper is not None:
            ok = ok and (value <= self.upper if self.upper_inclusive else value < self.upper)
        return Outcome.from_met(ok), f"{self.field} {format_answer(value)} (required: {self.requirement()})"


@dataclass(frozen=True)
class _YesNoItem(Operator):
    """A test of one yes/no answer: unknown while it is not recorded."""

    field: str

    def fields(self) -> dict[str, tuple[FieldKind, ...]]:
        return {self.field: _BOOLEAN}

    def evaluate(self, facts: Facts) -> tuple[Outcome, str]:
        value = facts.answers.get(self.field)
        if value is None:
            return _not_recorded(self.field)
        return self.judge(value)

    @abc.abstractmethod
    def judge(self, value: Answer) -> tuple[Outcome, str]:
        """The outcome and its evidence text for the recorded answer ``value``."""


@dataclass(frozen=True)
class BooleanIs(_YesNoItem):
    """A yes/no answer equals ``value`` (e.g. reads and speaks Danish)."""

    op: ClassVar[str] = "boolean_is"
    kinds: ClassVar[tuple[CriterionKind, ...]] = (CriterionKind.CLINICAL,)

    value: bool = True

    @classmethod
    def from_node(cls, node: LocatedValue) -> BooleanIs:
        node.mapping(("op", "field", "value"))
        return cls(node.child("field").string(), node.child("value").boolean())

    def to_mapping(self) -> dict[str, Any]:
        return {"op": self.op, "field": self.field, "value": self.value}

    def judge(self, value: Answer) -> tuple[Outcome, str]:
        return Outcome.from_met(value is self.value), f"{self.field}: {format_answer(value)}"


@dataclass(frozen=True)
class GreaterThanField(Operator):
    """One numeric answer is strictly greater than another (e.g. back pain greater than leg pain)."""

    op: ClassVar[str] = "greater_than_field"
    kinds: ClassVar[tuple[CriterionKind, ...]] = (CriterionKind.CLINICAL,)

    field: str
    other: str

    @classmethod
    def from_node(cls, node: LocatedValue) -> GreaterThanField:
        node.mapping(("op", "field", "other"))
        field = node.child("field").string()
        other = node.child("other").string()
        if field == other:
            raise node.child("other").error(f"must differ from field {field!r}")
        return cls(field, other)

    def to_mapping(self) -> dict[str, Any]:
        return {"op": self.op, "field": self.field, "other": self.other}

    def fields(self) -> dict[str, tuple[FieldKind, ...]]:
        return {self.field: _NUMERIC, self.other: _NUMERIC}

    def evaluate(self, facts: Facts) -> tuple[Outcome, str]:
        value = _number(facts, self.field)
        other = _number(facts, self.other)
        if value is None:
            return _not_recorded(self.field)
        if other is None:
            return _not_recorded(self.other)
        shown = f"{self.field} {format_answer(value)}, {self.other} {format_answer(other)}"
        if value > other:
            return Outcome.MET, f"{shown}: {self.field} is greater"
        return Outcome.NOT_MET, f"{shown}: {self.field} is not greater"


@dataclass(frozen=True)
class ItemAbsent(_YesNoItem):
    """A yes/no exclusion item must be answered no."""

    op: ClassVar[str] = "item_absent"
    kinds: ClassVar[tuple[CriterionKind, ...]] = (CriterionKind.EXCLUSION,)
    accepts_not_applicable: ClassVar[bool] = True

    @classmethod
    def from_node(cls, node: LocatedValue) -> ItemAbsent:
        node.mapping(("op", "field"))
        return cls(node.child("field").string())

    def to_mapping(self) -> dict[str, Any]:
        return {"op": self.op, "field": self.field}

    def judge(self, value: Answer) -> tuple[Outcome, str]:
        if value == NOT_APPLICABLE:
            return Outcome.MET, f"{self.field}: not applicable"
        if value:
            return Outcome.NOT_MET, f"{self.field}: yes (excluded)"
        return Outcome.MET, f"{self.field}: no"


OPERATORS: dict[str, type[Operator]] = {
    cls.op: cls for cls in (EndplateChange, MriWithinMonths, NumberInRange, BooleanIs, GreaterThanField, ItemAbsent)
}
"""Every operator by its name in rule-set files."""


def parse_operator(node: LocatedValue, kind: CriterionKind) -> Operator:
    """The operator described at ``node``, checked to fit a criterion of ``kind``."""
    name = node.child("op").choice(OPERATORS)
    operator_class = OPERATORS[name]
    if kind not in operator_class.kinds:
        allowed = ", ".join(op for op, cls in OPERATORS.items() if kind in cls.kinds)
        raise node.child("op").error(f"{name!r} cannot test a {kind.value} criterion; allowed: {allowed}")
    return operator_class.from_node(node)


def _or_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _plain(value: float) -> int | float:
    return int(value) if value.is_integer() else value
