"""The reliability variables of a Nordic Modic grading (conventions in ``docs/agreement.md``).

One table, :data:`ENDPLATE_VARIABLES`, lists every per-endplate variable: its spec (name, level, scale,
"no finding" category), how it is read off an endplate's grading, and whether it is also analysed per
endplate. Adding a variable is adding a row; an extractor may return ``None`` (a missing rating).

- **presence** (any Modic change vs none), **type** (the canonical labels), **size** (ordinal
  ``none < A < B < C < D``) and **beyond endplate** (size B–D, the MRI criterion of the rest-vs-exercise
  trial, Jensen 2012);
- **contains I / II / III**: whether the type contains that component (type I is the probiotics
  trial's target), per endplate and pooled;
- **type | changed** and **size | changed**: conditional agreement on the endplates that both reads
  call changed. A read that calls the endplate unchanged gives a missing rating, so a pair's units are
  exactly the endplates both raters call changed; typing is then not mixed with detection.

Per patient: each trial rule set's MRI decision, derived by evaluating the rule set's own grading
criteria (:mod:`grading.eligibility`), never a second copy of them. Pooled variables have one unit per
(case, endplate), clustered by the patient, so intervals are cluster-robust and the bootstrap resamples
patients; per-endplate and per-patient variables have one unit per case.

An endplate that is not assessable is a missing rating of every endplate variable (never a category),
and a trial decision that it could change is missing too (the rule set says unknown);
:func:`not_assessable_counts` reports how many there were per rater. Under a protocol with more
variables (``nordic-2007-full``) each of them is analysed too, at its own level of measurement
(:func:`protocol_specs`).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypedDict, Unpack

from grading.agreement.ratings import Label
from grading.agreement.report import RatingColumns, RatingRecord, VariableSpec
from grading.agreement.statistics import Level
from grading.eligibility import EndplateChange, Facts, Outcome, RuleSet, combine, default_catalog
from grading.endplates import ENDPLATES
from grading.nordic import TYPE_LABELS, EndplateGrading, ModicComponent, StudyGrading
from grading.protocols import AppliesTo, Protocol
from grading.protocols import Level as ProtocolLevel

PRESENCE_LABELS: tuple[str, ...] = ("absent", "present")
SIZE_LABELS: tuple[str, ...] = ("none", "A", "B", "C", "D")
YES_NO: tuple[str, ...] = ("no", "yes")

PRESENCE = VariableSpec("presence", Level.NOMINAL, PRESENCE_LABELS, negative="absent")
"""Any Modic change at the endplate (type other than ``none``)."""
TYPE = VariableSpec("type", Level.NOMINAL, TYPE_LABELS, negative="none")
"""The canonical type label, mixed types as their own categories."""
SIZE = VariableSpec("size", Level.ORDINAL, SIZE_LABELS, negative="none")
"""Maximum height, ``none`` for no change, ordered none < A < B < C < D."""
BEYOND_ENDPLATE = VariableSpec("beyond_endplate", Level.NOMINAL, YES_NO, negative="no")
"""A change extending beyond the endplate into the vertebral body (size B, C or D)."""


@dataclass(frozen=True)
class EndplateVariable:
    """One row of the variable table: the spec, the extractor, and whether it is also per endplate."""

    spec: VariableSpec
    extract: Callable[[EndplateGrading], Label | None]
    per_endplate: bool = True


def _contains(component: ModicComponent) -> EndplateVariable:
    spec = VariableSpec(f"contains_{component.value}", Level.NOMINAL, YES_NO, negative="no")
    return EndplateVariable(spec, lambda g: YES_NO[int(g.type is not None and component in g.type.components)])


ENDPLATE_VARIABLES: tuple[EndplateVariable, ...] = (
    EndplateVariable(PRESENCE, lambda g: PRESENCE_LABELS[int(g.has_change)]),
    EndplateVariable(TYPE, lambda g: str(g.type)),
    EndplateVariable(SIZE, lambda g: "none" if g.size is None else g.size.value),
    EndplateVariable(BEYOND_ENDPLATE, lambda g: YES_NO[int(g.beyond_endplate)]),
    *(_contains(c) for c in ModicComponent),
    EndplateVariable(
        VariableSpec("type|changed", Level.NOMINAL, TYPE_LABELS[1:]),
        lambda g: str(g.type) if g.has_change else None,
        per_endplate=False,
    ),
    EndplateVariable(
        VariableSpec("size|changed", Level.ORDINAL, SIZE_LABELS[1:]),
        lambda g: g.size.value if g.has_change and g.size is not None else None,
        per_endplate=False,
    ),
)
"""Every per-endplate variable, pooled over the endplates and (where ``per_endplate``) per endplate."""

_ANY_DAY = dt.date(2000, 1, 1)
"""The evaluation date given to grading criteria, which do not look at it."""


def trial_rule_sets() -> tuple[RuleSet, ...]:
    """The shipped trial rule sets whose MRI decision is a reliability variable."""
    return default_catalog().rule_sets


def trial_variable_name(rule_set: RuleSet) -> str:
    """``mri:<trial>/<version>``."""
    return f"mri:{rule_set.trial}/{rule_set.version}"


def mri_decision(rule_set: RuleSet, grading: StudyGrading) -> Label | None:
    """``yes``/``no`` when the rule set's grading criteria are met / not met; None when unknown.

    Evaluates the rule set's own imaging criteria that read the grading (``endplate_change``); the
    date criteria (e.g. an MRI within 3 months) are about the study date, not the grading.
    """
    facts = Facts(grading, None, {}, _ANY_DAY)
    outcome = combine(
        c.test.evaluate(facts)[0] for c in rule_set.imaging_criteria if isinstance(c.test, EndplateChange)
    )
    return {Outcome.MET: "yes", Outcome.NOT_MET: "no"}.get(outcome)


def trial_specs() -> tuple[VariableSpec, ...]:
    """One yes/no variable per trial rule set."""
    return tuple(VariableSpec(trial_variable_name(r), Level.NOMINAL, YES_NO, negative="no") for r in trial_rule_sets())


def endplate_variable(spec: VariableSpec, endplate: str) -> VariableSpec:
    """The per-endplate version of a pooled variable, named ``<variable>@<endplate>``."""
    return VariableSpec(f"{spec.name}@{endplate}", spec.level, spec.categories, spec.negative)


def nordic_specs(*, per_endplate: bool = True, trials: bool = True) -> tuple[VariableSpec, ...]:
    """Specs of every Nordic variable, pooled first, then per endplate (cranial to caudal), then trials."""
    return protocol_specs(None, per_endplate=per_endplate, trials=trials)


class RatingOptions(TypedDict, total=False):
    """The keyword options of :func:`nordic_records` and :func:`add_nordic_ratings`."""

    cluster: str | None
    """The cluster of the case's units (the patient); default: the case itself."""
    per_endplate: bool
    """Also rate the per-endplate variables (default True)."""
    trials: bool
    """Also rate each trial rule set's MRI decision (default True)."""
    protocol: Protocol | None
    """The grading protocol whose further variables are rated too; default: the core Nordic ones only."""


