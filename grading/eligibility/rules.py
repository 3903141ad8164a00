"""Trial rule sets: versioned data files of criteria, each citing its source sentence.

A rule-set file (``rulesets/<trial>_<version>.json``) holds::

    {"format": 1, "trial": "NCT00454792", "version": "2012", "default": true, "title": "...",
     "fields": {"age_years": {"kind": "integer", "min": 0, "max": 120, "description": "..."}, ...},
     "criteria": [{"id": "age", "kind": "clinical", "text": "Age 18 to 60 years",
                   "source": {"document": "doi:10.1186/1741-7015-10-22", "quote": "(4) age from 18 to 60 years"},
                   "test": {"op": "number_in_range", "field": "age_years", "at_least": 18, "at_most": 60}}]}

The tests are the closed set of :mod:`grading.eligibility.operators`; fields are the screening
vocabulary of :mod:`grading.eligibility.fields`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grading.eligibility.episode import COMPUTATIONS
from grading.eligibility.fields import FieldSpec
from grading.eligibility.operators import Operator, parse_operator
from grading.eligibility.schema import LocatedValue, RuleSetError
from grading.eligibility.vocabulary import CriterionKind, FieldKind
from grading.errors import GradingError

FORMAT = 1
"""The rule-set file format this code reads."""

IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
"""Trial ids, versions and criterion ids: letters, digits, ``_``, ``.``, ``-``."""

_TOP_KEYS = ("format", "trial", "version", "default", "title", "fields", "criteria")
_CRITERION_KEYS = ("id", "kind", "text", "source", "test")


@dataclass(frozen=True)
class Citation:
    """The sentence of a source document a criterion implements."""

    document: str
    """The publication or registry record (docs/sources.md#trials), e.g. ``doi:10.1186/1741-7015-10-22``."""
    quote: str
    """The quoted words."""

    def to_mapping(self) -> dict[str, str]:
        """The JSON form."""
        return {"document": self.document, "quote": self.quote}


@dataclass(frozen=True)
class Criterion:
    """One inclusion or exclusion criterion of a trial."""

    id: str
    kind: CriterionKind
    text: str
    source: Citation
    test: Operator

    def to_mapping(self) -> dict[str, Any]:
        """The JSON form, as in rule-set files and ``GET /trials``."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "text": self.text,
            "source": self.source.to_mapping(),
            "test": self.test.to_mapping(),
        }


@dataclass(frozen=True)
class RuleSet:
    """A versioned set of criteria for one trial."""

    trial: str
    version: str
    default: bool
    title: str
    fields: dict[str, FieldSpec]
    criteria: tuple[Criterion, ...]

    def __post_init__(self) -> None:
        for name in ("trial", "version"):
            value = getattr(self, name)
            if not isinstance(value, str) or not IDENTIFIER.match(value):
                raise GradingError(f"rule set {name} {value!r} is not an identifier (letters, digits, _ . -)")
        if not self.criteria:
            raise GradingError(f"rule set {self.key}: at least one criterion is required")
        ids = [c.id for c in self.criteria]
        for criterion_id in ids:
            if ids.count(criterion_id) > 1:
                raise GradingError(f"rule set {self.key}: criterion id {criterion_id!r} is repeated")
        for criterion in self.criteria:
            for name, kinds in criterion.test.fields().items():
                spec = self.fields.get(name)
                if spec is None:
                    raise GradingError(
                        f"rule set {self.key}: criterion {criterion.id!r} reads field {name!r}, which is not declared; "
                        f"declared: {', '.join(sorted(self.fields))}"
                    )
                if spec.kind not in kinds:
                    raise GradingError(
                        f"rule set {self.key}: criterion {criterion.id!r} needs field {name!r} of kind "
                        f"{' or '.join(k.value for k in kinds)}, but it is {spec.kind.value}"
                    )
                if spec.not_applicable is not None and not criterion.test.accepts_not_applicable:
                    raise GradingError(
                        f"rule set {self.key}: criterion {criterion.id!r} cannot read field {name!r}, which may be "
                        "not applicable; only item_absent (an exclusion item) may"
                    )

    def __hash__(self) -> int:
        return hash(self.key)

    @property
    def key(self) -> str:
        """``trial@version``, e.g. ``NCT00454792@2012``."""
        return f"{self.trial}@{self.version}"

    @property
    def reads_dates(self) -> bool:
        """True when some criterion depends on the study and evaluation dates (e.g. MRI recency)."""
        return any(c.test.reads_dates for c in self.criteria)

    @property
    def imaging_criteria(self) -> tuple[Criterion, ...]:
        """The criteria judged from the MRI alone."""
        return tuple(c for c in self.criteria if c.kind is CriterionKind.IMAGING)

    def own_answers(self, answers: Mapping[str, object]) -> dict[str, object]:
        """The answers to this version's fields, out of a trial's screening record (which may hold
        fields of the trial's other versions)."""
        return {name: value for name, value in answers.items() if name in self.fields}

    def criterion(self, criterion_id: str) -> Criterion:
        """The criterion with id ``criterion_id``."""
        for criterion in self.criteria:
            if criterion.id == criterion_id:
                return criterion
        raise GradingError(
            f"rule set {self.key} has no criterion {criterion_id!r}; allowed: {', '.join(c.id for c in self.criteria)}"
        )

    def to_mapping(self) -> dict[str, Any]:
        """The JSON form of a rule-set file."""
        return {
            "format": FORMAT,
            "trial": self.trial,
            "version": self.version,
            "default": self.default,
            "title": self.title,
            "fields": {name: spec.to_mapping() for name, spec in self.fields.items()},
            "criteria": [c.to_mapping() for c in self.criteria],
        }


def _parse_field(name: str, node: LocatedValue) -> FieldSpec:
    node.mapping(("kind", "description", "min", "max", "not_applicable", "computed"))
    kind = FieldKind(node.child("kind").choice(k.value for k in FieldKind))
    minimum = node.optional("min")
    maximum = node.optional("max")
    not_applicable = node.optional("not_applicable")
    computed = node.optional("computed")
    try:
        return FieldSpec(
            name,
            kind,
            node.child("description").string(),
            None if minimum is None else minimum.number(),
            None if maximum is None else maximum.number(),
            None if not_applicable is None else not_applicable.string(),
            None if computed is None else computed.choice(COMPUTATIONS),
        )
    except RuleSetError:
        raise
    except GradingError as exc:
        raise node.error(exc.message) from None


def _parse_criterion(node: LocatedValue) -> Criterion:
    node.mapping(_CRITERION_KEYS)
    id_node = node.child("id")
    criterion_id = id_node.string()
    if not IDENTIFIER.match(criterion_id):
        raise id_node.error(f"{criterion_id!r} is not an identifier (letters, digits, _ . -)")
    kind = CriterionKind(node.child("kind").choice(k.value for k in CriterionKind))
    source = node.child("source")
    source.mapping(("document", "quote"))
    citation = Citation(source.child("document").string(), source.child("quote").string())
    test = parse_operator(node.child("test"), kind)
    return Criterion(criterion_id, kind, node.child("text").string(), citation, test)


def _check_fields(criterion: Criterion, test: LocatedValue, fields: dict[str, FieldSpec]) -> None:
    for name, kinds in criterion.test.fields().items():
        key = next(k for k, v in test.mapping().items() if v == name)
        spec = fields.get(name)
        if spec is None:
            raise test.child(key).error(
                f"field {name!r} is not declared in 'fields'; declared: {', '.join(sorted(fields)) or 'none'}"
            )
        if spec.kind not in kinds:
            raise test.child(key).error(
                f"field {name!r} is {spec.kind.value}; this test needs {' or '.join(k.value for k in kinds)}"
            )


def parse_rule_set(data: object, file: str) -> RuleSet:
    """Build a :class:`RuleSet` from the decoded JSON of ``file``; errors name the file and field."""
    root = LocatedValue(file, "", data)
    root.mapping(_TOP_KEYS)
    format_node = root.child("format")
    if format_node.value != FORMAT:
        raise format_node.error(f"{format_node.value!r} is not supported; allowed: {FORMAT}")
    fields = {name: _parse_field(name, node) for name, node in root.child("fields").members()}
    criteria_nodes = root.child("criteria").elements()
    criteria = tuple(_parse_criterion(node) for node in criteria_nodes)
    seen: set[str] = set()
    for criterion, node in zip(criteria, criteria_nodes, strict=True):
        if criterion.id in seen:
            raise node.child("id").error(f"criterion id {criterion.id!r} is repeated")
        seen.add(criterion.id)
        _check_fields(criterion, node.child("test"), fields)
    for node in (root.child("trial"), root.child("version")):
        if not IDENTIFIER.match(node.string()):
            raise node.error(f"{node.value!r} is not an identifier (letters, digits, _ . -)")
    try:
        return RuleSet(
            root.child("trial").string(),
            root.child("version").string(),
            root.child("default").boolean(),
            root.child("title").string(),
            fields,
            criteria,
        )
    except RuleSetError:
        raise
    except GradingError as exc:
        raise RuleSetError(file, "criteria", exc.message) from None


def parse_rule_set_text(text: str, file: str) -> RuleSet:
    """Parse the JSON text of a rule-set file."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RuleSetError(file, f"line {exc.lineno} column {exc.colno}", f"invalid JSON: {exc.msg}") from None
    return parse_rule_set(data, file)


def load_rule_set_file(path: str | Path) -> RuleSet:
    """Read and parse one rule-set file; its name must be ``<trial>_<version>.json``."""
    file = Path(path)
    rule_set = parse_rule_set_text(file.read_text(encoding="utf-8"), file.name)
    check_file_name(rule_set, file.name)
    return rule_set


def check_file_name(rule_set: RuleSet, file: str) -> None:
    """A rule-set file is named after its trial and version, so that one file is one version."""
    expected = f"{rule_set.trial}_{rule_set.version}.json"
    if file != expected:
        raise RuleSetError(
            file, "", f"the file of trial {rule_set.trial} version {rule_set.version} must be named {expected}"
        )
