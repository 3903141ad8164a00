"""Subcommands of ``modic``: each module here (except ``_``-prefixed helpers) has
``register(subparsers)`` that adds its parser.

A module's parser sets ``func`` (a callable taking the parsed namespace and returning the exit
status) with ``parser.set_defaults(func=...)``.
"""
