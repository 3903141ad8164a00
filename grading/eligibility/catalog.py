"""The shipped rule sets, read from the package data in ``grading/eligibility/rulesets/``.

Adding a trial or a version means adding one ``<trial>_<version>.json`` file there.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Iterable
from dataclasses import dataclass

from grading.eligibility.fields import FieldSpec
from grading.eligibility.rules import RuleSet, check_file_name, parse_rule_set_text
from grading.errors import GradingError

RULESETS_PACKAGE = "grading.eligibility.rulesets"


@dataclass(frozen=True)
class Catalog:
    """Every known rule set: several versions per trial, exactly one of them the default."""

    rule_sets: tuple[RuleSet, ...]

    def __post_init__(self) -> None:
        keys = [r.key for r in self.rule_sets]
        for key in keys:
            if keys.count(key) > 1:
                raise GradingError(f"rule set {key} is defined twice")
        for trial in self.trials:
            defaults = [r.version for r in self.versions(trial) if r.default]
            if len(defaults) != 1:
                raise GradingError(
                    f"trial {trial} needs exactly one default version, got {', '.join(defaults) or 'none'}"
                )
            self.screening_fields(trial)

    @classmethod
    def of(cls, rule_sets: Iterable[RuleSet]) -> Catalog:
        """A catalog ordered by trial, then default first, then version."""
        ordered = sorted(rule_sets, key=lambda r: (r.trial, not r.default, r.version))
        return cls(tuple(ordered))

    @property
    def trials(self) -> tuple[str, ...]:
        """The trial ids, sorted."""
        return tuple(sorted({r.trial for r in self.rule_sets}))

    def versions(self, trial: str) -> tuple[RuleSet, ...]:
        """The rule sets of ``trial``, default first."""
        found = tuple(r for r in self.rule_sets if r.trial == trial)
        if not found:
            raise GradingError(f"trial {trial!r} is unknown; allowed: {', '.join(self.trials)}", field="trial")
        return found

    def get(self, trial: str, version: str | None = None) -> RuleSet:
        """The rule set ``trial`` at ``version``; the trial's default when ``version`` is ``None``."""
        versions = self.versions(trial)
        if version is None:
            return next(r for r in versions if r.default)
        for rule_set in versions:
            if rule_set.version == version:
                return rule_set
        allowed = ", ".join(r.version for r in versions)
        raise GradingError(f"version {version!r} of trial {trial} is unknown; allowed: {allowed}", field="version")

    def screening_fields(self, trial: str) -> dict[str, FieldSpec]:
        """The screening vocabulary of ``trial``: every field of every version.

        A field means one thing: every version that reads it declares it identically (kind, range,
        description, "not applicable", computation). Versions that ask a different question use a
        different field.
        """
        merged: dict[str, FieldSpec] = {}
        for rule_set in self.versions(trial):
            for name, spec in rule_set.fields.items():
                known = merged.setdefault(name, spec)
                if known != spec:
                    raise GradingError(
                        f"trial {trial}: field {name!r} is declared differently in version {rule_set.version} "
                        f"({spec.to_mapping()} instead of {known.to_mapping()}); a different question needs a "
                        "different field name",
                        field=name,
                    )
        return dict(sorted(merged.items()))


def load_packaged() -> tuple[RuleSet, ...]:
    """Parse every ``*.json`` file of the rule-set package."""
    rule_sets = []
    for entry in sorted(importlib.resources.files(RULESETS_PACKAGE).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            rule_set = parse_rule_set_text(entry.read_text(encoding="utf-8"), entry.name)
            check_file_name(rule_set, entry.name)
            rule_sets.append(rule_set)
    return tuple(rule_sets)


@functools.cache
def default_catalog() -> Catalog:
    """The catalog of the shipped rule sets (read once)."""
    return Catalog.of(load_packaged())
