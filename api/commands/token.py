"""``modic token create NAME [--days N] [--rotate]`` and ``modic token revoke NAME``."""

from __future__ import annotations

import argparse
from typing import Any

from api.commands._common import add_database_option, fail, in_registry, settings_from
from registry.errors import RegistryError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("token", help="issue, rotate and revoke API tokens")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="issue a new token for a user and print it on the last line")
    create.add_argument("name", help="the user's name")
    create.add_argument("--days", type=float, help="lifetime in days (0: no expiry; default MODIC_TOKEN_LIFETIME_DAYS)")
    create.add_argument("--rotate", action="store_true", help="revoke the user's earlier tokens")
    add_database_option(create)
    create.set_defaults(func=_create)
    revoke = actions.add_parser("revoke", help="revoke every token of a user")
    revoke.add_argument("name", help="the user's name")
    add_database_option(revoke)
    revoke.set_defaults(func=_revoke)


def _create(args: argparse.Namespace) -> int:
    from registry.services.users import issue_token

    if args.days is not None and args.days < 0:
        return fail(f"--days {args.days:g} must be 0 (no expiry) or more")
    days = settings_from(args).token_lifetime_days if args.days is None else args.days
    try:
        token = in_registry(
            args, lambda session: issue_token(session, args.name, None, days=days, revoke_others=args.rotate)
        )
    except RegistryError as exc:
        return fail(exc.message)
    expiry = token.expires_at.isoformat() if token.expires_at else "never"
    print(f"new API token for {args.name!r} (expires {expiry}; shown once):")
    print(token.value)
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from registry.services.users import revoke_tokens

    try:
        count = in_registry(args, lambda session: revoke_tokens(session, args.name, None))
    except RegistryError as exc:
        return fail(exc.message)
    print(f"revoked {count} token(s) of {args.name!r}")
    return 0
