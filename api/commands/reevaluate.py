"""``modic reevaluate [--all] [--date YYYY-MM-DD]``: re-evaluate stored eligibility decisions.

Run daily (e.g. from cron): decisions whose date criteria may have changed by the date (such as
NCT03100266's "MRI within the last 3 months") are evaluated again; ``--all`` evaluates every
patient for every rule set (after adding a rule-set version).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from api.commands._common import add_database_option, fail, settings_from
from registry.errors import RegistryError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("reevaluate", help="re-evaluate eligibility decisions (daily, or all)")
    parser.add_argument("--all", action="store_true", help="every decision, not only those a date may have changed")
    parser.add_argument("--date", help="evaluation date YYYY-MM-DD (default: today, UTC)")
    add_database_option(parser)
    parser.set_defaults(func=_reevaluate)


def _reevaluate(args: argparse.Namespace) -> int:
    from registry.db import get_engine, migrate, session_scope
    from registry.services import eligibility as eligibility_service

    try:
        on = dt.date.fromisoformat(args.date) if args.date else eligibility_service.today()
    except ValueError:
        return fail(f"--date {args.date!r} is not a date; use YYYY-MM-DD")
    engine = get_engine(settings_from(args).database_url)
    migrate(engine)
    with session_scope(engine, write=True) as session:
        try:
            report = eligibility_service.reevaluate_and_commit(session, on, due_only=not args.all)
        except RegistryError as exc:
            return fail(exc.message)
    summary = {
        "date": on.isoformat(),
        "patients": report.patients,
        "evaluated": report.evaluated,
        "created": report.created,
        "changed": report.changed,
    }
    print(json.dumps(summary))
    return 0
