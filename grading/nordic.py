"""The Nordic Modic Consensus classification of one endplate and of a whole study.

Type (Modic 1988; Nordic Modic Consensus Group) is a set of components I, II and III, written
canonically ascending and ``/``-joined; size is the maximum height of the change as its depth of
extension into the vertebral body (Jensen 2012, Figure 1: "A: Endplate only, B: > endplate to 25%,
C: 25 to 50%, and D: > 50%"). See ``docs/nordic.md`` (types, sizes) and ``docs/sources.md``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from grading.endplates import ENDPLATES, Endplate
from grading.errors import GradingError, GradingErrors


class ModicComponent(enum.Enum):
    """One Modic type component; mixed types hold several."""

    I = "I"  # noqa: E741 - the name of the type in the literature
    """Type I: low T1, high T2, high STIR: oedema, fissured endplate, granulation tissue."""
    II = "II"
    """Type II: high T1, iso to high T2, low STIR: fatty replacement of marrow."""
    III = "III"
    """Type III: low T1, low T2, low STIR: sclerosis."""

    @property
    def rank(self) -> int:
        """Position in the canonical order I < II < III."""
        return ("I", "II", "III").index(self.value)


NONE_LABEL = "none"
TYPE_LABELS: tuple[str, ...] = ("none", "I", "II", "III", "I/II", "I/III", "II/III", "I/II/III")
"""Every canonical type label, in the project's reporting order."""


@dataclass(frozen=True)
class ModicType:
    """A Modic type as a set of components; the empty set is ``none``."""

    components: frozenset[ModicComponent]

    def __post_init__(self) -> None:
        if not isinstance(self.components, frozenset) or not all(
            isinstance(c, ModicComponent) for c in self.components
        ):
            raise GradingError(f"type components must be a frozenset of ModicComponent, got {self.components!r}")

    @classmethod
    def parse(cls, text: object) -> ModicType:
        """Parse ``none``, ``I``, ``II/I``, ``i/ii`` …; reject unknown or repeated components."""
        allowed = ", ".join(TYPE_LABELS)
        if not isinstance(text, str):
            raise GradingError(f"type {text!r} is not a string; allowed: {allowed}")
        cleaned = text.strip()
        if cleaned.lower() == NONE_LABEL:
            return cls(frozenset())
        parts = [p.strip().upper() for p in cleaned.split("/")]
        components: set[ModicComponent] = set()
        for part in parts:
            try:
                component = ModicComponent(part)
            except ValueError:
                raise GradingError(f"type {text!r} is not a Modic type; allowed: {allowed}") from None
            if component in components:
                raise GradingError(f"type {text!r} repeats component {part}; allowed: {allowed}")
            components.add(component)
        return cls(frozenset(components))

    @property
    def is_none(self) -> bool:
        """True when no Modic change is present."""
        return not self.components

    def __contains__(self, component: object) -> bool:
        return component in self.components

    def __str__(self) -> str:
        if not self.components:
            return NONE_LABEL
        return "/".join(c.value for c in sorted(self.components, key=lambda c: c.rank))


class Size(enum.Enum):
    """Maximum height of a Modic change as extension into the vertebral body (Jensen 2012, Fig. 1)."""

    A = "A"
    """Endplate only."""
    B = "B"
    """Beyond the endplate, up to 25 % of vertebral body height."""
    C = "C"
    """More than 25 %, up to 50 %."""
    D = "D"
    """More than 50 %."""

    @property
    def beyond_endplate(self) -> bool:
        """True for B, C and D: the rest-vs-exercise trial's MRI criterion ("extended beyond the endplate")."""
        return self is not Size.A

    @classmethod
    def parse(cls, text: object) -> Size:
        """Parse ``A``–``D`` (case-insensitive)."""
        allowed = ", ".join(s.value for s in cls)
        if isinstance(text, str):
            try:
                return cls(text.strip().upper())
            except ValueError:
                pass
        raise GradingError(f"size {text!r} is not a size; allowed: {allowed}")


def size_from_extension(extension_pct: float) -> Size:
    """The size class of a change extending ``extension_pct`` % into the vertebral body.

    Boundaries (docs/nordic.md#sizes): 0 → A, (0, 25] → B, (25, 50] → C, > 50 → D.
    """
    if isinstance(extension_pct, bool) or not isinstance(extension_pct, (int, float)):
        raise GradingError(f"extension_pct {extension_pct!r} is not a number; allowed: 0 to 100")
    if math.isnan(extension_pct) or not 0 <= extension_pct <= 100:
        raise GradingError(f"extension_pct {extension_pct!r} is out of range; allowed: 0 to 100")
    if extension_pct == 0:
        return Size.A
    if extension_pct <= 25:
        return Size.B
    if extension_pct <= 50:
        return Size.C
    return Size.D


