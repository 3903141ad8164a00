"""Group commit for grading entry: concurrent first gradings share one write transaction.

A database has one writer at a time (SQLite always; PostgreSQL here too, because every grading
takes feed positions from one counter row). When radiologists post gradings together, each one
waiting for its own transaction spends most of its time on round trips, the eligibility queries and
the commit, and queues behind the others anyway. The writer instead takes every grading waiting
when it is free and records them with :func:`registry.services.gradings.create_gradings`: one
transaction, one eligibility pass, one commit. Each grading keeps its own version, audit event and
outcome; a request is answered only once its grading is committed.

One thread per writer does the work. It starts on the first grading and ends after a second
without work, so an idle service holds no thread and no connection.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future

from sqlalchemy import Engine

from registry import metrics
from registry.db import session_scope
from registry.services.gradings import GradingView, NewGrading, create_gradings

MAX_BATCH = 64
"""Gradings recorded in one transaction at most."""
IDLE_SECONDS = 1.0
"""The thread ends after this long without work."""


class GradingWriter:
    """Records first gradings submitted from any thread, in batches, on a thread of its own."""

    def __init__(self, engine: Engine, *, max_batch: int = MAX_BATCH, idle_seconds: float = IDLE_SECONDS):
        self._engine = engine
        self._max_batch = max_batch
        self._idle_seconds = idle_seconds
        self._waiting: deque[tuple[NewGrading, Future[GradingView]]] = deque()
        self._cond = threading.Condition()
        self._running = False
        self._pending = 0
        """Submitted and not yet answered."""

    def submit(self, new: NewGrading) -> Future[GradingView]:
        """Queue a grading; the future gives its view once committed, or the error that refused it."""
        future: Future[GradingView] = Future()
        with self._cond:
            self._waiting.append((new, future))
            self._pending += 1
            metrics.GRADING_QUEUE.inc()
            if self._running:
                self._cond.notify_all()
            else:
                self._running = True
                threading.Thread(target=self._run, name="grading-writer", daemon=True).start()
        return future

    @property
    def active(self) -> bool:
        """Whether the writer's thread is running."""
        with self._cond:
            return self._running

    @property
    def queued(self) -> int:
        """Gradings waiting for the next batch."""
        with self._cond:
            return len(self._waiting)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every grading submitted so far is recorded (at shutdown); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._waiting:
                    self._cond.wait(self._idle_seconds)
                if not self._waiting:
                    # Decided under the lock that submit() takes: a grading submitted from now on
                    # starts a new thread.
                    self._running = False
                    return
                batch = [self._waiting.popleft() for _ in range(min(self._max_batch, len(self._waiting)))]
            metrics.GRADING_QUEUE.dec(len(batch))
            metrics.GRADING_BATCH.observe(len(batch))
            try:
                self._write_batch(batch)
            except Exception as exc:  # never leave a submitter waiting, whatever failed
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            finally:
                with self._cond:
                    self._pending -= len(batch)
                    self._cond.notify_all()

    def _write_batch(self, batch: list[tuple[NewGrading, Future[GradingView]]]) -> None:
        # A request abandoned while it waited (its future cancelled) is not recorded; from here on
        # the others can no longer be cancelled, so each gets its outcome.
        batch = [(new, future) for new, future in batch if future.set_running_or_notify_cancel()]
        if not batch:
            return
        with session_scope(self._engine, write=True) as session:
            outcomes = create_gradings(session, [new for new, _ in batch])
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, GradingView):
                future.set_result(outcome)
            else:
                future.set_exception(outcome)
