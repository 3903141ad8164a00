"""``modic assign STUDY... --to NAME [--withdraw]``: who may read which study (need to know)."""

from __future__ import annotations

import argparse

from sqlmodel import Session

from api.commands._common import add_database_option, fail, in_registry
from registry.errors import RegistryError
from registry.services import assignments


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("studies", nargs="+", metavar="STUDY", help="study id or StudyInstanceUID")
    parser.add_argument("--to", required=True, metavar="NAME", help="the radiologist")
    parser.add_argument("--withdraw", action="store_true", help="end the assignment instead")
    add_database_option(parser)
    parser.set_defaults(func=_assign)


def _assign(args: argparse.Namespace) -> int:
    def run(session: Session) -> list[str]:
        lines = []
        for ref in args.studies:
            if args.withdraw:
                study = assignments.withdraw(session, None, ref, args.to)
                lines.append(f"study {study.id}: {args.to!r} is no longer assigned")
            else:
                study, created = assignments.assign(session, None, ref, args.to)
                lines.append(f"study {study.id}: {args.to!r} {'assigned' if created else 'was already assigned'}")
        return lines

    try:
        lines = in_registry(args, run)
    except RegistryError as exc:
        return fail(exc.message)
    print("\n".join(lines))
    return 0
