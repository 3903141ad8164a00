"""``modic token create NAME [--days N] [--rotate]`` and ``modic token revoke NAME``."""

from __future__ import annotations

import argparse

from api.commands._common import add_user_action, fail, in_registry, settings_from
from registry.services.users import issue_token, revoke_tokens


def register(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = add_user_action(actions, "create", "issue a new token for a user and print it on the last line", _create)
    create.add_argument("--days", type=float, help="lifetime in days (0: no expiry; default MODIC_TOKEN_LIFETIME_DAYS)")
    create.add_argument("--rotate", action="store_true", help="revoke the user's earlier tokens")
    add_user_action(actions, "revoke", "revoke every token of a user", _revoke)


def _create(args: argparse.Namespace) -> int:

    if args.days is not None and args.days < 0:
        return fail(f"--days {args.days:g} must be 0 (no expiry) or more")
    days = settings_from(args).token_lifetime_days if args.days is None else args.days
    token = in_registry(
        args, lambda session: issue_token(session, args.name, None, days=days, revoke_others=args.rotate)
    )
    expiry = token.expires_at.isoformat() if token.expires_at else "never"
    print(f"new API token for {args.name!r} (expires {expiry}; shown once):")
    print(token.value)
    return 0


def _revoke(args: argparse.Namespace) -> int:
    count = in_registry(args, lambda session: revoke_tokens(session, args.name, None))
    print(f"revoked {count} token(s) of {args.name!r}")
    return 0
