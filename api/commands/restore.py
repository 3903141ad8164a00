"""``modic restore SRC``: restore a backup into an empty database and an empty image folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from api.commands._common import add_database_option, fail, settings_from


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("restore", help="restore a backup into an empty database and image folder")
    parser.add_argument("source", type=Path, help="a folder written by modic backup")
    add_database_option(parser)
    parser.set_defaults(func=_restore)


def _restore(args: argparse.Namespace) -> int:
    from registry.backup import restore
    from registry.errors import RegistryError

    settings = settings_from(args)
    try:
        report = restore(args.source, settings.database_url, settings.data_dir)
    except RegistryError as exc:
        return fail(exc.message)
    print(report.line("restored", args.source))
    return 0
