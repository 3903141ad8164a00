"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # imported when used: ``modic --help`` and light subcommands start quickly
    from sqlmodel import Session

    from registry.dbapi import Db
    from registry.settings import Settings

T = TypeVar("T")


def add_database_option(parser: argparse.ArgumentParser) -> None:
    """``--database-url`` (default: ``MODIC_DATABASE_URL``, else ``sqlite:///./modic.db``)."""
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy database URL (default: $MODIC_DATABASE_URL or sqlite:///./modic.db)",
    )


def settings_from(args: argparse.Namespace, *, demo: bool = False, key_checked_only: bool = False) -> Settings:
    """The settings of the environment, with ``--database-url`` applied; the patient key is put to use
    (:class:`registry.crypto.PatientKeyError` when it is missing or malformed). ``demo``: without a
    key, the demo's own key kept in the data folder (:func:`registry.crypto.demo_key`).
    ``key_checked_only``: the key is refused as always when missing or malformed, but put to use only by
    :func:`use_patient_key`, which loads the cryptography and the database types (``modic pull`` searches
    the archive meanwhile)."""
    from registry.settings import Settings

    overrides = {"database_url": args.database_url} if getattr(args, "database_url", None) else {}
    settings = Settings(**overrides)
    if key_checked_only and not demo:
        from registry.patient_key import key_bytes

        key_bytes(None if settings.patient_key is None else settings.patient_key.get_secret_value())
        return settings
    if demo and settings.patient_key is None:
        from pydantic import SecretStr

        from registry import crypto

        settings = settings.model_copy(update={"patient_key": SecretStr(crypto.demo_key(settings.data_dir))})
    use_patient_key(settings)
    return settings


def use_patient_key(settings: Settings) -> None:
    """Put the settings' patient key to use in this process (:class:`registry.crypto.PatientKeyError` when it
    is missing or malformed)."""
    from registry import crypto

    crypto.configure(None if settings.patient_key is None else settings.patient_key.get_secret_value())


@dataclass(frozen=True)
class QuickSettings:
    """The settings ``modic user add`` needs, read as :func:`settings_from` reads them (the same values,
    the same refusals) without loading pydantic in the usual case (:mod:`registry.quick_settings`)."""

    database_url: str
    token_lifetime_days: float


def quick_settings_from(args: argparse.Namespace) -> QuickSettings:
    """:func:`settings_from`'s settings and checks of the patient key (:class:`registry.patient_key.PatientKeyError`),
    read by :func:`registry.quick_settings.read`; :func:`settings_from` itself when that does not vouch for
    a value (it then refuses, or takes, the value as always)."""
    from registry import patient_key, quick_settings

    overrides = {"database_url": args.database_url} if getattr(args, "database_url", None) else {}
    values = quick_settings.read(overrides)
    if values is None:
        settings = settings_from(args)
        return QuickSettings(settings.database_url, settings.token_lifetime_days)
    key = values["patient_key"]
    patient_key.key_bytes(key if isinstance(key, str) else None)
    url, days = values["database_url"], values["token_lifetime_days"]
    assert isinstance(url, str) and isinstance(days, int | float)
    return QuickSettings(url, float(days))


def in_database(settings: QuickSettings, action: Callable[[Db], T]) -> T:
    """Run ``action`` in a write transaction on the migrated database, through its plain DB-API driver
    (:func:`registry.dbapi.write_transaction`: no SQLAlchemy when the schema is current); committed when
    ``action`` returns, rolled back when it raises (errors propagate)."""
    from registry.dbapi import write_transaction

    with write_transaction(settings.database_url) as db:
        return action(db)


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


Command = Callable[[argparse.Namespace], int]
"""A subcommand's ``func``: the parsed arguments in, the exit status out."""


def registry_command(command: Command) -> Command:
    """``command``, with a refusal of the registry (:class:`RegistryError`) ending as one line on
    stderr and exit status 1."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        from registry.errors import RegistryError

        try:
            return command(args)
        except RegistryError as exc:
            return fail(exc.message)

    return run


def add_user_action(actions: Any, action: str, help: str, command: Command) -> argparse.ArgumentParser:
    """An action on one user (``modic user disable NAME``, ``modic token revoke NAME``...): the
    user's name, ``--database-url``, and ``command`` run as :func:`registry_command`."""
    parser: argparse.ArgumentParser = actions.add_parser(action, help=help)
    parser.add_argument("name", help="the user's name")
    add_database_option(parser)
    parser.set_defaults(func=registry_command(command))
    return parser
