"""``modic key new``: print a new patient key for ``MODIC_PATIENT_KEY``."""

from __future__ import annotations

import argparse

from registry.crypto import new_key


def register(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    new = actions.add_parser("new", help="print a new random key (set it as MODIC_PATIENT_KEY; keep it safe)")
    new.set_defaults(func=_new)


def _new(_args: argparse.Namespace) -> int:
    print(new_key())
    return 0
