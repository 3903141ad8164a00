"""``modic agreement FILE.csv [--json]``: the agreement report of ratings made elsewhere.

Long format with a header row: ``unit,rater,value`` and optionally ``cluster`` (e.g. the patient, for
the bootstrap) and ``variable``. An empty ``value`` is a missing rating. A variable whose values are all
integers is read as integers (so they sort numerically); ``--ordinal VARIABLE=c1,c2,...`` declares an
ordinal variable with its full ordered scale.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "agreement",
        help="rater agreement report of a long-format CSV (unit,rater,value[,cluster][,variable])",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, help="CSV with header unit,rater,value[,cluster][,variable]")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    parser.add_argument(
        "--ordinal",
        action="append",
        default=[],
        metavar="VARIABLE=C1,C2,...",
        help="declare VARIABLE ordinal with this ordered scale (repeatable)",
    )
    parser.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    parser.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from api.commands._agreement import run  # numpy and the statistics, only when a report is made

    return run(args)
