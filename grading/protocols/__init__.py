"""Grading protocols: versioned data files naming the variables graded at each endplate.

One JSON file per protocol version in this package (``<id>.json``): ``nordic-2007`` (type and size,
the default) and ``nordic-2007-full`` (adds the Nordic protocol's other variables). Type and size are
the core of every protocol and are validated by :mod:`grading.nordic`; the other variables are
closed category lists with their level of measurement. See ``docs/nordic.md``.
"""

from __future__ import annotations

import enum
import functools
import importlib.resources
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grading.errors import GradingError
from grading.nordic import ExtraVariable, StudyGrading

DEFAULT_PROTOCOL = "nordic-2007"
"""The protocol of a grading that names none (and of every grading stored before protocols existed)."""

CORE_VARIABLES = ("type", "size")


class Level(enum.Enum):
    """The level of measurement of a variable, which decides how its agreement is analysed."""

    nominal = "nominal"
    ordinal = "ordinal"


class AppliesTo(enum.Enum):
    """What a variable describes."""

    change = "change"
    """A Modic change: absent when the type is ``none``."""
    endplate = "endplate"
    """The endplate, whatever its type."""


@dataclass(frozen=True)
class Category:
    """One category of a variable and its definition."""

    value: str
    definition: str


@dataclass(frozen=True)
class ProtocolVariable:
    """One variable graded at each endplate."""

    name: str
    label: str
    level: Level
    applies_to: AppliesTo
    categories: tuple[Category, ...]
    source: str
    quote: str
    core: bool = False
    requires_prior: bool = False
    """Graded only against the patient's prior graded study (development over time)."""
    definitions_found: bool = True
    note: str | None = None

    def __post_init__(self) -> None:
        if not self.categories:
            raise GradingError(f"protocol variable {self.name!r} has no categories", field=self.name)
        values = [c.value for c in self.categories]
        if len(set(values)) != len(values):
            raise GradingError(f"protocol variable {self.name!r} repeats a category: {values}", field=self.name)

    @property
    def values(self) -> tuple[str, ...]:
        """The category values, in the file's (for ordinal variables: the scale's) order."""
        return tuple(c.value for c in self.categories)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ProtocolVariable:
        """Parse one variable of a protocol file."""
        try:
            return cls(
                name=str(data["name"]),
                label=str(data["label"]),
                level=Level(data["level"]),
                applies_to=AppliesTo(data["applies_to"]),
                categories=tuple(Category(str(c["value"]), str(c["definition"])) for c in data["categories"]),
                source=str(data["source"]),
                quote=str(data["quote"]),
                core=bool(data.get("core", False)),
                requires_prior=bool(data.get("requires_prior", False)),
                definitions_found=bool(data.get("definitions_found", True)),
                note=data.get("note"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise GradingError(f"protocol variable {data.get('name')!r} is malformed: {exc}") from None

    def to_mapping(self) -> dict[str, Any]:
        """The JSON form, as in the protocol files and ``GET /api/v1/protocols``."""
        return {
            "name": self.name,
            "label": self.label,
            "level": self.level.value,
            "applies_to": self.applies_to.value,
            "core": self.core,
            "requires_prior": self.requires_prior,
            "source": self.source,
            "quote": self.quote,
            "definitions_found": self.definitions_found,
            "note": self.note,
            "categories": [{"value": c.value, "definition": c.definition} for c in self.categories],
        }


@dataclass(frozen=True)
class Protocol:
    """A versioned grading protocol."""

    id: str
    version: str
    title: str
    description: str
    source: str
    variables: tuple[ProtocolVariable, ...]

    def __post_init__(self) -> None:
        names = [v.name for v in self.variables]
        if names[: len(CORE_VARIABLES)] != list(CORE_VARIABLES) or any(
            v.core for v in self.variables[len(CORE_VARIABLES) :]
        ):
            raise GradingError(f"protocol {self.id!r} must start with the core variables type and size, got {names}")
        if len(set(names)) != len(names):
            raise GradingError(f"protocol {self.id!r} repeats a variable: {names}")

    @property
    def extra_variables(self) -> tuple[ProtocolVariable, ...]:
        """The variables beyond type and size."""
        return tuple(v for v in self.variables if not v.core)

    @functools.cached_property
    def extras(self) -> dict[str, ExtraVariable]:
        """The extra variables as the grading model validates them."""
        return {v.name: ExtraVariable(v.name, v.values, v.applies_to.value) for v in self.extra_variables}

    def parse(self, endplates: object) -> StudyGrading:
        """Validate a grading's endplates against this protocol (every problem with its endplate and field)."""
        return StudyGrading.from_mapping(endplates, self.extras)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Protocol:
        """Parse a protocol file."""
        return cls(
            id=str(data["id"]),
            version=str(data["version"]),
            title=str(data["title"]),
            description=str(data["description"]),
            source=str(data["source"]),
            variables=tuple(ProtocolVariable.from_mapping(v) for v in data["variables"]),
        )

    def to_mapping(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "description": self.description,
            "source": self.source,
            "variables": [v.to_mapping() for v in self.variables],
        }


@functools.cache
def protocols() -> dict[str, Protocol]:
    """Every protocol shipped with the package, by id, in id order."""
    found: dict[str, Protocol] = {}
    for entry in sorted(importlib.resources.files(__name__).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            protocol = Protocol.from_mapping(json.loads(entry.read_text(encoding="utf-8")))
            if entry.name != f"{protocol.id}.json":
                raise GradingError(f"protocol file {entry.name} holds protocol {protocol.id!r}")
            found[protocol.id] = protocol
    return dict(sorted(found.items()))


def get_protocol(protocol_id: object) -> Protocol:
    """The protocol named ``protocol_id`` (``None``: the default); the error lists the allowed ids."""
    if protocol_id is None:
        protocol_id = DEFAULT_PROTOCOL
    found = protocols().get(protocol_id) if isinstance(protocol_id, str) else None
    if found is None:
        raise GradingError(f"protocol {protocol_id!r} is unknown; allowed: {', '.join(protocols())}", field="protocol")
    return found


@functools.cache
def all_extras() -> dict[str, ExtraVariable]:
    """The extra variables of every protocol (for reading stored gradings whatever their protocol)."""
    merged: dict[str, ExtraVariable] = {}
    for protocol in protocols().values():
        merged.update(protocol.extras)
    return merged
