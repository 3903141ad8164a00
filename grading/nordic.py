"""The Nordic Modic Consensus classification of one endplate and of a whole study.

Type (Modic 1988; Nordic Modic Consensus Group) is a set of components I, II and III, written
canonically ascending and ``/``-joined; size is the maximum height of the change as its depth of
extension into the vertebral body (the 2012 trial paper, Figure 1: "A: Endplate only, B: > endplate
to 25%, C: 25 to 50%, and D: > 50%"). An endplate that cannot be read is *not assessable*, with a
reason, and has no type or size. See ``docs/nordic.md`` (types, sizes,
not assessable) and ``docs/sources.md``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from grading.endplates import ENDPLATE_IDS, ENDPLATES, Endplate
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


SIZE_UPPER_BOUNDS: tuple[tuple[float, Size], ...] = ((0.0, Size.A), (25.0, Size.B), (50.0, Size.C), (100.0, Size.D))
"""The size boundaries, written once: each size with the largest ``extension_pct`` it takes.

``extension_pct`` is the extension *beyond the endplate*, in % of vertebral body height. Figure 1
of the 2012 trial paper: "A: Endplate only, B: > endplate to 25%, C: 25 to 50%, and D: > 50%". So
A carries no percentage (or 0); B is more than 0 up to and including 25 % ("to 25%"); C is more
than 25 up to and including 50 % ("25 to 50%", starting where B ends); D is more than 50 % ("> 50%").
"""


def size_from_extension(extension_pct: float) -> Size:
    """The size class of a change extending ``extension_pct`` % of body height beyond the endplate.

    0 → A, (0, 25] → B, (25, 50] → C, (50, 100] → D (:data:`SIZE_UPPER_BOUNDS`).
    """
    if isinstance(extension_pct, bool) or not isinstance(extension_pct, (int, float)):
        raise GradingError(f"extension_pct {extension_pct!r} is not a number; allowed: 0 to 100")
    if math.isnan(extension_pct) or not 0 <= extension_pct <= 100:
        raise GradingError(f"extension_pct {extension_pct!r} is out of range; allowed: 0 to 100")
    return next(size for bound, size in SIZE_UPPER_BOUNDS if extension_pct <= bound)


class NotAssessable(enum.Enum):
    """Why an endplate could not be graded; its type and size are then absent (unknown)."""

    artefact = "artefact"
    """Motion, metal or another artefact hides the endplate."""
    outside_fov = "outside_fov"
    """The endplate lies outside the field of view."""
    transitional = "transitional"
    """Transitional lumbosacral anatomy makes the endplate's level ambiguous."""
    other = "other"
    """Another reason, given in the note (required)."""

    @classmethod
    def parse(cls, text: object) -> NotAssessable:
        """Parse a reason; the error lists the allowed ones."""
        try:
            return cls(text)
        except ValueError:
            allowed = ", ".join(r.value for r in cls)
            raise GradingError(f"not_assessable {text!r} is not a reason; allowed: {allowed}") from None


NOTE_MAX = 500
"""The longest note of a not-assessable endplate, in characters."""


class NumberingReference(enum.Enum):
    """How the levels were identified."""

    sacrum = "sacrum"
    """Counted upwards from the sacrum (S1)."""
    last_rib = "last_rib"
    """Counted downwards from the last rib-bearing vertebra."""
    other = "other"
    """Another way (e.g. from a whole-spine localiser)."""


class TransitionalVertebra(enum.Enum):
    """A lumbosacral transitional vertebra seen while numbering."""

    none = "none"
    lumbarised_s1 = "lumbarised_s1"
    sacralised_l5 = "sacralised_l5"


@dataclass(frozen=True)
class Numbering:
    """How the levels of a grading were identified, and any transitional vertebra seen."""

    reference: NumberingReference
    transitional: TransitionalVertebra

    @classmethod
    def from_mapping(cls, data: object) -> Numbering:
        """Build from ``{"reference", "transitional"}``; errors name the field and the allowed values."""
        if not isinstance(data, Mapping):
            raise GradingError(
                f"numbering must be an object with reference and transitional, got {data!r}", field="numbering"
            )
        unknown = sorted(str(k) for k in data if k not in ("reference", "transitional"))
        if unknown:
            raise GradingError(
                f"numbering: unknown field {unknown[0]!r}; allowed: reference, transitional", field="numbering"
            )
        values: list[enum.Enum] = []
        for name, kind in (("reference", NumberingReference), ("transitional", TransitionalVertebra)):
            try:
                values.append(kind(data.get(name)))
            except ValueError:
                allowed = ", ".join(v.value for v in kind)
                raise GradingError(
                    f"numbering.{name} {data.get(name)!r} is not allowed; allowed: {allowed}",
                    field=f"numbering.{name}",
                ) from None
        reference, transitional = values
        assert isinstance(reference, NumberingReference) and isinstance(transitional, TransitionalVertebra)
        return cls(reference, transitional)

    def to_mapping(self) -> dict[str, str]:
        """The JSON form."""
        return {"reference": self.reference.value, "transitional": self.transitional.value}


