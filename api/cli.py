"""The ``modic`` command line: one subcommand per module of :mod:`api.commands`.

Only the module of the subcommand being run is imported (all of them for ``modic --help`` or an
unknown name), and each module imports what its work needs when it runs, so a subcommand that needs
no web stack does not load it.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import api.commands


def command_names() -> list[str]:
    """The subcommands, from the module names of :mod:`api.commands` (nothing is imported)."""
    modules = pkgutil.iter_modules(api.commands.__path__)
    return sorted(m.name for m in modules if not m.name.startswith("_"))


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand registered, or only the subcommand ``only``."""
    parser = argparse.ArgumentParser(prog="modic", description="Nordic Modic grading registry")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in [only] if only is not None else command_names():
        module = importlib.import_module(f"api.commands.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    chosen = arguments[0] if arguments and arguments[0] in command_names() else None
    args = build_parser(chosen).parse_args(arguments)
    try:
        status: int = args.func(args)
    except Exception as exc:
        from registry.crypto import PatientKeyError  # the key is checked when a command first needs it

        if not isinstance(exc, PatientKeyError):
            raise
        print(f"modic: error: {exc.message}", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
