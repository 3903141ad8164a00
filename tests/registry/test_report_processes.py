"""Large agreement reports are spread over processes forked for them; small ones stay in the caller."""

from __future__ import annotations

import logging
import os
from concurrent.futures import Executor

import pytest

from registry import report_processes
from registry.report_processes import SMALL_REPORT, computed, cores


def test_a_small_report_stays_in_the_calling_process() -> None:
    assert report_processes.report_processes(0, SMALL_REPORT - 1) == 1
    assert report_processes.report_processes(4, SMALL_REPORT - 1) == 1


def test_a_large_report_uses_the_setting_or_one_process_per_core() -> None:
    assert report_processes.report_processes(0, SMALL_REPORT) == cores() >= 1
    assert report_processes.report_processes(3, SMALL_REPORT) == 3
    assert report_processes.report_processes(1, 10 * SMALL_REPORT) == 1


def _pid() -> int:
    return os.getpid()


def test_the_work_runs_in_other_processes_and_none_is_left_behind() -> None:
    def build(executor: Executor | None) -> set[int]:
        assert executor is not None
        return {f.result() for f in [executor.submit(_pid) for _ in range(20)]}

    pids = computed(build, 2)
    assert pids and os.getpid() not in pids
    for pid in pids:  # the pool is closed with the report: its workers have exited and been reaped
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_one_process_means_no_pool() -> None:
    assert computed(lambda executor: executor, 1) is None


def test_a_worker_that_dies_makes_the_report_computed_in_the_calling_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[Executor | None] = []

    def build(executor: Executor | None) -> str:
        calls.append(executor)
        if executor is not None:
            executor.submit(os._exit, 3).result()  # a worker killed mid-report
        return "computed here"

    with caplog.at_level(logging.WARNING, logger="registry.report_processes"):
        assert computed(build, 2) == "computed here"
    assert calls[0] is not None and calls[1] is None
    assert "a report process failed" in caplog.text
