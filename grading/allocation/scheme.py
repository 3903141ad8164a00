"""An allocation scheme as data: arms and ratio, factors and levels, imbalance, weights, probability.

A scheme file (``schemes/<trial>.json``)::

    {"format": 1, "trial": "NCT00454792", "version": "1",
     "arms": [{"name": "exercise", "ratio": 1}, {"name": "rest", "ratio": 1}],
     "factors": [{"name": "sex", "levels": ["female", "male"], "weight": 1}, ...],
     "imbalance": "range", "preferred_probability": 0.8,
     "source": {"document": "...", "quote": "..."}}

See ``docs/allocation.md`` for the algorithm.
"""

from __future__ import annotations

import enum
import functools
import importlib.resources
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grading.eligibility.schema import LocatedValue, RuleSetError
from grading.errors import GradingError

FORMAT = 1
NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
"""Arm, factor and level names: lower-case letters, digits, ``_``, ``.``, ``-``."""
SCHEMES_PACKAGE = "grading.allocation.schemes"


class Imbalance(enum.Enum):
    """How the imbalance of one factor level across arms is scored (Pocock & Simon 1975)."""

    RANGE = "range"
    """The largest minus the smallest (ratio-scaled) count."""
    VARIANCE = "variance"
    """The sample variance (denominator n - 1) of the (ratio-scaled) counts."""


@dataclass(frozen=True)
class Arm:
    """A treatment arm and its allocation ratio (an integer share, e.g. 2 in 2:1)."""

    name: str
    ratio: int = 1

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise GradingError(f"arm name {self.name!r} is not a lower-case identifier", field="arms")
        if isinstance(self.ratio, bool) or not isinstance(self.ratio, int) or self.ratio < 1:
            raise GradingError(f"arm {self.name}: ratio {self.ratio!r} is not allowed; allowed: an integer >= 1")


@dataclass(frozen=True)
class Factor:
    """A prognostic factor to balance: its levels and its weight in the total imbalance."""

    name: str
    levels: tuple[str, ...]
    weight: float = 1.0
    description: str = ""

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise GradingError(f"factor name {self.name!r} is not a lower-case identifier", field="factors")
        if len(self.levels) < 2 or len(set(self.levels)) != len(self.levels):
            raise GradingError(f"factor {self.name}: needs two or more distinct levels, got {list(self.levels)}")
        for level in self.levels:
            if not NAME.match(level):
                raise GradingError(f"factor {self.name}: level {level!r} is not a lower-case identifier")
        if not (isinstance(self.weight, (int, float)) and math.isfinite(self.weight) and self.weight > 0):
            raise GradingError(f"factor {self.name}: weight {self.weight!r} is not allowed; allowed: a number > 0")


