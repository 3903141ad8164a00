"""The short-lived cache of checked tokens."""

from __future__ import annotations

import time

from registry.models import User
from registry.services.users import TokenCache


def test_a_checked_token_is_remembered_until_its_time_runs_out() -> None:
    user = User(name="rad", role="radiologist")
    cache = TokenCache(ttl_seconds=0.2)
    assert cache.get("mdc_a") is None
    cache.put("mdc_a", user)
    assert cache.get("mdc_a") is user and cache.get("mdc_b") is None
    time.sleep(0.25)
    assert cache.get("mdc_a") is None  # expired: the next request queries again


def test_ttl_zero_turns_the_cache_off() -> None:
    cache = TokenCache(ttl_seconds=0)
    cache.put("mdc_a", User(name="rad", role="radiologist"))
    assert cache.get("mdc_a") is None


def test_the_cache_stays_bounded() -> None:
    cache = TokenCache(ttl_seconds=60, max_entries=3)
    for i in range(10):
        cache.put(f"mdc_{i}", User(name=f"u{i}", role="screener"))
    assert sum(cache.get(f"mdc_{i}") is not None for i in range(10)) <= 3
    assert cache.get("mdc_9") is not None
