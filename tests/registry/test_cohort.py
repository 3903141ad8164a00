"""The study finder of a pull: searches ahead of the patient being fetched, in order, once each."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Sequence

import pytest

from registry.imaging.cohort import StudyFinder
from registry.imaging.pacs import ArchiveRefused, ArchiveStudy, ArchiveUnavailable


class RecordingArchive:
    """An archive whose searches are recorded and answer at once (or wait until ``gate`` is set)."""

    label = "recording archive"
    parallel = 2

    def __init__(self, refuse: Sequence[str] = ()):
        self.searched: list[tuple[str, str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.refuse = set(refuse)
        self._lock = threading.Lock()

    def find_studies(self, patient_id: str, since: dt.date | None, until: dt.date | None) -> list[ArchiveStudy]:
        self.gate.wait(10)
        with self._lock:
            self.searched.append((patient_id, threading.current_thread().name))
        if patient_id in self.refuse:
            raise ArchiveRefused(f"{self.label} refused the study query: 403 Forbidden", 403)
        return [ArchiveStudy(f"1.2.{patient_id[1:]}", since or until)]


PATIENTS = [f"P{n}" for n in range(10)]


def test_searches_run_ahead_in_list_order_once_each() -> None:
    archive = RecordingArchive()
    finder = StudyFinder(archive, PATIENTS, dt.date(2020, 1, 1), None, ahead=3)
    try:
        assert [s.study_instance_uid for s in finder.studies(0)] == ["1.2.0"]
        assert finder.studies(0)[0].study_date == dt.date(2020, 1, 1)  # asked again: searched again, now
        for index in range(1, 10):
            assert finder.studies(index)[0].study_instance_uid == f"1.2.{index}"
    finally:
        finder.close()
    searched = [patient for patient, _ in archive.searched]
    assert searched[:1] + searched[2:] == PATIENTS  # the second search of P0 ran in the caller's thread
    assert sum(thread.startswith("modic-pull-find") for _, thread in archive.searched) == 10


def test_at_most_ahead_searches_wait_before_anything_is_asked() -> None:
    archive = RecordingArchive()
    archive.gate.clear()
    finder = StudyFinder(archive, PATIENTS, None, None, ahead=3)
    archive.gate.set()
    finder.close()  # the searches not started are cancelled; the running one ends
    assert 1 <= len(archive.searched) <= 3
    assert [patient for patient, _ in archive.searched] == PATIENTS[: len(archive.searched)]


def test_only_the_patients_still_to_fetch_are_searched_for() -> None:
    archive = RecordingArchive()
    archive.gate.clear()
    finder = StudyFinder(archive, PATIENTS, None, None, ahead=2)
    finder.only([5, 7, 9])  # a resumed pull: the others are settled
    archive.gate.set()
    try:
        assert [finder.studies(i)[0].study_instance_uid for i in (5, 7, 9)] == ["1.2.5", "1.2.7", "1.2.9"]
        assert finder.studies(3)[0].study_instance_uid == "1.2.3"  # not listed: searched when asked
    finally:
        finder.close()
    searched = [patient for patient, _ in archive.searched]
    assert searched[-4:] == ["P5", "P7", "P9", "P3"]
    assert set(searched[:-4]) <= {"P0", "P1"}  # at most the searches started before only()
    assert archive.searched[-1][1] == threading.current_thread().name


def test_a_refused_search_is_raised_to_whoever_asks_for_that_patient() -> None:
    archive = RecordingArchive(refuse=["P1"])
    finder = StudyFinder(archive, PATIENTS[:3], None, None, ahead=2)
    try:
        assert finder.studies(0)
        with pytest.raises(ArchiveRefused, match="403 Forbidden"):
            finder.studies(1)
        assert finder.studies(2)
    finally:
        finder.close()


def test_without_searches_ahead_each_search_runs_when_asked_in_the_callers_thread() -> None:
    archive = RecordingArchive()
    finder = StudyFinder(archive, PATIENTS[:2], None, None, ahead=0)
    assert archive.searched == []
    finder.studies(1)
    finder.close()
    assert archive.searched == [("P1", threading.current_thread().name)]


def test_a_finder_serves_only_the_pull_it_was_made_for() -> None:
    archive = RecordingArchive()
    finder = StudyFinder(archive, [" P1", "P2 "], dt.date(2020, 1, 1), None, ahead=0)
    assert finder.serves(archive, ["P1", "P2"], dt.date(2020, 1, 1), None)
    assert not finder.serves(archive, ["P1", "P2"], None, None)
    assert not finder.serves(archive, ["P2", "P1"], dt.date(2020, 1, 1), None)
    assert not finder.serves(RecordingArchive(), ["P1", "P2"], dt.date(2020, 1, 1), None)


class UnreachableArchive(RecordingArchive):
    """An archive every search of which fails as unreachable, after a while (a client's retries)."""

    def find_studies(self, patient_id: str, since: dt.date | None, until: dt.date | None) -> list[ArchiveStudy]:
        with self._lock:
            self.searched.append((patient_id, threading.current_thread().name))
        time.sleep(0.2)
        raise ArchiveUnavailable(f"{self.label} cannot be reached: ConnectionError")


def test_once_the_archive_is_unreachable_the_searches_waiting_give_up_at_once() -> None:
    archive = UnreachableArchive()
    finder = StudyFinder(archive, PATIENTS, None, None, ahead=5)
    try:
        for index in range(5):
            with pytest.raises(ArchiveUnavailable, match="cannot be reached"):
                finder.studies(index)
    finally:
        finder.close()
    assert [patient for patient, _ in archive.searched] == ["P0"]  # tried once, not once per patient