_ENDPLATE_FIELDS = ("type", "size", "extension_pct")
_FIELD_SET = frozenset(_ENDPLATE_FIELDS)


@dataclass(frozen=True)
class EndplateGrading:
    """The grading of one endplate: type, size (iff type is not none), optional extension %."""

    endplate: Endplate
    type: ModicType
    size: Size | None = None
    extension_pct: float | None = None

    def __post_init__(self) -> None:
        where = self.endplate.value
        if self.type.is_none:
            if self.size is not None:
                raise GradingError(
                    f"{where}: size {self.size.value!r} must be absent when type is 'none'",
                    endplate=where,
                    field="size",
                )
            if self.extension_pct is not None:
                raise GradingError(
                    f"{where}: extension_pct must be absent when type is 'none'",
                    endplate=where,
                    field="extension_pct",
                )
            return
        if self.size is None:
            raise GradingError(
                f"{where}: size is required when type is {str(self.type)!r}; allowed: A, B, C, D",
                endplate=where,
                field="size",
            )
        if self.extension_pct is not None:
            try:
                derived = size_from_extension(self.extension_pct)
            except GradingError as exc:
                raise GradingError(f"{where}: {exc.message}", endplate=where, field="extension_pct") from None
            if derived is not self.size:
                raise GradingError(
                    f"{where}: extension_pct {self.extension_pct:g} gives size {derived.value}, "
                    f"which contradicts size {self.size.value!r}",
                    endplate=where,
                    field="extension_pct",
                )

    @classmethod
    def from_mapping(cls, endplate: Endplate, data: object) -> EndplateGrading:
        """Build from a JSON-like mapping ``{"type", "size"?, "extension_pct"?}``.

        A missing size is derived from ``extension_pct`` when that is given. Values are immutable,
        so the same input (every grading repeats a few) is parsed once and the result shared; the
        cache and the benchmark that justifies it are described at ``_PARSED`` below.
        """
        if not isinstance(data, dict) or not _FIELD_SET.issuperset(data):
            return cls._parse(endplate, data)
        extension = data.get("extension_pct")
        # A missing field reads as None, as in _parse; the type keeps 1 and True apart.
        key = (endplate, data.get("type"), data.get("size"), extension, type(extension))
        try:
            parsed = _PARSED.get(key)
        except TypeError:  # an unhashable value (a list, say): parsed, and refused, below
            return cls._parse(endplate, data)
        if parsed is None:
            parsed = cls._parse(endplate, data)
            if len(_PARSED) < _PARSED_MAX:
                _PARSED[key] = parsed
        return parsed

    @classmethod
    def _parse(cls, endplate: Endplate, data: object) -> EndplateGrading:
        where = endplate.value
        if not isinstance(data, Mapping):
            raise GradingError(
                f"{where}: expected an object with 'type' (and 'size'), got {data!r}", endplate=where, field="type"
            )
        unknown = sorted(str(k) for k in data if k not in _ENDPLATE_FIELDS)
        if unknown:
            raise GradingError(
                f"{where}: unknown field {unknown[0]!r}; allowed: {', '.join(_ENDPLATE_FIELDS)}",
                endplate=where,
                field=unknown[0],
            )
        if data.get("type") is None:
            raise GradingError(
                f"{where}: type is required; allowed: {', '.join(TYPE_LABELS)}", endplate=where, field="type"
            )
        try:
            modic_type = ModicType.parse(data["type"])
        except GradingError as exc:
            raise GradingError(f"{where}: {exc.message}", endplate=where, field="type") from None
        extension = data.get("extension_pct")
        if extension is not None:
            try:
                derived = size_from_extension(extension)
            except GradingError as exc:
                raise GradingError(f"{where}: {exc.message}", endplate=where, field="extension_pct") from None
        raw_size = data.get("size")
        size: Size | None = None
        if raw_size is not None:
            try:
                size = Size.parse(raw_size)
            except GradingError as exc:
                raise GradingError(f"{where}: {exc.message}", endplate=where, field="size") from None
        elif extension is not None and not modic_type.is_none:
            size = derived
        return cls(endplate, modic_type, size, None if extension is None else float(extension))

    def to_mapping(self) -> dict[str, Any]:
        """The canonical JSON form: every key present, ``None`` where absent."""
        return {
            "type": str(self.type),
            "size": None if self.size is None else self.size.value,
            "extension_pct": self.extension_pct,
        }

    @property
    def has_change(self) -> bool:
        """True when any Modic change is present."""
        return not self.type.is_none

    @property
    def beyond_endplate(self) -> bool:
        """True when a change extends beyond the endplate (size B, C or D)."""
        return self.size is not None and self.size.beyond_endplate

    def evidence(self) -> str:
        """A one-line description used as eligibility evidence, e.g. ``L4_inf: type I, size C``."""
        if self.type.is_none:
            return f"{self.endplate.value}: no Modic change"
        assert self.size is not None
        return f"{self.endplate.value}: type {self.type}, size {self.size.value}"


