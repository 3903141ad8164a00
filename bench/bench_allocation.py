"""Minimisation: balance over 10,000 simulated patients against simple randomisation, and the time to
allocate one patient against smallerize (the same algorithm, see docs/allocation.md).

``python bench/run.py allocation``
"""

from __future__ import annotations

import contextlib
import io
import random
import statistics
import time
from typing import Any

from bench.common import row
from grading.allocation import Scheme, Tally, allocate, marginal_imbalance, scheme_of, simple_randomisation, stream

PATIENTS = 10_000
RUNS = 5


def simulated(n: int, seed: int, scheme: Scheme) -> list[dict[str, str]]:
    """Patients with unevenly distributed levels (the first level most common), so that chance
    imbalance is real. Shared with ``tests/grading/test_allocation.py``."""
    rng = random.Random(seed)
    return [
        {f.name: rng.choices(f.levels, weights=range(len(f.levels), 0, -1))[0] for f in scheme.factors}
        for _ in range(n)
    ]


def balance() -> dict[str, Any]:
    """Median over runs of each factor's marginal imbalance (mean over levels of the arm-count range)."""
    scheme = scheme_of("NCT00454792")
    ours: dict[str, list[float]] = {f.name: [] for f in scheme.factors}
    chance: dict[str, list[float]] = {f.name: [] for f in scheme.factors}
    for run in range(RUNS):
        people = simulated(PATIENTS, run, scheme)
        tally = Tally(scheme)
        minimised = [(levels, allocate(tally, levels, f"bench-{run}").arm) for levels in people]
        simple = [(levels, simple_randomisation(scheme, f"bench-{run}", n)) for n, levels in enumerate(people, 1)]
        for name, value in marginal_imbalance(scheme, minimised).items():
            ours[name].append(value)
        for name, value in marginal_imbalance(scheme, simple).items():
            chance[name].append(value)
    med = {name: statistics.median(v) for name, v in ours.items()}
    peer = {name: statistics.median(v) for name, v in chance.items()}
    worst = max(med[name] / peer[name] for name in med)
    return row(
        f"minimisation balance, {PATIENTS:,} patients, median of {RUNS} (mean arm-count range per level)",
        ", ".join(f"{name} {value:.1f}" for name, value in med.items()),
        "better than simple randomisation on every factor",
        all(med[name] < peer[name] for name in med),
        peer="simple randomisation: " + ", ".join(f"{name} {value:.1f}" for name, value in peer.items()),
        ratio=f"worst factor {worst:.3f}",
    )


def smallerize_minimizer(scheme: Scheme) -> Any:
    """smallerize's ``Minimizer`` with the scheme's arms, factors, imbalance, weights and preferred-arm
    probability (the same algorithm, docs/allocation.md). Shared with the tests."""
    import smallerize

    with contextlib.redirect_stdout(io.StringIO()):  # it prints notes about its defaults
        return smallerize.Minimizer(
            factors=[smallerize.Factor(f.name, f.levels, weight=f.weight) for f in scheme.factors],
            arms=[smallerize.Arm(a.name, a.ratio) for a in scheme.arms],
            d_imbalance_method=scheme.imbalance.value,
            total_imbalance_method="weighted_sum",
            probability_method="best_only",
            preferred_p=scheme.preferred_probability,
        )


def speed() -> dict[str, Any]:
    """Median time to allocate each of 2,000 patients, ours against smallerize on the same draws."""
    scheme = scheme_of("NCT00454792")
    people = simulated(2000, 99, scheme)
    minimizer = smallerize_minimizer(scheme)
    tally = Tally(scheme)
    ours, theirs = [], []
    for n, levels in enumerate(people, 1):
        start = time.perf_counter()
        arm = allocate(tally, levels, "speed").arm
        ours.append(time.perf_counter() - start)
        random.setstate(stream("speed", n).getstate())
        start = time.perf_counter()
        their_arm = minimizer.assign_participant(levels)
        theirs.append(time.perf_counter() - start)
        assert arm == their_arm, n
    mine, peer = statistics.median(ours), statistics.median(theirs)
    return row(
        "allocate one patient (2,000 in sequence, 4 factors, in-process)",
        f"median {mine * 1e6:.0f} µs",
        "< 10 ms",
        mine < 0.01,
        peer=f"smallerize assign_participant: median {peer * 1e6:.0f} µs",
        ratio=f"{peer / mine:.1f}x faster",
    )


def run() -> list[dict[str, Any]]:
    return [balance(), speed()]
