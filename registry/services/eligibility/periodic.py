"""The background re-evaluation of decisions that time may change (docs/eligibility.md#when-decisions-change).

``modic serve`` keeps time-dependent criteria current ("re-evaluated at least daily") without an
external scheduler: a daemon thread calls :func:`run_once` at start and then every interval.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from sqlalchemy import Engine

from registry.db import session_scope
from registry.jobs import REEVALUATION_JOB
from registry.jobs import run_once as run_job_once
from registry.services.eligibility import today
from registry.services.eligibility.decisions import ReevaluationReport, reevaluate_and_commit

_log = logging.getLogger(__name__)


def run_once(engine: Engine, every: dt.timedelta | None = None) -> ReevaluationReport:
    """One pass: re-evaluate, in a transaction of its own, the decisions due today; once across every
    process sharing the database (:func:`registry.jobs.run_once`: skipped when another process holds the
    job or started it less than ``every`` ago)."""
    with (
        run_job_once(engine, REEVALUATION_JOB, every=every) as mine,
        session_scope(engine, write=True) as session,
    ):
        return reevaluate_and_commit(session, today(), due_only=True) if mine else ReevaluationReport()


class PeriodicReevaluation:
    """Calls :func:`run_once` at start and then every ``interval_s`` seconds, in a daemon thread."""

    def __init__(self, engine: Engine, interval_s: float = 3600.0):
        self._engine = engine
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="eligibility-reevaluation", daemon=True)

    def start(self) -> PeriodicReevaluation:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                report = run_once(self._engine, every=dt.timedelta(seconds=self._interval_s))
                if report.changed:
                    _log.info("eligibility: %d decisions changed by date criteria", report.changed)
            except Exception:
                _log.exception("eligibility: periodic re-evaluation failed; retrying at the next interval")
            self._stop.wait(self._interval_s)
