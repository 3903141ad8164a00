"""Start-up of the ``modic`` command line: ``modic --help`` and ``modic user add`` (on a migrated
SQLite database) against ``python -c pass``, each a fresh interpreter, median wall time of 7 runs
taken in turn (with the median CPU time of the child, which a loaded machine inflates less)."""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, median, print_table, row

RUNS = 7
TARGET_S = 0.5
"""At most this much more than starting the interpreter."""


def _timed(command: list[str]) -> tuple[float, float]:
    """The wall time and the CPU time (user and system) of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        database = f"sqlite:///{tmp}/cli.db"
        modic = [sys.executable, "-m", "api.cli"]
        subprocess.run([*modic, "user", "add", "first", "--role", "admin", "--database-url", database], check=True)
        times: dict[str, list[tuple[float, float]]] = {"pass": [], "help": [], "user add": []}
        for i in range(RUNS):
            times["pass"].append(_timed([sys.executable, "-c", "pass"]))
            times["help"].append(_timed([*modic, "--help"]))
            user = [*modic, "user", "add", f"user-{i}", "--role", "radiologist", "--database-url", database]
            times["user add"].append(_timed(user))
    wall = {name: median([w for w, _ in runs]) for name, runs in times.items()}
    cpu = {name: median([c for _, c in runs]) for name, runs in times.items()}
    rows = []
    for name, label in (("help", "modic --help"), ("user add", "modic user add (migrated SQLite)")):
        extra = wall[name] - wall["pass"]
        rows.append(
            row(
                f"{label}, wall time, median of {RUNS}",
                f"{wall[name] * 1000:.0f} ms ({cpu[name] * 1000:.0f} ms CPU)",
                f"< {TARGET_S * 1000:.0f} ms more than python -c pass",
                extra < TARGET_S,
                peer=f"python -c pass {wall['pass'] * 1000:.0f} ms ({cpu['pass'] * 1000:.0f} ms CPU)",
                ratio=f"{extra * 1000:+.0f} ms",
            )
        )
    return rows


if __name__ == "__main__":
    print_table(run())
