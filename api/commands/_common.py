"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # imported when used: ``modic --help`` and light subcommands start quickly
    from sqlmodel import Session

    from registry.settings import Settings

T = TypeVar("T")


def add_database_option(parser: argparse.ArgumentParser) -> None:
    """``--database-url`` (default: ``MODIC_DATABASE_URL``, else ``sqlite:///./modic.db``)."""
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy database URL (default: $MODIC_DATABASE_URL or sqlite:///./modic.db)",
    )


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings of the environment, with ``--database-url`` applied."""
    from registry.settings import Settings

    overrides = {"database_url": args.database_url} if getattr(args, "database_url", None) else {}
    return Settings(**overrides)


def fail(message: str) -> int:
    """Print one line on stderr and return the exit status 1."""
    print(f"modic: error: {message}", file=sys.stderr)
    return 1


def in_registry(args: argparse.Namespace, action: Callable[[Session], T]) -> T:
    """Run ``action`` in a write session on the migrated database of ``args`` (errors propagate)."""
    from registry.db import get_engine, migrate, session_scope

    engine = get_engine(settings_from(args).database_url)
    migrate(engine)
    with session_scope(engine, write=True) as session:
        return action(session)
