"""``modic user add NAME --role ROLE`` (create a user and print its token), ``modic user disable NAME``."""

from __future__ import annotations

import argparse
from typing import Any

from api.commands._common import add_database_option, fail, in_registry, settings_from
from registry.errors import RegistryError
from registry.roles import Role


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("user", help="manage users")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="create a user and print its API token on the last line")
    add.add_argument("name", help="the user's name (unique)")
    add.add_argument("--role", required=True, choices=[r.value for r in Role], help="what the user may do")
    add_database_option(add)
    add.set_defaults(func=_add)
    disable = actions.add_parser("disable", help="disable a user: none of their tokens is accepted any more")
    disable.add_argument("name", help="the user's name")
    add_database_option(disable)
    disable.set_defaults(func=_disable)


def _add(args: argparse.Namespace) -> int:
    from registry.services.users import add_user

    days = settings_from(args).token_lifetime_days
    try:
        user, token = in_registry(args, lambda session: add_user(session, args.name, args.role, token_days=days))
    except RegistryError as exc:
        return fail(exc.message)
    print(f"created user {user.name!r} with role {user.role}; API token (shown once):")
    print(token)
    return 0


def _disable(args: argparse.Namespace) -> int:
    from registry.services.users import disable_user

    try:
        in_registry(args, lambda session: disable_user(session, args.name, None))
    except RegistryError as exc:
        return fail(exc.message)
    print(f"disabled user {args.name!r}; their tokens are refused from now on")
    return 0
