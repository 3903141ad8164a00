"""API tokens and pseudonyms: random secrets, stored only as digests."""

from __future__ import annotations

import hashlib
import secrets

_PSEUDONYM_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


def new_token() -> str:
    """A fresh bearer token (256 bits of randomness)."""
    return "mdc_" + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """The SHA-256 digest stored for a token (tokens are random, so no salt or stretching is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_pseudonym() -> str:
    """A random patient pseudonym such as ``P-7K2M9QX4TB`` (50 bits), unrelated to any identifier."""
    return "P-" + "".join(secrets.choice(_PSEUDONYM_ALPHABET) for _ in range(10))
