"""API tokens and pseudonyms (random secrets, stored only as digests) and the brake on token guessing."""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections import deque

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


class FailureBrake:
    """Slows down a client that keeps sending bad tokens.

    Each client (by address) may fail ``allowed`` times within ``window_seconds``; after that it is
    refused, without any look-up, until its oldest failure in the window is ``window_seconds`` old.
    Memory stays bounded: past ``max_clients`` the record starts over.
    """

    def __init__(self, allowed: int, window_seconds: float, max_clients: int = 10_000):
        self.allowed = allowed
        self.window_seconds = window_seconds
        self.max_clients = max_clients
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, client: str) -> int | None:
        """Whole seconds until ``client`` may try again, or None when it may now."""
        failures = self._failures.get(client)
        if failures is None:
            return None
        horizon = time.monotonic() - self.window_seconds
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return None
        if len(failures) < self.allowed:
            return None
        return max(1, math.ceil(failures[0] - horizon))

    def failed(self, client: str) -> None:
        """Note a bad token from ``client``."""
        if client not in self._failures and len(self._failures) >= self.max_clients:
            self._failures.clear()
        self._failures.setdefault(client, deque()).append(time.monotonic())
