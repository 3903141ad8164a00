"""The processes a large agreement report is computed in.

An agreement report is CPU work in Python and numpy, and one process runs on one core. Its variables
are computed each on its own (:func:`grading.agreement.build_report` takes an executor), so a report
large enough to be worth it is spread over the machine's cores: a pool of processes made for the
report and closed after it.

The workers are forked from the calling process: a worker starts in about a millisecond with
everything imported, and the parent's modules are not imported again (the ``spawn`` and
``forkserver`` methods import the parent's ``__main__`` script in every worker). A child of a
multi-threaded server gets only the forking thread, so it must not need a lock another thread held:
it runs only the report's own code, numpy and pickle, and the one lock of that code, the bootstrap
cache's, is made anew in the child (``grading/agreement/result.py``); it never touches the parent's
database connections or files, and leaves with ``os._exit`` (no clean-up of the parent's objects).

A small report stays in the calling process, where it finishes before a pool would have started.
``MODIC_REPORT_PROCESSES`` sets the number of processes (0, the default: one per core the process may
run on; 1: always the calling process). Where ``fork`` is not available the report is computed in the
calling process. If a worker dies (killed, out of memory), the report is computed again in the calling
process rather than failed.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Mapping
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor
from typing import TypeVar

from grading.agreement import RatingColumns

logger = logging.getLogger(__name__)

SMALL_REPORT = 30_000_000
"""Ratings × bootstrap resamples below which a report is computed in the calling process: about 0.3 s
on one core of a slow machine (a 100-patient, 4-rater, 2-read study with 2,000 resamples is 716
million)."""

T = TypeVar("T")


def cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def ratings_in(*reports: Mapping[str, RatingColumns]) -> int:
    """The ratings of reports' variables (their columns), the measure of :func:`report_processes`'s work."""
    return sum(len(columns.values) for variables in reports for columns in variables.values())


def report_processes(setting: int, work: int) -> int:
    """How many processes compute a report of ``work`` ratings × resamples: ``setting`` (0: one per
    core), or 1, the calling process, for a small report."""
    if work < SMALL_REPORT:
        return 1
    return setting or cores()


def computed(build: Callable[[Executor | None], T], processes: int) -> T:
    """``build(executor)`` with a pool of ``processes`` processes, or ``build(None)`` for one process.

    A pool that breaks (a worker killed) is reported in the log and the report built again here."""
    if processes < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return build(None)
    context = multiprocessing.get_context("fork")
    try:
        with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
            return build(pool)
    except BrokenExecutor as exc:
        logger.warning("a report process failed (%s); the report is computed in this process", exc)
        return build(None)
