"""The eligibility feed as CSV (docs/eligibility.md#the-feed): one row per decision, with
``<criterion>_met`` and ``<criterion>_evidence`` columns per criterion of the rule set."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from api.schemas.eligibility import DecisionPublic
from grading.eligibility import RuleSet

BASE_COLUMNS = (
    "patient",
    "study_id",
    "trial",
    "rule_version",
    "status",
    "grading_id",
    "grading_version",
    "decided_at",
)
"""The columns before the per-criterion pairs."""


def feed_csv_header(rule_set: RuleSet) -> list[str]:
    """The header: :data:`BASE_COLUMNS`, then ``<id>_met`` and ``<id>_evidence`` per criterion."""
    return [*BASE_COLUMNS, *(f"{c.id}_{part}" for c in rule_set.criteria for part in ("met", "evidence"))]


def feed_csv_row(rule_set: RuleSet, item: DecisionPublic) -> list[object]:
    """One decision's row; ``met`` is ``true``, ``false`` or empty (unknown, or not in the decision)."""
    by_id = {c.id: c for c in item.criteria}
    row: list[object] = [
        item.patient,
        item.study_id or "",
        item.trial,
        item.rule_version,
        item.status,
        item.grading_id or "",
        "" if item.grading_version is None else item.grading_version,
        item.decided_at.isoformat(),
    ]
    for criterion_id in (c.id for c in rule_set.criteria):
        criterion = by_id.get(criterion_id)
        met = None if criterion is None else criterion.met
        row += ["" if met is None else json.dumps(met), "" if criterion is None else criterion.evidence]
    return row


def feed_csv(rule_set: RuleSet, items: Iterable[DecisionPublic]) -> Iterator[str]:
    """The CSV text, a line at a time (header first), for a streaming answer."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(feed_csv_header(rule_set))
    for item in items:
        writer.writerow(feed_csv_row(rule_set, item))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def feed_csv_filename(rule_set: RuleSet) -> str:
    """``eligibility-<trial>-<version>.csv``."""
    return f"eligibility-{rule_set.trial}-{rule_set.version}.csv"
