"""Screening episodes: the index date, and age and symptom duration computed at it.

A patient's screening for a trial happens at an *index date* (the screening visit). Dates are
recorded (date of birth, symptom onset) rather than ages and durations, and every criterion is
judged at the index date, so a decision does not drift with the calendar.

The counting rule (one rule for every trial, cited by the rule-set fields that use it):

- **Calendar months** are added as on a calendar, clamped to the end of a shorter month:
  15 January + 1 month = 15 February; 31 January + 1 month = 28 (or 29) February.
- **Age** is in *completed years*: the number of birthdays reached on the index date. A birthday on
  the index date counts. A 29 February birthday is reached on 28 February in common years.
- **Symptom duration** is in *elapsed calendar months*: the completed months since the onset plus
  the elapsed part of the month in progress (days elapsed / days of that month). So a duration is
  *at least 2 months* from the day onset + 2 months, *at most 12 months* up to and including the
  day onset + 12 months, and *more than 3 months* from the day after onset + 3 months.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from grading.errors import GradingError


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months, clamped to the end of a shorter month (Nov 30 + 3 → Feb 28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def completed_months(start: dt.date, on: dt.date) -> int:
    """The number of whole calendar months from ``start`` to ``on`` (``on`` not before ``start``)."""
    if on < start:
        raise GradingError(f"{on.isoformat()} is before {start.isoformat()}")
    months = (on.year - start.year) * 12 + on.month - start.month
    if add_months(start, months) > on:
        months -= 1
    return months


def completed_years(birth: dt.date, on: dt.date) -> int:
    """Age in completed years on ``on``: the birthdays reached (a birthday on ``on`` counts)."""
    return completed_months(birth, on) // 12


def elapsed_months(start: dt.date, on: dt.date) -> float:
    """Calendar months from ``start`` to ``on``: completed months plus the elapsed fraction of the next.

    Exactly ``n`` on the day ``start`` + ``n`` months, more than ``n`` on every later day of that month.
    """
    whole = completed_months(start, on)
    begin = add_months(start, whole)
    if begin == on:
        return float(whole)
    end = add_months(start, whole + 1)
    return whole + (on - begin).days / (end - begin).days


@dataclass(frozen=True)
class Episode:
    """The dates of one screening episode; ages and durations are computed from them at the index date."""

    index_date: dt.date
    date_of_birth: dt.date | None = None
    symptom_onset_date: dt.date | None = None

    def __post_init__(self) -> None:
        for name in ("index_date", "date_of_birth", "symptom_onset_date"):
            value = getattr(self, name)
            if value is None and name == "index_date":
                raise GradingError("index_date is required", field=name)
            if value is not None and (not isinstance(value, dt.date) or isinstance(value, dt.datetime)):
                raise GradingError(f"{name} must be a date, got {value!r}", field=name)
        for name in ("date_of_birth", "symptom_onset_date"):
            value = getattr(self, name)
            if value is not None and value > self.index_date:
                raise GradingError(
                    f"{name} {value.isoformat()} is after the index date {self.index_date.isoformat()}; "
                    "allowed: a date on or before the index date",
                    field=name,
                )

    def check_study_date(self, study_date: dt.date | None) -> None:
        """An MRI taken after the index date cannot have been seen at screening: an error naming it."""
        if study_date is not None and study_date > self.index_date:
            raise GradingError(
                f"index_date {self.index_date.isoformat()} is before the MRI (study_date "
                f"{study_date.isoformat()}); allowed: an index date on or after the MRI",
                field="index_date",
            )

    def computed(self) -> dict[str, dt.date | None]:
        """The source date of each computable quantity (see :data:`COMPUTATIONS`)."""
        return {"date_of_birth": self.date_of_birth, "symptom_onset_date": self.symptom_onset_date}

    def value(self, computation: str) -> int | float | None:
        """The quantity ``computation`` (a key of :data:`COMPUTATIONS`) at the index date, ``None`` when
        its source date is not recorded."""
        source, function = COMPUTATIONS[computation]
        start = self.computed()[source]
        return None if start is None else function(start, self.index_date)


COMPUTATIONS: dict[str, tuple[str, Callable[[dt.date, dt.date], int | float]]] = {
    "completed_years_since_date_of_birth": ("date_of_birth", completed_years),
    "elapsed_months_since_symptom_onset_date": ("symptom_onset_date", elapsed_months),
}
"""The computations a rule-set field may name in ``computed``: the source date and the counting rule."""