def nordic_records(
    case: str, rater: str, grading: StudyGrading, **options: Unpack[RatingOptions]
) -> list[RatingRecord]:
    """Long-format records of one rater's grading of one case (options: :class:`RatingOptions`)."""
    return [
        RatingRecord(unit, rater, value, group, variable)
        for unit, variable, value, group in _nordic_ratings(case, grading, **options)
    ]


@functools.lru_cache(maxsize=256)
def _endplate_names(names: tuple[str | None, ...], endplate: str) -> tuple[str | None, ...]:
    """The per-endplate variable names at ``endplate`` of ``names`` (None: a variable only pooled)."""
    return tuple(None if name is None else f"{name}@{endplate}" for name in names)


def add_nordic_ratings(
    columns: dict[str, RatingColumns], case: str, rater: str, grading: StudyGrading, **options: Unpack[RatingOptions]
) -> None:
    """The ratings of :func:`nordic_records` appended to each variable's ``columns`` (created when absent),
    the fast input of :func:`~grading.agreement.report.build_report`."""
    add_nordic_ratings_to([(columns, case, rater)], grading, **options)


RatingTarget = tuple[dict[str, RatingColumns], str, str]
"""Where one grading's ratings go: the variables' columns, the case (the units' prefix) and the rater."""


def add_nordic_ratings_to(
    targets: Iterable[RatingTarget], grading: StudyGrading, **options: Unpack[RatingOptions]
) -> None:
    """:func:`add_nordic_ratings` of one grading into several ``(columns, case, rater)`` targets (a
    reliability study adds each read to the inter-rater, the intra-rater and the pooled intra-rater
    columns), reading the grading's values once. ``cluster`` defaults to each target's case."""
    values = _grading_values(grading, **options)
    cluster = options.get("cluster")
    for columns, case, rater in targets:
        group = case if cluster is None else cluster
        for unit, variable, value in _units(case, values):
            found = columns.get(variable)
            if found is None:
                found = columns[variable] = RatingColumns()
            # RatingColumns.add, inlined: a study's report appends hundreds of thousands of ratings
            found.units.append(unit)
            found.raters.append(rater)
            found.values.append(value)
            found.clusters.append(group)


