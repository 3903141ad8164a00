"""Background work runs once across threads and processes (registry.jobs), on the database under test."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import Engine

from bench.common import ROOT
from registry.db import get_engine, session_scope
from registry.jobs import exclusive, job_runs, run_once
from registry.models import BackgroundJob

HOUR = dt.timedelta(hours=1)


@pytest.fixture
def engine(database_url: str) -> Engine:
    return get_engine(database_url)


def test_a_periodic_job_started_by_eight_threads_at_once_runs_once(engine: Engine) -> None:
    ran: list[str] = []
    barrier = threading.Barrier(8)

    def wake(name: str) -> None:
        barrier.wait()
        with run_once(engine, "nightly", every=HOUR) as mine:
            if mine:
                ran.append(name)
                time.sleep(0.2)  # the others arrive while it runs, or after it

    threads = [threading.Thread(target=wake, args=(f"t{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ran) == 1
    assert job_runs(engine, "nightly") == 1
    with run_once(engine, "nightly", every=HOUR) as mine:  # within the hour: not due
        assert mine is False
    with run_once(engine, "nightly", every=dt.timedelta(0)) as mine:  # a period of 0: due again
        assert mine is True
    assert job_runs(engine, "nightly") == 2


def test_a_lock_is_held_until_its_block_ends(engine: Engine) -> None:
    with exclusive(engine, "pull:1") as first:
        assert first is True
        with exclusive(engine, "pull:1") as second, exclusive(engine, "pull:2") as other:
            assert second is False
            assert other is True
    with exclusive(engine, "pull:1") as again:
        assert again is True


def test_a_failed_run_is_recorded_and_frees_the_lock(engine: Engine) -> None:
    with pytest.raises(RuntimeError, match="archive down"), run_once(engine, "failing", every=dt.timedelta(0)):
        raise RuntimeError("archive down")
    with session_scope(engine) as session:
        job = session.get(BackgroundJob, "failing")
        assert job is not None
        assert (job.runs, job.error) == (1, "RuntimeError")
        assert job.finished_at is not None
    with run_once(engine, "failing", every=dt.timedelta(0)) as mine:
        assert mine is True


_HOLDER = """
import sys, time
from registry.db import get_engine
from registry.jobs import exclusive
with exclusive(get_engine(sys.argv[1]), "shared") as held:
    print("held" if held else "busy", flush=True)
    sys.stdin.readline()
"""


def test_another_process_holding_the_lock_keeps_it_from_this_one(database_url: str, engine: Engine) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, database_url],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "held"
        with exclusive(engine, "shared") as held:
            assert held is False
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(timeout=60) == 0
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    with exclusive(engine, "shared") as held:  # its lock ended with it
        assert held is True
