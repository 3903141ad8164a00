"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TypeVar

from pydantic import SecretStr
from sqlmodel import Session

from registry import crypto
from registry.db import get_engine, migrate, session_scope
from registry.settings import Settings

T = TypeVar("T")


def add_database_option(parser: argparse.ArgumentParser) -> None:
    """``--database-url`` (default: ``MODIC_DATABASE_URL``, else ``sqlite:///./modic.db``)."""
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy database URL (default: $MODIC_DATABASE_URL or sqlite:///./modic.db)",
    )


def settings_from(args: argparse.Namespace, *, demo: bool = False) -> Settings:
    """The settings of the environment, with ``--database-url`` applied; the patient key is put to use
    (:class:`registry.crypto.PatientKeyError` when it is missing or malformed). ``demo``: without a
    key, the demo's own key kept in the data folder (:func:`registry.crypto.demo_key`)."""
    overrides = {"database_url": args.database_url} if getattr(args, "database_url", None) else {}
    settings = Settings(**overrides)
    if demo and settings.patient_key is None:
        settings = settings.model_copy(update={"patient_key": SecretStr(crypto.demo_key(settings.data_dir))})
    crypto.configure(None if settings.patient_key is None else settings.patient_key.get_secret_value())
    return settings


def fail(message: str) -> int:
    """Print one line on stderr and return the exit status 1."""
    print(f"modic: error: {message}", file=sys.stderr)
    return 1


def in_registry(args: argparse.Namespace, action: Callable[[Session], T]) -> T:
    """Run ``action`` in a write session on the migrated database of ``args`` (errors propagate)."""
    engine = get_engine(settings_from(args).database_url)
    migrate(engine)
    with session_scope(engine, write=True) as session:
        return action(session)