_PARSED: dict[tuple[Any, ...], EndplateGrading] = {}
"""Endplate gradings parsed so far, by endplate and input fields (see :meth:`EndplateGrading.from_mapping`).

Why a process-wide cache in the pure domain: both callers of the parser need it, request bodies
(``POST``/``PUT`` of a grading, ``StudyGrading.from_mapping``) and stored versions (eligibility
re-evaluation, ``registry.services.eligibility.grading_from_stored``), and a grading repeats a few
values (most endplates ``none``), so a handful of entries serve almost every input. It holds immutable
values only, answers exactly as a fresh parse (``tests/grading/test_nordic.py``), and is bounded.
Measured with ``python bench/run.py parse`` (the two ways alternating in one process, medians of 5)
on a shared 2-core machine: 20,000 stored gradings 1.92 s against 8.48 s fresh (0.23x), a request
body 51 µs against 410 µs (0.12x). End to end, ``python bench/run.py grading`` alternating runs with
and without the cache: ``POST`` throughput 0.37x and 0.39x the bare endpoint with it, 0.28x and 0.20x
without.
"""
_PARSED_MAX = 100_000


@dataclass(frozen=True)
class StudyGrading:
    """A complete grading of one study: exactly the 11 endplates, L1_sup to S1_sup."""

    endplates: tuple[EndplateGrading, ...]

    def __post_init__(self) -> None:
        got = tuple(g.endplate for g in self.endplates)
        if got != ENDPLATES:
            missing = [e.value for e in ENDPLATES if e not in got]
            raise GradingError(
                f"a study grading needs each of the 11 endplates once, in order; "
                f"missing: {', '.join(missing) or 'none'}"
            )

    @classmethod
    def from_mapping(cls, data: object) -> StudyGrading:
        """Build from ``{"L1_sup": {...}, ...}``, reporting every problem at once.

        Raises :class:`GradingErrors` listing each bad endplate with its field.
        """
        if not isinstance(data, Mapping):
            raise GradingErrors(
                [GradingError(f"endplates must be an object keyed by endplate id, got {data!r}", field="endplates")]
            )
        errors: list[GradingError] = []
        allowed = ", ".join(e.value for e in ENDPLATES)
        for key in data:
            if not isinstance(key, str) or key not in Endplate.__members__:
                errors.append(
                    GradingError(
                        f"endplate {key!r} is unknown; allowed: {allowed}", endplate=str(key), field="endplate"
                    )
                )
        gradings: list[EndplateGrading] = []
        for endplate in ENDPLATES:
            if endplate.value not in data:
                errors.append(
                    GradingError(
                        f"{endplate.value}: endplate is missing; all 11 endplates L1_sup to S1_sup are required",
                        endplate=endplate.value,
                        field="endplate",
                    )
                )
                continue
            try:
                gradings.append(EndplateGrading.from_mapping(endplate, data[endplate.value]))
            except GradingError as exc:
                errors.append(exc)
        if errors:
            raise GradingErrors(errors)
        return cls(tuple(gradings))

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str, str | None]]) -> StudyGrading:
        """Build from ``(endplate, type, size)`` triples, in any order (a convenience for tests)."""
        return cls.from_mapping({e: {"type": t, "size": s} for e, t, s in pairs})

    def __getitem__(self, endplate: Endplate | str) -> EndplateGrading:
        key = endplate if isinstance(endplate, Endplate) else Endplate.parse(endplate)
        return self.endplates[ENDPLATES.index(key)]

    def to_mapping(self) -> dict[str, dict[str, Any]]:
        """The canonical JSON form keyed by endplate id, in anatomical order."""
        return {g.endplate.value: g.to_mapping() for g in self.endplates}

    @property
    def changes(self) -> tuple[EndplateGrading, ...]:
        """The endplates with any Modic change, cranial to caudal."""
        return tuple(g for g in self.endplates if g.has_change)


def all_none() -> StudyGrading:
    """A grading with no Modic change at any endplate."""
    return StudyGrading(tuple(EndplateGrading(e, ModicType(frozenset())) for e in ENDPLATES))
