"""The reliability variables of a Nordic Modic grading (docs/agreement.md#variables).

Per endplate and pooled over the 11 endplates: **presence** (any Modic change vs none, nominal),
**type** (nominal, the canonical labels), **size** (ordinal ``none < A < B < C < D``) and **beyond
endplate** (size B–D, the MRI criterion of the rest-vs-exercise trial, Jensen 2012). Per patient: the imaging (MRI)
criterion of each trial rule set (docs/eligibility.md). Pooled variables have one unit per (case, endplate),
clustered by case, so the bootstrap resamples patients; per-endplate and per-patient variables have
one unit per case.
"""

from __future__ import annotations

from collections.abc import Callable

from grading.agreement.ratings import Label
from grading.agreement.report import RatingRecord, VariableSpec
from grading.agreement.statistics import Level
from grading.endplates import ENDPLATES
from grading.nordic import TYPE_LABELS, EndplateGrading, ModicComponent, StudyGrading

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


_EXTRACT: dict[str, Callable[[EndplateGrading], Label]] = {
    PRESENCE.name: _presence,
    TYPE.name: _type,
    SIZE.name: _size,
    BEYOND_ENDPLATE.name: _beyond,
}

TRIAL_CRITERIA: dict[str, Callable[[StudyGrading], bool]] = {
    "mri:NCT00454792/2012": lambda s: any(g.has_change and g.beyond_endplate for g in s.endplates),
    "mri:NCT00454792/2007-registry": lambda s: any(g.has_change for g in s.endplates),
    "mri:NCT03100266/2018-registry": lambda s: any(ModicComponent.I in g.type for g in s.endplates),
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
    specs = list(ENDPLATE_VARIABLES)
    if per_endplate:
        specs += [endplate_variable(spec, e.value) for spec in ENDPLATE_VARIABLES for e in ENDPLATES]
    if trials:
        specs += list(TRIAL_VARIABLES)
    return tuple(specs)


def nordic_records(
    case: str,
    rater: str,
    grading: StudyGrading,
    *,
    cluster: str | None = None,
    per_endplate: bool = True,
    trials: bool = True,
) -> list[RatingRecord]:
    """Long-format records of one rater's grading of one case, clustered by ``cluster`` (the patient;
    the case itself when not given)."""
    group = case if cluster is None else cluster
    records: list[RatingRecord] = []
    for g in grading.endplates:
        endplate = g.endplate.value
        for spec in ENDPLATE_VARIABLES:
            value = _EXTRACT[spec.name](g)
            records.append(RatingRecord(f"{case}/{endplate}", rater, value, group, spec.name))
            if per_endplate:
                records.append(RatingRecord(case, rater, value, group, f"{spec.name}@{endplate}"))
    if trials:
        for name, criterion in TRIAL_CRITERIA.items():
            records.append(RatingRecord(case, rater, YES_NO[int(criterion(grading))], group, name))
    return records
