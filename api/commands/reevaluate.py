"""``modic reevaluate [--all] [--date YYYY-MM-DD]``: re-evaluate stored eligibility decisions.

Run daily (e.g. from cron): decisions whose date criteria may have changed by the date (such as
NCT03100266's "MRI within the last 3 months") are evaluated again; ``--all`` evaluates every
patient for every rule set (after adding a rule-set version).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json

from api.commands._common import add_database_option, fail, in_registry, registry_command
from registry.services.eligibility import today
from registry.services.eligibility.decisions import reevaluate_and_commit


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all", action="store_true", help="every decision, not only those a date may have changed")
    parser.add_argument("--date", help="evaluation date YYYY-MM-DD (default: today, UTC)")
    add_database_option(parser)
    parser.set_defaults(func=_reevaluate)


@registry_command
def _reevaluate(args: argparse.Namespace) -> int:

    try:
        on = dt.date.fromisoformat(args.date) if args.date else today()
    except ValueError:
        return fail(f"--date {args.date!r} is not a date; use YYYY-MM-DD")
    report = in_registry(args, lambda session: reevaluate_and_commit(session, on, due_only=not args.all))
    summary = {
        "date": on.isoformat(),
        "patients": report.patients,
        "evaluated": report.evaluated,
        "created": report.created,
        "changed": report.changed,
    }
    print(json.dumps(summary))
    return 0
