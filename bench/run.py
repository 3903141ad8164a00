"""Run every benchmark and print one table: ``python bench/run.py [NAME ...]``.

Each ``bench/bench_<name>.py`` has ``run() -> list[dict]``; its rows report medians and the ratio
against the named peer measured in the same run.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import print_table

BENCH_DIR = Path(__file__).resolve().parent


def main() -> int:
    available = sorted(p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py"))
    parser = argparse.ArgumentParser(description="Run the benchmarks and print a table of results.")
    parser.add_argument("names", nargs="*", help=f"which to run (default all of {', '.join(available)})")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(available))
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; allowed: {', '.join(available)}")
    rows = []
    for name in args.names or available:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows.extend(importlib.import_module(f"bench.bench_{name}").run())
    print_table(rows)
    return 0 if all(r["met"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
