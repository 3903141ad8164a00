"""Pocock–Simon minimisation with a seeded, recorded random stream, and its replay.

For a new patient with levels ``l_f`` of each factor ``f``, and each candidate arm ``a``:

1. ``x[f][b]`` = patients already in arm ``b`` with level ``l_f``, divided by ``b``'s ratio; then
   ``a``'s count is raised by one (as if the patient joined ``a``).
2. ``d[f](a)`` = the range (or sample variance) of ``x[f][·]``; ``G(a)`` = Σ_f weight_f · d[f](a).
3. Arms are ranked by ``G`` (ascending; ties in random order). The first (preferred) arm gets
   probability ``p``, each other arm ``(1 - p) / (N - 1)``; one uniform draw ``u`` picks the arm.

The random draws of allocation ``n`` come from ``random.Random(f"{seed}:{n}")`` (the tie shuffle, then
``u``), so every allocation can be re-drawn from the seed alone; and every allocation records its
factor levels, ``G`` per arm, the ranking and ``u``, so the sequence can be replayed and checked
without the seed. This consumes random numbers exactly as ``smallerize`` (``best_only`` with a
weighted sum) does, which the tests use as an independent implementation.
"""

from __future__ import annotations

import bisect
import itertools
import random
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from grading.allocation.scheme import Imbalance, Scheme
from grading.errors import GradingError


def stream(seed: str, sequence: int) -> random.Random:
    """The random draws of allocation number ``sequence`` (1, 2, ...) of the stream ``seed``."""
    return random.Random(f"{seed}:{sequence}")


@dataclass(frozen=True)
class Allocation:
    """One allocation with everything needed to check it."""

    sequence: int
    levels: dict[str, str]
    arm: str
    imbalance: dict[str, float]
    """The total imbalance G per candidate arm."""
    ranking: tuple[str, ...]
    """Arms by G, ties in the drawn order; the first is the preferred arm."""
    probabilities: dict[str, float]
    draw: float
    """The uniform draw in [0, 1) that picked the arm."""

    def to_mapping(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "levels": dict(self.levels),
            "arm": self.arm,
            "imbalance": dict(self.imbalance),
            "ranking": list(self.ranking),
            "probabilities": dict(self.probabilities),
            "draw": self.draw,
        }


def _score(method: Imbalance, counts: Sequence[float]) -> float:
    if method is Imbalance.RANGE:
        return max(counts) - min(counts)
    return statistics.variance(counts)


@dataclass
class Tally:
    """Running counts per factor, level and arm: the state minimisation reads."""

    scheme: Scheme
    counts: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    allocated: int = 0

    def add(self, levels: Mapping[str, str], arm: str) -> None:
        for name, level in levels.items():
            self.counts.setdefault((name, level), dict.fromkeys(self.scheme.arm_names, 0))[arm] += 1
        self.allocated += 1

    def level_counts(self, factor: str, level: str) -> dict[str, int]:
        return dict(self.counts.get((factor, level), dict.fromkeys(self.scheme.arm_names, 0)))

    def totals(self) -> dict[str, int]:
        """Patients per arm (the running totals that only the allocation manager may see)."""
        first = self.scheme.factors[0]
        return {
            arm: sum(self.level_counts(first.name, level)[arm] for level in first.levels)
            for arm in self.scheme.arm_names
        }

    def copy(self) -> Tally:
        """An independent copy (to try an allocation without recording it)."""
        return Tally(self.scheme, {key: dict(value) for key, value in self.counts.items()}, self.allocated)

    def imbalances(self, levels: Mapping[str, str]) -> dict[str, float]:
        """G(a) for each candidate arm ``a`` (step 1-2 of the module docstring)."""
        ratios = {a.name: a.ratio for a in self.scheme.arms}
        result: dict[str, float] = {}
        for candidate in self.scheme.arm_names:
            total = 0.0
            for factor in self.scheme.factors:
                raw = self.level_counts(factor.name, levels[factor.name])
                scaled = {arm: raw[arm] / ratios[arm] for arm in self.scheme.arm_names}
                scaled[candidate] += 1
                total += factor.weight * _score(self.scheme.imbalance, list(scaled.values()))
            result[candidate] = total
        return result


def rank(imbalance: Mapping[str, float], rng: random.Random) -> list[str]:
    """Arms by ascending imbalance, each group of tied arms shuffled with ``rng``."""
    ranked = sorted(imbalance, key=lambda arm: imbalance[arm])
    start = 0
    for _, group in itertools.groupby(ranked, key=lambda arm: imbalance[arm]):
        size = len(list(group))
        if size > 1:
            ranked[start : start + size] = rng.sample(ranked[start : start + size], size)
        start += size
    return ranked


