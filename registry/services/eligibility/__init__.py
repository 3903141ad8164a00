"""Trial eligibility in the registry (docs/eligibility.md), one module per job:

- :mod:`.decisions`: re-deciding patients in the transaction that changes their inputs;
- :mod:`.periodic`: the background re-evaluation of decisions that time may change;
- :mod:`.screening`: recording screening answers and episodes, resolving pseudonyms;
- :mod:`.feed`: the decisions as a feed, in order of their last change;
- :mod:`.funnel`: the screening funnel counted from the stored decisions.

What every one of them needs is here: the evaluation day and the shipped rule sets.
"""

from __future__ import annotations

import datetime as dt

from grading.eligibility import Catalog, RuleSet, default_catalog
from registry.models.base import utcnow


def today() -> dt.date:
    """The evaluation date: today in UTC."""
    return utcnow().date()


def catalog() -> Catalog:
    """The shipped rule sets."""
    return default_catalog()


def rule_set_of(trial: str, version: str | None) -> RuleSet:
    """The rule set asked for; the trial's default version when ``version`` is omitted."""
    return catalog().get(trial, version)