@dataclass(frozen=True)
class ExtraVariable:
    """A protocol variable beyond type and size, as the grading model needs it to validate a value.

    ``applies_to`` is ``"change"`` (describes a Modic change: absent when the type is ``none``) or
    ``"endplate"`` (describes the endplate whatever its type). The protocol files declare these.
    """

    name: str
    categories: tuple[str, ...]
    applies_to: str = "change"

    def check(self, where: str, value: object, has_change: bool) -> str:
        """``value`` if it is one of the categories and the variable applies; else a :class:`GradingError`."""
        if self.applies_to == "change" and not has_change:
            raise GradingError(
                f"{where}: {self.name} must be absent when type is 'none'", endplate=where, field=self.name
            )
        if not isinstance(value, str) or value not in self.categories:
            raise GradingError(
                f"{where}: {self.name} {value!r} is not allowed; allowed: {', '.join(self.categories)}",
                endplate=where,
                field=self.name,
            )
        return value


_ENDPLATE_FIELDS = ("type", "size", "extension_pct")
_FIELD_SET = frozenset(_ENDPLATE_FIELDS)
_NOT_ASSESSABLE_FIELDS = ("not_assessable", "note")


@dataclass(frozen=True)
class EndplateGrading:
    """The grading of one endplate: type, size (iff type is not none), optional extension %, and the
    protocol's other variables (``variables``, name to category); or *not assessable* with a reason,
    when type, size and every other variable are absent (``type`` is ``None``)."""

    endplate: Endplate
    type: ModicType | None
    size: Size | None = None
    extension_pct: float | None = None
    variables: tuple[tuple[str, str], ...] = ()
    not_assessable: NotAssessable | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        where = self.endplate.value
        if self.type is None or self.not_assessable is not None:
            self._check_not_assessable(where)
            return
        if self.note is not None:
            raise GradingError(f"{where}: note is only for a not-assessable endplate", endplate=where, field="note")
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

    def _check_not_assessable(self, where: str) -> None:
        if self.type is not None or self.not_assessable is None:
            raise GradingError(
                f"{where}: an endplate is either graded (type) or not_assessable with a reason, not both",
                endplate=where,
                field="not_assessable",
            )
        if self.size is not None or self.extension_pct is not None or self.variables:
            raise GradingError(
                f"{where}: a not-assessable endplate has no size, extension_pct or other variables",
                endplate=where,
                field="not_assessable",
            )
        if self.note is not None and (not isinstance(self.note, str) or len(self.note) > NOTE_MAX):
            raise GradingError(
                f"{where}: note must be text of at most {NOTE_MAX} characters", endplate=where, field="note"
            )
        if self.not_assessable is NotAssessable.other and not (self.note or "").strip():
            raise GradingError(f"{where}: not_assessable 'other' needs a note saying why", endplate=where, field="note")

    @classmethod
    def not_assessable_because(
        cls, endplate: Endplate, reason: NotAssessable, note: str | None = None
    ) -> EndplateGrading:
        """An endplate that could not be graded, for ``reason``."""
        return cls(endplate, None, not_assessable=reason, note=note)

    @classmethod
    def from_mapping(
        cls, endplate: Endplate, data: object, extras: Mapping[str, ExtraVariable] | None = None
    ) -> EndplateGrading:
        """Build from a JSON-like mapping ``{"type", "size"?, "extension_pct"?, <protocol variables>?}``
        or ``{"not_assessable": reason, "note"?}``.

        ``extras`` are the other variables of the grading protocol (none for the core protocol). A
        missing size is derived from ``extension_pct`` when that is given. Values are immutable, so
        the same input (every grading repeats a few) is parsed once and the result shared; the
        cache and the benchmark that justifies it are described at ``_PARSED`` below.
        """
        if not isinstance(data, dict) or not _FIELD_SET.issuperset(data):
            return cls._parse(endplate, data, extras or {})
        extension = data.get("extension_pct")
        # A missing field reads as None, as in _parse; the type keeps 1 and True apart. The endplate is
        # keyed by its id (``_value_``, the enum's documented attribute): hashing the member itself is a
        # Python call, and this runs 11 times per stored grading read.
        key = (endplate._value_, data.get("type"), data.get("size"), extension, type(extension))
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
    def _parse(
        cls, endplate: Endplate, data: object, extras: Mapping[str, ExtraVariable] | None = None
    ) -> EndplateGrading:
        where = endplate.value
        extras = extras or {}
        if not isinstance(data, Mapping):
            raise GradingError(
                f"{where}: expected an object with 'type' (and 'size'), or 'not_assessable', got {data!r}",
                endplate=where,
                field="type",
            )
        if "not_assessable" in data:
            return cls._parse_not_assessable(endplate, data)
        allowed_fields = (*_ENDPLATE_FIELDS, *extras)
        unknown = sorted(str(k) for k in data if k not in allowed_fields)
        if unknown:
            raise GradingError(
                f"{where}: unknown field {unknown[0]!r}; allowed: {', '.join(allowed_fields)}, not_assessable",
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
        variables = tuple(
            (name, spec.check(where, data[name], not modic_type.is_none))
            for name, spec in extras.items()
            if data.get(name) is not None
        )
        return cls(endplate, modic_type, size, None if extension is None else float(extension), variables)

    @classmethod
    def _parse_not_assessable(cls, endplate: Endplate, data: Mapping[Any, Any]) -> EndplateGrading:
        where = endplate.value
        unknown = sorted(str(k) for k in data if k not in _NOT_ASSESSABLE_FIELDS)
        if unknown:
            raise GradingError(
                f"{where}: field {unknown[0]!r} is not allowed on a not-assessable endplate; "
                f"allowed: {', '.join(_NOT_ASSESSABLE_FIELDS)}",
                endplate=where,
                field=unknown[0],
            )
        try:
            reason = NotAssessable.parse(data["not_assessable"])
        except GradingError as exc:
            raise GradingError(f"{where}: {exc.message}", endplate=where, field="not_assessable") from None
        note = data.get("note")
        if note is not None and not isinstance(note, str):
            raise GradingError(f"{where}: note {note!r} is not text", endplate=where, field="note")
        return cls.not_assessable_because(endplate, reason, note.strip() or None if note is not None else None)

    def to_mapping(self) -> dict[str, Any]:
        """The canonical JSON form: for a graded endplate every core key present (``None`` where
        absent) and the protocol variables recorded; ``{"not_assessable", "note"}`` otherwise."""
        if self.type is None:
            assert self.not_assessable is not None
            return {"not_assessable": self.not_assessable.value, "note": self.note}
        return {
            "type": str(self.type),
            "size": None if self.size is None else self.size.value,
            "extension_pct": self.extension_pct,
            **dict(self.variables),
        }

    @property
    def assessable(self) -> bool:
        """False when the endplate could not be graded."""
        return self.type is not None

    def variable(self, name: str) -> str | None:
        """The recorded category of a protocol variable, ``None`` when not recorded."""
        return dict(self.variables).get(name)

    @property
    def has_change(self) -> bool:
        """True when any Modic change is present (False when not assessable: nothing is known)."""
        return self.type is not None and not self.type.is_none

    @property
    def beyond_endplate(self) -> bool:
        """True when a change extends beyond the endplate (size B, C or D)."""
        return self.size is not None and self.size.beyond_endplate

    def evidence(self) -> str:
        """A one-line description used as eligibility evidence, e.g. ``L4_inf: type I, size C``."""
        if self.type is None:
            assert self.not_assessable is not None
            note = f": {self.note}" if self.note else ""
            return f"{self.endplate.value}: not assessable ({self.not_assessable.value}{note})"
        if self.type.is_none:
            return f"{self.endplate.value}: no Modic change"
        assert self.size is not None
        return f"{self.endplate.value}: type {self.type}, size {self.size.value}"


_PARSED: dict[tuple[Any, ...], EndplateGrading] = {}
"""Endplate gradings parsed so far, by endplate and input fields (see :meth:`EndplateGrading.from_mapping`).

Why a process-wide cache in the pure domain: both callers of the parser need it, request bodies
(``POST``/``PUT`` of a grading, ``StudyGrading.from_mapping``) and stored versions (eligibility
re-evaluation, ``registry.repositories.eligibility.grading_from_stored``), and a grading repeats a few
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
    def from_mapping(cls, data: object, extras: Mapping[str, ExtraVariable] | None = None) -> StudyGrading:
        """Build from ``{"L1_sup": {...}, ...}``, reporting every problem at once.

        ``extras`` are the grading protocol's variables beyond type and size. Raises
        :class:`GradingErrors` listing each bad endplate with its field.
        """
        if not isinstance(data, Mapping):
            raise GradingErrors(
                [GradingError(f"endplates must be an object keyed by endplate id, got {data!r}", field="endplates")]
            )
        errors: list[GradingError] = []
        allowed = ", ".join(ENDPLATE_IDS)
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
                gradings.append(EndplateGrading.from_mapping(endplate, data[endplate.value], extras))
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

    @property
    def not_assessable(self) -> tuple[EndplateGrading, ...]:
        """The endplates that could not be graded, cranial to caudal."""
        return tuple(g for g in self.endplates if not g.assessable)


def all_none() -> StudyGrading:
    """A grading with no Modic change at any endplate."""
    return StudyGrading(tuple(EndplateGrading(e, ModicType(frozenset())) for e in ENDPLATES))
