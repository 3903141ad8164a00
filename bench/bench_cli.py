"""Start-up of the ``modic`` command line: ``modic --help`` and ``modic user add`` (on a migrated
SQLite database) against ``python -c pass``, each a fresh interpreter, median wall time of 7 runs
taken in turn."""

from __future__ import annotations

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


def _wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        database = f"sqlite:///{tmp}/cli.db"
        modic = [sys.executable, "-m", "api.cli"]
        subprocess.run([*modic, "user", "add", "first", "--role", "admin", "--database-url", database], check=True)
        times: dict[str, list[float]] = {"pass": [], "help": [], "user add": []}
        for i in range(RUNS):
            times["pass"].append(_wall([sys.executable, "-c", "pass"]))
            times["help"].append(_wall([*modic, "--help"]))
            user = [*modic, "user", "add", f"user-{i}", "--role", "radiologist", "--database-url", database]
            times["user add"].append(_wall(user))
    base = median(times["pass"])
    rows = []
    for name, label in (("help", "modic --help"), ("user add", "modic user add (migrated SQLite)")):
        extra = median(times[name]) - base
        rows.append(
            row(
                f"{label}, wall time, median of {RUNS}",
                f"{median(times[name]) * 1000:.0f} ms",
                f"< {TARGET_S * 1000:.0f} ms more than python -c pass",
                extra < TARGET_S,
                peer=f"python -c pass {base * 1000:.0f} ms",
                ratio=f"+{extra * 1000:.0f} ms",
            )
        )
    return rows


if __name__ == "__main__":
    print_table(run())
