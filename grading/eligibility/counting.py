"""Which grading counts for a patient's eligibility (docs/eligibility.md#which-grading-counts).

The latest version of the most recent clinical grading (by creation time, then id) of the patient's
most recent graded study (by study date, unknown dates oldest, then registration time).
Reliability-study reads are never candidates. This module is the one definition of that order: the
registry loads the candidates and keeps the one :func:`counting_choice` picks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


Time = dt.datetime | str
"""A time, or the database's ISO 8601 text of it: the texts of one column order as its times do (the
registry reads them as text, not to convert two times per candidate only to compare a few). SQLite's
text is fixed-width; PostgreSQL's drops a fraction's trailing zeros, which still orders digit by digit,
and a time without a fraction sorts first (``+`` before ``.``)."""


@dataclass(frozen=True)
class Candidate(Generic[T]):
    """A clinical grading (at its current version) that may count for its patient, with ``value``
    whatever the caller wants back for it. The times of the candidates compared are all of one kind."""

    study_date: dt.date | None
    study_registered: Time
    grading_created: Time
    grading_id: str
    value: T

    @property
    def rank(self) -> tuple[dt.date, Time, Time, str]:
        """Greater counts first: study date (unknown oldest), registration, grading creation, id."""
        return (self.study_date or dt.date.min, self.study_registered, self.grading_created, self.grading_id)


def counting_choice(candidates: Iterable[tuple[str, Candidate[T]]]) -> dict[str, T]:
    """Per patient (the first of each pair), the value of the candidate that counts."""
    best: dict[str, Candidate[T]] = {}
    for patient, candidate in candidates:
        current = best.get(patient)
        if current is None or candidate.rank > current.rank:
            best[patient] = candidate
    return {patient: candidate.value for patient, candidate in best.items()}
