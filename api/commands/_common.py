"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import sys

from registry.settings import Settings


def add_database_option(parser: argparse.ArgumentParser) -> None:
    """``--database-url`` (default: ``MODIC_DATABASE_URL``, else ``sqlite:///./modic.db``)."""
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy database URL (default: $MODIC_DATABASE_URL or sqlite:///./modic.db)",
    )


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings of the environment, with ``--database-url`` applied."""
    overrides = {"database_url": args.database_url} if getattr(args, "database_url", None) else {}
    return Settings(**overrides)


def fail(message: str) -> int:
    """Print one line on stderr and return the exit status 1."""
    print(f"modic: error: {message}", file=sys.stderr)
    return 1
