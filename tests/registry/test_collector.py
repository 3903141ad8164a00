"""The garbage-collector pause of bulk steps (registry/collector.py)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from registry.collector import collector_paused
from registry.services.eligibility import decisions


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def test_the_pause_turns_the_collector_off_and_back_on() -> None:
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_pauses_in_two_threads_end_with_the_collector_on_only_after_the_last() -> None:
    gc.enable()
    first_in, second_done = threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with collector_paused():
            first_in.set()
            second_done.wait(10)
            seen.append(gc.isenabled())  # the other thread's pause ended first: still off

    thread = threading.Thread(target=first)
    thread.start()
    assert first_in.wait(10)
    with collector_paused():
        assert not gc.isenabled()
    second_done.set()
    thread.join(10)
    assert seen == [False]
    assert gc.isenabled()


def test_the_pause_ends_when_the_block_raises() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_only_bulk_reevaluations_pause_the_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    """A grading's own re-evaluation (one patient) leaves the collector alone; all patients pause it."""
    gc.enable()
    states: list[bool] = []

    def observe(*_args: object) -> decisions.ReevaluationReport:
        states.append(gc.isenabled())
        return decisions.ReevaluationReport()

    monkeypatch.setattr(decisions, "_reevaluate", observe)
    decisions.reevaluate(None, ["p-1"], None, [])  # type: ignore[arg-type]
    decisions.reevaluate(None, None, None, [])  # type: ignore[arg-type]
    decisions.reevaluate(None, [f"p-{n}" for n in range(decisions.BULK_PATIENTS)], None, [])  # type: ignore[arg-type]
    assert states == [True, False, False]
    assert gc.isenabled()
