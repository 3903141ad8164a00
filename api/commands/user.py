"""``modic user add NAME --role ROLE [--registrar]`` (create a user and print its token),
``modic user registrar NAME [--off]``, ``modic user disable NAME``."""

from __future__ import annotations

import argparse
from typing import Any

from sqlmodel import Session

from api.commands._common import add_database_option, fail, in_registry, settings_from
from registry.errors import RegistryError
from registry.models import Role, User
from registry.services.users import add_user, disable_user, set_registrar

_REGISTRAR_HELP = (
    "may register studies and upload images by hospital id, and so learn any patient's pseudonym (admins may anyway)"
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("user", help="manage users")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="create a user and print its API token on the last line")
    add.add_argument("name", help="the user's name (unique)")
    add.add_argument("--role", required=True, choices=[r.value for r in Role], help="what the user may do")
    add.add_argument("--registrar", action="store_true", help=_REGISTRAR_HELP)
    add_database_option(add)
    add.set_defaults(func=_add)
    registrar = actions.add_parser("registrar", help=_REGISTRAR_HELP)
    registrar.add_argument("name", help="the user's name")
    registrar.add_argument("--off", action="store_true", help="take the privilege back")
    add_database_option(registrar)
    registrar.set_defaults(func=_registrar)
    disable = actions.add_parser("disable", help="disable a user: none of their tokens is accepted any more")
    disable.add_argument("name", help="the user's name")
    add_database_option(disable)
    disable.set_defaults(func=_disable)


def _add(args: argparse.Namespace) -> int:
    days = settings_from(args).token_lifetime_days

    def create(session: Session) -> tuple[User, str]:
        user, token = add_user(session, args.name, args.role, token_days=days)
        if args.registrar:
            user = set_registrar(session, args.name, True, None)
        return user, token

    try:
        user, token = in_registry(args, create)
    except RegistryError as exc:
        return fail(exc.message)
    registrar = " (registrar)" if user.registrar else ""
    print(f"created user {user.name!r} with role {user.role}{registrar}; API token (shown once):")
    print(token)
    return 0


def _registrar(args: argparse.Namespace) -> int:
    try:
        in_registry(args, lambda session: set_registrar(session, args.name, not args.off, None))
    except RegistryError as exc:
        return fail(exc.message)
    print(f"user {args.name!r} {'may no longer' if args.off else 'may'} register studies and upload images")
    return 0


def _disable(args: argparse.Namespace) -> int:
    try:
        in_registry(args, lambda session: disable_user(session, args.name, None))
    except RegistryError as exc:
        return fail(exc.message)
    print(f"disabled user {args.name!r}; their tokens are refused from now on")
    return 0