def probabilities(scheme: Scheme, ranking: Sequence[str]) -> list[float]:
    """The probability of each ranked arm: ``p`` for the preferred one, the rest shared equally."""
    n = len(ranking)
    p = scheme.preferred_probability
    return [p] + [(1 - p) / (n - 1)] * (n - 1)


def pick(ranking: Sequence[str], weights: Sequence[float], u: float) -> str:
    """The arm the uniform draw ``u`` selects (cumulative weights, as ``random.choices`` does)."""
    cumulative = list(itertools.accumulate(weights))
    return ranking[bisect.bisect(cumulative, u * (cumulative[-1] + 0.0), 0, len(ranking) - 1)]


def allocate(tally: Tally, levels: Mapping[str, object], seed: str) -> Allocation:
    """Allocate the next patient of ``tally`` (checked ``levels``) from the stream ``seed``; updates ``tally``."""
    checked = tally.scheme.check_levels(levels)
    sequence = tally.allocated + 1
    rng = stream(seed, sequence)
    imbalance = tally.imbalances(checked)
    ranking = rank(imbalance, rng)
    weights = probabilities(tally.scheme, ranking)
    u = rng.random()
    arm = pick(ranking, weights, u)
    tally.add(checked, arm)
    return Allocation(sequence, checked, arm, imbalance, tuple(ranking), dict(zip(ranking, weights, strict=True)), u)


def simple_randomisation(scheme: Scheme, seed: str, sequence: int) -> str:
    """An arm drawn in proportion to the ratios, ignoring the factors (the comparison of the simulation)."""
    u = stream(seed, sequence).random()
    return pick(scheme.arm_names, [a.ratio for a in scheme.arms], u)


@dataclass(frozen=True)
class Replay:
    """The result of checking a recorded sequence."""

    checked: int
    mismatches: tuple[str, ...]
    """One line per allocation that does not follow, e.g. ``#7: recorded rest, replay gives exercise``."""

    @property
    def ok(self) -> bool:
        return not self.mismatches


def replay(scheme: Scheme, records: Iterable[Allocation], seed: str | None = None) -> Replay:
    """Re-run the recorded sequence: from the recorded factors and draws (and, given ``seed``, the
    draws re-drawn from the stream) every imbalance, ranking and arm must come out again."""
    tally = Tally(scheme)
    problems: list[str] = []
    checked = 0
    for record in sorted(records, key=lambda r: r.sequence):
        checked += 1
        where = f"#{record.sequence}"
        if record.sequence != tally.allocated + 1:
            problems.append(f"{where}: expected sequence number {tally.allocated + 1} (a gap or a duplicate)")
        try:
            levels = scheme.check_levels(record.levels)
        except GradingError as exc:
            problems.append(f"{where}: {exc.message}")
            continue
        if sorted(record.ranking) != sorted(scheme.arm_names) or record.arm not in scheme.arm_names:
            problems.append(
                f"{where}: recorded arm {record.arm!r} or ranking {list(record.ranking)} is not of the scheme"
            )
            continue
        imbalance = tally.imbalances(levels)
        if imbalance != record.imbalance:
            problems.append(f"{where}: recorded imbalance {record.imbalance}, replay gives {imbalance}")
        ranked = sorted(record.ranking, key=lambda arm: imbalance[arm])
        if [imbalance[a] for a in ranked] != [imbalance[a] for a in record.ranking]:
            problems.append(f"{where}: recorded ranking {list(record.ranking)} does not follow the imbalance")
        if seed is not None:
            redrawn = allocate(tally.copy(), levels, seed)
            if (redrawn.ranking, redrawn.draw) != (record.ranking, record.draw):
                problems.append(f"{where}: the recorded draws differ from the stream")
        arm = pick(record.ranking, probabilities(scheme, record.ranking), record.draw)
        if arm != record.arm:
            problems.append(f"{where}: recorded {record.arm}, replay gives {arm}")
        tally.add(levels, record.arm)
    return Replay(checked, tuple(problems))


def marginal_imbalance(scheme: Scheme, assigned: Iterable[tuple[Mapping[str, str], str]]) -> dict[str, float]:
    """Per factor: the mean over its levels of the range of ratio-scaled arm counts (0 = balanced)."""
    tally = Tally(scheme)
    for levels, arm in assigned:
        tally.add(levels, arm)
    ratios = {a.name: a.ratio for a in scheme.arms}
    result: dict[str, float] = {}
    for factor in scheme.factors:
        ranges = []
        for level in factor.levels:
            counts = tally.level_counts(factor.name, level)
            scaled = [counts[arm] / ratios[arm] for arm in scheme.arm_names]
            ranges.append(max(scaled) - min(scaled))
        result[factor.name] = sum(ranges) / len(ranges)
    return result
