"""The ``modic`` command line: one subcommand per module of :mod:`api.commands`.

Only the module of the subcommand being run is imported (none for ``modic --help`` or an unknown
name: the commands are listed from :data:`api.commands.SUMMARIES`), and each module imports what its
work needs when it runs, so a subcommand that needs no web stack does not load it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from api.commands import SUMMARIES


def build_parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """The parser listing every subcommand with its summary; only the subcommand ``chosen`` gets its
    arguments (its module is imported, and no other)."""
    parser = argparse.ArgumentParser(prog="modic", description="Nordic Modic grading registry")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, summary in SUMMARIES.items():
        command = subparsers.add_parser(name, help=summary, description=summary)
        if name == chosen:
            importlib.import_module(f"api.commands.{name}").register(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    chosen = arguments[0] if arguments and arguments[0] in SUMMARIES else None
    args = build_parser(chosen).parse_args(arguments)
    try:
        status: int = args.func(args)
    except Exception as exc:
        from registry.patient_key import PatientKeyError  # the key is checked when a command first needs it

        if isinstance(exc, PatientKeyError):
            print(f"modic: error: {exc.message}", file=sys.stderr)
            return 1
        if _from_database_driver(exc):
            # An unreachable server or a file that is not a database: one line, not a traceback.
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            print(f"modic: error: the database could not be used: {reason}", file=sys.stderr)
            return 1
        raise
    return status


def _from_database_driver(exc: Exception) -> bool:
    """Whether ``exc`` is a database driver's (or SQLAlchemy's wrapper of one) error that the database
    cannot be reached or opened. Told by its module, so that no driver is imported for it."""
    package = type(exc).__module__.split(".")[0]
    return package in ("sqlite3", "psycopg", "sqlalchemy") and type(exc).__name__ in (
        "OperationalError",
        "DatabaseError",
    )


if __name__ == "__main__":
    sys.exit(main())
