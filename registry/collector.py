"""Pausing Python's cyclic garbage collector around bulk work.

A bulk step (re-evaluating every patient: 100,000 parsed gradings, decisions and their rows) creates
hundreds of thousands of container objects that all live until the step ends. Each allocation past
the collector's threshold starts a collection, and the older generations' collections walk every one
of those live objects again, to find no garbage: the objects are freed by reference counting when the
step returns. Pausing the collector for the step spares that work: re-evaluating 20,000 gradings
generated as ``bench/bench_eligibility.py`` generates them took 2.1 s of CPU with the collector on and
1.55 s with it off (2026-11-30, a 2-core machine; the benchmark's 100,000 gradings then took 8.6-9.6 s
against 11.6-12.1 s before).

The pause is process-wide (the collector has one switch), so it is taken only for bulk steps, never
per request; pauses taken by several threads at once nest, and the collector is switched back on
when the last ends, only if it was on when the first began.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_pauses = 0
_was_enabled = False


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with automatic garbage collection off (reference counting still frees objects)."""
    global _pauses, _was_enabled
    with _lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _was_enabled:
                gc.enable()
