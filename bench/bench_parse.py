"""Parsing endplate gradings: the shared parse cache of :meth:`grading.nordic.EndplateGrading.from_mapping`
against a fresh parse of every endplate (``EndplateGrading._parse``), in the same process.

1. Stored gradings: 20,000 canonical versions as re-evaluation reads them (most endplates without
   change), turned into :class:`StudyGrading` values.
2. Request bodies: the grading benchmark's ``POST`` body, parsed the same way, endplate by endplate.

The two ways alternate, ``ROUNDS`` times each; figures are medians. Run: ``python bench/run.py parse``.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_eligibility import random_endplates
from bench.bench_grading import BODY
from bench.common import print_table, row
from grading.endplates import ENDPLATES
from grading.nordic import EndplateGrading, StudyGrading

STORED = 20_000
BODIES = 5_000
ROUNDS = 5


def cached(endplates: Mapping[str, Any]) -> StudyGrading:
    return StudyGrading(tuple(EndplateGrading.from_mapping(e, endplates[e.value]) for e in ENDPLATES))


def fresh(endplates: Mapping[str, Any]) -> StudyGrading:
    return StudyGrading(tuple(EndplateGrading._parse(e, endplates[e.value]) for e in ENDPLATES))


def seconds(parse: Callable[[Mapping[str, Any]], StudyGrading], inputs: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    for endplates in inputs:
        parse(endplates)
    return time.perf_counter() - start


def run() -> list[dict[str, Any]]:
    rng = random.Random(1)
    stored = [random_endplates(rng) for _ in range(STORED)]
    bodies = [BODY["endplates"]] * BODIES
    rows = []
    for label, inputs, unit, scale in (
        (f"parse {STORED:,} stored gradings", stored, "s", 1.0),
        ("parse one grading request body", bodies, "µs", 1e6 / BODIES),
    ):
        with_cache, without = [], []
        for _ in range(ROUNDS):
            with_cache.append(seconds(cached, inputs) * scale)
            without.append(seconds(fresh, inputs) * scale)
        ours, peer = statistics.median(with_cache), statistics.median(without)
        rows.append(
            row(
                f"{label}, shared parse cache, median of {ROUNDS}",
                f"{ours:.2f} {unit}" if unit == "s" else f"{ours:.0f} {unit}",
                "faster than a fresh parse",
                ours < peer,
                peer=f"fresh parse {peer:.2f} {unit}" if unit == "s" else f"fresh parse {peer:.0f} {unit}",
                ratio=f"{ours / peer:.2f}",
            )
        )
    return rows


if __name__ == "__main__":
    print_table(run())
