"""The reliability variables of a Nordic Modic grading (docs/agreement.md#variables).

Per endplate and pooled over the 11 endplates: **presence** (any Modic change vs none, nominal),
**type** (nominal, the canonical labels), **size** (ordinal ``none < A < B < C < D``) and **beyond
endplate** (size B–D, the MRI criterion of the rest-vs-exercise trial, Jensen 2012). Per patient: the imaging (MRI)
criterion of each trial rule set (docs/eligibility.md). Pooled variables have one unit per (case, endplate),
clustered by case, so the bootstrap resamples patients; per-endplate and per-patient variables have
one unit per case.

An endplate that is not assessable is a missing rating of every endplate variable (never a category),
and a trial criterion that it could decide is missing too; :func:`not_assessable_counts` reports how
many there were per rater. Under a protocol with more variables (``nordic-2007-full``) each of them
is analysed too, at its own level of measurement (:func:`protocol_specs`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from grading.agreement.ratings import Label
from grading.agreement.report import RatingRecord, VariableSpec
from grading.agreement.statistics import Level
from grading.endplates import ENDPLATES
from grading.nordic import TYPE_LABELS, EndplateGrading, ModicComponent, StudyGrading
from grading.protocols import AppliesTo, Protocol
from grading.protocols import Level as ProtocolLevel

PRESENCE_LABELS: tuple[str, ...] = ("absent", "present")
SIZE_LABELS: tuple[str, ...] = ("none", "A", "B", "C", "D")
YES_NO: tuple[str, ...] = ("no", "yes")

PRESENCE = VariableSpec("presence", Level.NOMINAL, PRESENCE_LABELS)
"""Any Modic change at the endplate (type other than ``none``)."""
TYPE = VariableSpec("type", Level.NOMINAL, TYPE_LABELS)
"""The canonical type label, mixed types as their own categories."""
SIZE = VariableSpec("size", Level.ORDINAL, SIZE_LABELS)
"""Maximum height, ``none`` for no change, ordered none < A < B < C < D."""
BEYOND_ENDPLATE = VariableSpec("beyond_endplate", Level.NOMINAL, YES_NO)
"""A change extending beyond the endplate into the vertebral body (size B, C or D)."""

ENDPLATE_VARIABLES: tuple[VariableSpec, ...] = (PRESENCE, TYPE, SIZE, BEYOND_ENDPLATE)


def _presence(g: EndplateGrading) -> str:
    return PRESENCE_LABELS[int(g.has_change)]


def _type(g: EndplateGrading) -> str:
    return str(g.type)


def _size(g: EndplateGrading) -> str:
    return "none" if g.size is None else g.size.value


def _beyond(g: EndplateGrading) -> str:
    return YES_NO[int(g.beyond_endplate)]


_EXTRACT: dict[str, Callable[[EndplateGrading], Label | None]] = {
    PRESENCE.name: _presence,
    TYPE.name: _type,
    SIZE.name: _size,
    BEYOND_ENDPLATE.name: _beyond,
}


def _some_endplate(study: StudyGrading, test: Callable[[EndplateGrading], bool]) -> bool | None:
    """Whether some endplate passes ``test``; ``None`` (unknown) when none does but some is not assessable."""
    if any(g.assessable and test(g) for g in study.endplates):
        return True
    return None if study.not_assessable else False


TRIAL_CRITERIA: dict[str, Callable[[StudyGrading], bool | None]] = {
    "mri:NCT00454792/2012": lambda s: _some_endplate(s, lambda g: g.has_change and g.beyond_endplate),
    "mri:NCT00454792/2007-registry": lambda s: _some_endplate(s, lambda g: g.has_change),
    "mri:NCT03100266/2018-registry": lambda s: _some_endplate(
        s, lambda g: g.type is not None and ModicComponent.I in g.type
    ),
}
"""Per-patient imaging criteria (docs/eligibility.md): Jensen 2012's "a minimum of one MC that extended beyond
the endplate" (size B–D); the NCT00454792 record's "any MC"; the NCT03100266 record's "type 1 MC, alone, mixed
or with type 2/3" (its 3-month recency condition is a date check, not a grading). Sources: docs/sources.md."""

