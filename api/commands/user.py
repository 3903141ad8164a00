"""``modic user add NAME --role ROLE`` (create a user and print its token), ``modic user disable NAME``."""

from __future__ import annotations

import argparse
from typing import Any

from api.commands._common import add_user_action, in_registry, settings_from
from registry.models import Role
from registry.services.users import add_user, disable_user


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("user", help="manage users")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = add_user_action(actions, "add", "create a user and print its API token on the last line", _add)
    add.add_argument("--role", required=True, choices=[r.value for r in Role], help="what the user may do")
    add_user_action(actions, "disable", "disable a user: none of their tokens is accepted any more", _disable)


def _add(args: argparse.Namespace) -> int:

    days = settings_from(args).token_lifetime_days
    user, token = in_registry(args, lambda session: add_user(session, args.name, args.role, token_days=days))
    print(f"created user {user.name!r} with role {user.role}; API token (shown once):")
    print(token)
    return 0


def _disable(args: argparse.Namespace) -> int:
    in_registry(args, lambda session: disable_user(session, args.name, None))
    print(f"disabled user {args.name!r}; their tokens are refused from now on")
    return 0
