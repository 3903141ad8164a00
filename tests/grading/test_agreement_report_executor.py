"""A report computed by an executor (threads, or processes forked for it) is the report computed here."""

from __future__ import annotations

import json
import multiprocessing
import threading
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing.connection import Connection

import numpy as np
import pytest

from grading.agreement import AgreementInputError, Level, RatingRecord, VariableSpec, build_report, start_report
from grading.agreement import result as result_module
from grading.agreement.nordic_variables import nordic_records, nordic_specs
from grading.endplates import ENDPLATES
from grading.nordic import TYPE_LABELS, StudyGrading


def _study(cases: int = 12, seed: int = 3) -> list[RatingRecord]:
    """Three raters' Nordic gradings of ``cases`` cases, with some disagreement."""
    rng = np.random.default_rng(seed)
    records: list[RatingRecord] = []
    for case in range(cases):
        truth = np.where(rng.random(11) < 0.3, rng.integers(1, 8, 11), 0)
        for rater in ("ann", "ben", "cat"):
            types = np.where(rng.random(11) < 0.15, rng.integers(0, 8, 11), truth)
            grading = StudyGrading.from_pairs(
                (e.value, TYPE_LABELS[t], "B" if t else None) for e, t in zip(ENDPLATES, types, strict=True)
            )
            records += nordic_records(f"case{case}", rater, grading)
    return records


def _json(report: object) -> str:
    return json.dumps(report.to_mapping(), sort_keys=True)  # type: ignore[attr-defined]


def _fork_pool() -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("fork"))


@pytest.mark.parametrize("make", [lambda: ThreadPoolExecutor(max_workers=3), _fork_pool], ids=["threads", "processes"])
def test_a_report_computed_by_an_executor_is_the_same_report(make: type[Executor]) -> None:
    records = _study()
    alone = build_report(records, nordic_specs(), n_boot=150, seed=7)
    with make() as executor:
        spread = build_report(records, nordic_specs(), n_boot=150, seed=7, executor=executor)
    assert [v.variable for v in spread.variables] == [v.variable for v in alone.variables]
    assert len(spread.variables) > 80  # pooled, per endplate and per trial rule set
    assert _json(spread) == _json(alone)


def test_two_reports_started_on_one_pool_before_either_is_awaited() -> None:
    records = _study(cases=8)
    ann_ben = [r for r in records if r.rater != "cat"]
    with _fork_pool() as executor:
        first = start_report(records, nordic_specs(), n_boot=100, executor=executor)
        second = start_report(ann_ben, nordic_specs(), pairs=[("ann", "ben")], n_boot=100, executor=executor)
        reports = (first.result(), second.result())
    assert _json(reports[0]) == _json(build_report(records, nordic_specs(), n_boot=100))
    expected = build_report(ann_ben, nordic_specs(), pairs=[("ann", "ben")], n_boot=100)
    assert _json(reports[1]) == _json(expected)


def test_a_variable_refused_in_a_worker_names_itself_when_the_report_is_gathered() -> None:
    records = [RatingRecord("u1", "r1", "E", variable="size"), RatingRecord("u1", "r2", "A", variable="size")]
    spec = VariableSpec("size", Level.ORDINAL, ("A", "B", "C"))
    with _fork_pool() as executor:
        pending = start_report(records, [spec], executor=executor)
        with pytest.raises(AgreementInputError, match=r"variable 'size': rating 'E'"):
            pending.result()


def _report_in_child(records: list[RatingRecord], out: Connection) -> None:
    out.send(_json(build_report(records, nordic_specs(per_endplate=False), n_boot=100)))


def test_a_child_forked_while_another_thread_holds_the_bootstrap_cache_lock_still_computes() -> None:
    """The child of a fork has only the forking thread: a lock held by another thread at that moment
    would never be released there. The bootstrap cache's lock is made anew in the child."""
    records = _study(cases=6)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with result_module._RESAMPLED_LOCK:
            held.set()
            release.wait(120)

    holder = threading.Thread(target=hold)
    holder.start()
    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)
    try:
        assert held.wait(10)
        child = context.Process(target=_report_in_child, args=(records, writer))
        child.start()
        answered = reader.poll(90)
        sent = reader.recv() if answered else None
        if not answered:
            child.kill()
        child.join()
    finally:
        release.set()
        holder.join()
    assert answered, "the forked child waited for a lock held by a thread it does not have"
    assert child.exitcode == 0
    assert sent == _json(build_report(records, nordic_specs(per_endplate=False), n_boot=100))
