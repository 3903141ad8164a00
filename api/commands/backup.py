"""``modic backup DEST``: back up the running site's database and image folder into a new folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from api.commands._common import add_database_option, registry_command, settings_from


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("destination", type=Path, help="a new (or empty) folder to write the backup to")
    add_database_option(parser)
    parser.set_defaults(func=registry_command(_backup))


def _backup(args: argparse.Namespace) -> int:
    from registry.backup import backup

    settings = settings_from(args)
    report = backup(settings.database_url, settings.data_dir, args.destination)
    print(report.line("backed up", args.destination))
    return 0
