"""``modic restore SRC``: restore a backup into an empty database and an empty image folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from api.commands._common import add_database_option, registry_command, settings_from


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path, help="a folder written by modic backup")
    add_database_option(parser)
    parser.set_defaults(func=registry_command(_restore))


def _restore(args: argparse.Namespace) -> int:
    from registry.backup import restore

    settings = settings_from(args)
    report = restore(args.source, settings.database_url, settings.data_dir)
    print(report.line("restored", args.source))
    return 0