TRIAL_VARIABLES: tuple[VariableSpec, ...] = tuple(VariableSpec(name, Level.NOMINAL, YES_NO) for name in TRIAL_CRITERIA)


def endplate_variable(spec: VariableSpec, endplate: str) -> VariableSpec:
    """The per-endplate version of a pooled variable, named ``<variable>@<endplate>``."""
    return VariableSpec(f"{spec.name}@{endplate}", spec.level, spec.categories)


def nordic_specs(*, per_endplate: bool = True, trials: bool = True) -> tuple[VariableSpec, ...]:
    """Specs of every Nordic variable, pooled first, then per endplate (cranial to caudal), then trials."""
    return protocol_specs(None, per_endplate=per_endplate, trials=trials)


def nordic_records(
    case: str,
    rater: str,
    grading: StudyGrading,
    *,
    cluster: str | None = None,
    per_endplate: bool = True,
    trials: bool = True,
    protocol: Protocol | None = None,
) -> list[RatingRecord]:
    """Long-format records of one rater's grading of one case, clustered by ``cluster`` (the patient;
    the case itself when not given)."""
    group = case if cluster is None else cluster
    records: list[RatingRecord] = []
    extract = {**_EXTRACT, **({} if protocol is None else _protocol_extractors(protocol))}
    for g in grading.endplates:
        endplate = g.endplate.value
        for spec in ENDPLATE_VARIABLES + _extra_specs(protocol):
            value = extract[spec.name](g) if g.assessable else None
            records.append(RatingRecord(f"{case}/{endplate}", rater, value, group, spec.name))
            if per_endplate:
                records.append(RatingRecord(case, rater, value, group, f"{spec.name}@{endplate}"))
    if trials:
        for name, criterion in TRIAL_CRITERIA.items():
            met = criterion(grading)
            records.append(RatingRecord(case, rater, None if met is None else YES_NO[int(met)], group, name))
    return records


NO_CHANGE = "none"
"""The category of a change variable (location, volume …) at an endplate without a Modic change."""


def _extra_specs(protocol: Protocol | None) -> tuple[VariableSpec, ...]:
    """The protocol's variables beyond type and size, each at its level of measurement; a variable
    describing a change has ``none`` first on its scale (no change), as size does."""
    if protocol is None:
        return ()
    specs = []
    for v in protocol.extra_variables:
        scale = (NO_CHANGE, *v.values) if v.applies_to is AppliesTo.change else v.values
        level = Level.ORDINAL if v.level is ProtocolLevel.ordinal else Level.NOMINAL
        specs.append(VariableSpec(v.name, level, scale))
    return tuple(specs)


def _protocol_extractors(protocol: Protocol) -> dict[str, Callable[[EndplateGrading], Label | None]]:
    def extractor(name: str, describes_change: bool) -> Callable[[EndplateGrading], Label | None]:
        def value(g: EndplateGrading) -> Label | None:
            if describes_change and not g.has_change:
                return NO_CHANGE
            return g.variable(name)  # not recorded: missing

        return value

    return {v.name: extractor(v.name, v.applies_to is AppliesTo.change) for v in protocol.extra_variables}


def protocol_specs(
    protocol: Protocol | None, *, per_endplate: bool = True, trials: bool = True
) -> tuple[VariableSpec, ...]:
    """Specs of every variable of ``protocol`` (the core Nordic ones when ``None``), pooled first, then
    per endplate, then the trials' MRI criteria."""
    pooled = ENDPLATE_VARIABLES + _extra_specs(protocol)
    specs = list(pooled)
    if per_endplate:
        specs += [endplate_variable(spec, e.value) for spec in pooled for e in ENDPLATES]
    if trials:
        specs += list(TRIAL_VARIABLES)
    return tuple(specs)


def not_assessable_counts(gradings: Iterable[tuple[str, StudyGrading]]) -> dict[str, int]:
    """How many endplates each rater marked not assessable, over ``(rater, grading)`` pairs."""
    counts: dict[str, int] = {}
    for rater, grading in gradings:
        counts[rater] = counts.get(rater, 0) + len(grading.not_assessable)
    return counts