def _nordic_ratings(
    case: str, grading: StudyGrading, **options: Unpack[RatingOptions]
) -> Iterator[tuple[str, str, Label | None, str]]:
    """``(unit, variable, value, cluster)`` of every rating of one grading of ``case``, in report order."""
    cluster = options.get("cluster")
    group = case if cluster is None else cluster
    for unit, variable, value in _units(case, _grading_values(grading, **options)):
        yield unit, variable, value, group


def _units(case: str, values: list[tuple[str | None, str, Label | None]]) -> Iterator[tuple[str, str, Label | None]]:
    """``(unit, variable, value)`` of a grading's values for ``case``: ``<case>/<endplate>`` or the case."""
    units: dict[str | None, str] = {None: case}
    for endplate, variable, value in values:
        unit = units.get(endplate)
        if unit is None:
            unit = units[endplate] = f"{case}/{endplate}"
        yield unit, variable, value


def _grading_values(
    grading: StudyGrading, **options: Unpack[RatingOptions]
) -> list[tuple[str | None, str, Label | None]]:
    """``(endplate, variable, value)`` of every rating of one grading, in report order; the endplate is
    None for a variable rated per case. The one home of the options' defaults (the cluster is the
    caller's)."""
    per_endplate, trials, protocol = (
        options.get("per_endplate", True),
        options.get("trials", True),
        options.get("protocol"),
    )
    values: list[tuple[str | None, str, Label | None]] = []
    rows = ENDPLATE_VARIABLES + _extra_variables(protocol)
    per_endplate_names = tuple(v.spec.name if v.per_endplate else None for v in rows)
    for g in grading.endplates:
        endplate = g.endplate.value
        for variable, at_endplate in zip(rows, _endplate_names(per_endplate_names, endplate), strict=True):
            value = variable.extract(g) if g.assessable else None
            values.append((endplate, variable.spec.name, value))
            if per_endplate and at_endplate is not None:
                values.append((None, at_endplate, value))
    if trials:
        for rule_set in trial_rule_sets():
            values.append((None, trial_variable_name(rule_set), mri_decision(rule_set, grading)))
    return values


NO_CHANGE = "none"
"""The category of a change variable (location, volume …) at an endplate without a Modic change."""


def _extra_variable(spec: VariableSpec, describes_change: bool) -> EndplateVariable:
    def value(g: EndplateGrading) -> Label | None:
        if describes_change and not g.has_change:
            return NO_CHANGE
        return g.variable(spec.name)  # not recorded: missing

    return EndplateVariable(spec, value)


def _extra_variables(protocol: Protocol | None) -> tuple[EndplateVariable, ...]:
    """The protocol's variables beyond type and size, each at its level of measurement; a variable
    describing a change has ``none`` first on its scale (no change), as size does."""
    if protocol is None:
        return ()
    rows = []
    for v in protocol.extra_variables:
        describes_change = v.applies_to is AppliesTo.change
        scale = (NO_CHANGE, *v.values) if describes_change else v.values
        level = Level.ORDINAL if v.level is ProtocolLevel.ordinal else Level.NOMINAL
        spec = VariableSpec(v.name, level, scale, negative=NO_CHANGE if describes_change else None)
        rows.append(_extra_variable(spec, describes_change))
    return tuple(rows)


def protocol_specs(
    protocol: Protocol | None, *, per_endplate: bool = True, trials: bool = True
) -> tuple[VariableSpec, ...]:
    """Specs of every variable of ``protocol`` (the core Nordic ones when ``None``), pooled first, then
    per endplate, then the trials' MRI decisions."""
    rows = ENDPLATE_VARIABLES + _extra_variables(protocol)
    specs = [v.spec for v in rows]
    if per_endplate:
        specs += [endplate_variable(v.spec, e.value) for v in rows if v.per_endplate for e in ENDPLATES]
    if trials:
        specs += list(trial_specs())
    return tuple(specs)


def not_assessable_counts(gradings: Iterable[tuple[str, StudyGrading]]) -> dict[str, int]:
    """How many endplates each rater marked not assessable, over ``(rater, grading)`` pairs."""
    counts: dict[str, int] = {}
    for rater, grading in gradings:
        counts[rater] = counts.get(rater, 0) + len(grading.not_assessable)
    return counts