@dataclass(frozen=True)
class Scheme:
    """The allocation scheme of one trial."""

    trial: str
    version: str
    arms: tuple[Arm, ...]
    factors: tuple[Factor, ...]
    imbalance: Imbalance
    preferred_probability: float
    """The probability of assigning the arm with the least total imbalance (1 = deterministic)."""
    source_document: str = ""
    source_quote: str = ""

    def __post_init__(self) -> None:
        names = [a.name for a in self.arms]
        if len(names) < 2 or len(set(names)) != len(names):
            raise GradingError(f"scheme {self.trial}: needs two or more distinct arms, got {names}", field="arms")
        factor_names = [f.name for f in self.factors]
        if not factor_names or len(set(factor_names)) != len(factor_names):
            raise GradingError(f"scheme {self.trial}: needs distinct factors, got {factor_names}", field="factors")
        p = self.preferred_probability
        if not (isinstance(p, (int, float)) and 1 / len(self.arms) < p <= 1):
            raise GradingError(
                f"scheme {self.trial}: preferred_probability {p!r} is not allowed; "
                f"allowed: more than 1/{len(self.arms)} and at most 1",
                field="preferred_probability",
            )
        if len({a.ratio for a in self.arms}) > 1 and p != 1:
            # The preferred-arm rule with p < 1 does not keep an unequal ratio; see docs/allocation.md.
            raise GradingError(
                f"scheme {self.trial}: unequal ratios need preferred_probability 1 (deterministic minimisation)",
                field="preferred_probability",
            )

    @property
    def arm_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.arms)

    def factor(self, name: str) -> Factor:
        for factor in self.factors:
            if factor.name == name:
                return factor
        raise GradingError(
            f"factor {name!r} is unknown; allowed: {', '.join(f.name for f in self.factors)}", field=name
        )

    def check_levels(self, levels: Mapping[str, object]) -> dict[str, str]:
        """A patient's factor levels, checked: every factor given, each a known level (errors name the factor)."""
        if not isinstance(levels, Mapping):
            raise GradingError(f"factors must be an object keyed by factor name, got {levels!r}", field="factors")
        for name in levels:
            self.factor(str(name))
        checked: dict[str, str] = {}
        for factor in self.factors:
            value = levels.get(factor.name)
            if value not in factor.levels:
                raise GradingError(
                    f"factor {factor.name}: {value!r} is not allowed; allowed: {', '.join(factor.levels)}",
                    field=factor.name,
                )
            checked[factor.name] = str(value)
        return checked

    def to_mapping(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "trial": self.trial,
            "version": self.version,
            "arms": [{"name": a.name, "ratio": a.ratio} for a in self.arms],
            "factors": [
                {"name": f.name, "levels": list(f.levels), "weight": f.weight, "description": f.description}
                for f in self.factors
            ],
            "imbalance": self.imbalance.value,
            "preferred_probability": self.preferred_probability,
            "source": {"document": self.source_document, "quote": self.source_quote},
        }


def parse_scheme(data: object, file: str) -> Scheme:
    """A :class:`Scheme` from the decoded JSON of ``file``; errors name the file and the field."""
    root = LocatedValue(file, "", data)
    root.mapping(("format", "trial", "version", "arms", "factors", "imbalance", "preferred_probability", "source"))
    if root.child("format").value != FORMAT:
        raise root.child("format").error(f"{root.child('format').value!r} is not supported; allowed: {FORMAT}")
    source = root.child("source")
    source.mapping(("document", "quote"))
    try:
        arms = []
        for node in root.child("arms").elements():
            node.mapping(("name", "ratio"))
            ratio = node.optional("ratio")
            arms.append(Arm(node.child("name").string(), 1 if ratio is None else ratio.positive_integer()))
        factors = []
        for node in root.child("factors").elements():
            node.mapping(("name", "levels", "weight", "description"))
            weight = node.optional("weight")
            description = node.optional("description")
            factors.append(
                Factor(
                    node.child("name").string(),
                    tuple(e.string() for e in node.child("levels").elements()),
                    1.0 if weight is None else weight.number(),
                    "" if description is None else description.string(),
                )
            )
        return Scheme(
            root.child("trial").string(),
            root.child("version").string(),
            tuple(arms),
            tuple(factors),
            Imbalance(root.child("imbalance").choice(i.value for i in Imbalance)),
            root.child("preferred_probability").number(),
            source.child("document").string(),
            source.child("quote").string(),
        )
    except RuleSetError:
        raise
    except GradingError as exc:
        raise RuleSetError(file, exc.field or "", exc.message) from None


@functools.cache
def packaged_schemes() -> dict[str, Scheme]:
    """The shipped schemes, by trial (one ``<trial>.json`` file each)."""
    schemes: dict[str, Scheme] = {}
    for entry in sorted(importlib.resources.files(SCHEMES_PACKAGE).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            scheme = parse_scheme(json.loads(entry.read_text(encoding="utf-8")), entry.name)
            if entry.name != f"{scheme.trial}.json":
                raise RuleSetError(
                    entry.name, "", f"the scheme of trial {scheme.trial} must be named {scheme.trial}.json"
                )
            schemes[scheme.trial] = scheme
    return schemes


def scheme_of(trial: str) -> Scheme:
    """The allocation scheme of ``trial``; an error naming the trials that have one."""
    schemes = packaged_schemes()
    if trial not in schemes:
        raise GradingError(
            f"trial {trial!r} has no allocation scheme; allowed: {', '.join(sorted(schemes))}", field="trial"
        )
    return schemes[trial]
