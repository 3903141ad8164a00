"""The ``modic`` command line: one subcommand per module of :mod:`api.commands`.

A command line that names its subcommand imports only that subcommand's module (``modic pull`` does not
load the web application); ``modic``, ``modic --help`` or an unknown name register every subcommand so
that the usage lists them all.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import api.commands


def command_names() -> list[str]:
    """The subcommands, by module name (each module registers the subcommand of its own name)."""
    modules = pkgutil.iter_modules(api.commands.__path__)
    return sorted(m.name for m in modules if not m.name.startswith("_"))


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser with the subcommand ``argv`` names registered, or every subcommand when it names none."""
    parser = argparse.ArgumentParser(prog="modic", description="Nordic Modic grading registry")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names = command_names()
    first = next(iter(sys.argv[1:] if argv is None else argv), None)
    for name in [first] if first in names else names:
        importlib.import_module(f"api.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = build_parser(argv).parse_args(argv)
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
