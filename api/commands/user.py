"""``modic user add NAME --role ROLE [--registrar]`` (create a user and print its token),
``modic user registrar NAME [--off]``, ``modic user disable NAME``.

``add`` and ``registrar`` run :mod:`registry.services.accounts` on the database's plain DB-API driver
(no SQLAlchemy or pydantic to load: they start quickly); ``disable`` runs the ORM service."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from api.commands._common import add_user_action, in_database, in_registry, quick_settings_from
from registry.roles import Role

if TYPE_CHECKING:  # imported when the command runs
    from registry.dbapi import Db

_REGISTRAR_HELP = (
    "may register studies and upload images by hospital id, and so learn any patient's pseudonym (admins may anyway)"
)


def register(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = add_user_action(actions, "add", "create a user and print its API token on the last line", _add)
    add.add_argument("--role", required=True, choices=[r.value for r in Role], help="what the user may do")
    add.add_argument("--registrar", action="store_true", help=_REGISTRAR_HELP)
    registrar = add_user_action(actions, "registrar", _REGISTRAR_HELP, _registrar)
    registrar.add_argument("--off", action="store_true", help="take the privilege back")
    add_user_action(actions, "disable", "disable a user: none of their tokens is accepted any more", _disable)


def _add(args: argparse.Namespace) -> int:
    from registry.services.accounts import NewUser, create_user, set_registrar

    settings = quick_settings_from(args)

    def create(db: Db) -> NewUser:
        user = create_user(db, args.name, args.role, token_days=settings.token_lifetime_days)
        if args.registrar:
            set_registrar(db, args.name, True, None)
        return user

    user = in_database(settings, create)  # one transaction: the user and its privilege, or neither
    registrar = " (registrar)" if args.registrar else ""
    print(f"created user {user.name!r} with role {user.role}{registrar}; API token (shown once):")
    print(user.token.value)
    return 0


def _registrar(args: argparse.Namespace) -> int:
    from registry.services.accounts import set_registrar

    in_database(quick_settings_from(args), lambda db: set_registrar(db, args.name, not args.off, None))
    print(f"user {args.name!r} {'may no longer' if args.off else 'may'} register studies and upload images")
    return 0


def _disable(args: argparse.Namespace) -> int:
    from registry.services.users import disable_user

    in_registry(args, lambda session: disable_user(session, args.name, None))
    print(f"disabled user {args.name!r}; their tokens are refused from now on")
    return 0
