"""A pull's cohort, before any database is touched: the request (:class:`PullRequest`, the patient list of a
CSV file) and the search for each patient's studies, asked of the archive ahead of the patient being
fetched (:class:`StudyFinder`).

Nothing here imports the database layer, so ``modic pull`` can start its searches first and load the
registry's models meanwhile (``docs/pacs.md#speed``).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from registry.errors import InvalidInput
from registry.imaging.pacs import Archive, ArchiveStudy, ArchiveUnavailable

MAX_PATIENTS = 100_000
"""The most patients one pull may list."""
PATIENT_ID_COLUMNS = ("patient_id", "patientid", "patient id", "mrn", "hospital_id")
"""Header names (any case) of the column holding the patient ids in a patients CSV file."""
SEARCHES_AHEAD = 32
"""How many patients' studies a pull searches for ahead of the patient being fetched (DICOMweb only)."""


@dataclass(frozen=True)
class PullRequest:
    """What to pull: from which archive (its label), which patients (in row order), which study dates."""

    archive: str
    patient_ids: tuple[str, ...]
    since: dt.date | None = None
    until: dt.date | None = None

    def __post_init__(self) -> None:
        if not self.patient_ids:
            raise InvalidInput("patients: at least one patient id is required")
        if len(self.patient_ids) > MAX_PATIENTS:
            raise InvalidInput(f"patients: {len(self.patient_ids)} given; at most {MAX_PATIENTS} per pull")
        for row, patient_id in enumerate(self.patient_ids, start=1):
            if not 0 < len(patient_id.strip()) <= 64:
                raise InvalidInput(f"patients row {row}: a patient id must be 1-64 characters")
        if self.since is not None and self.until is not None and self.since > self.until:
            raise InvalidInput(f"since {self.since.isoformat()} is after until {self.until.isoformat()}")

    @property
    def key(self) -> str:
        """The identity of the request, so that running it again resumes it (a hash: no ids stored)."""
        parts = [self.archive, str(self.since), str(self.until), *(p.strip() for p in self.patient_ids)]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def parse_patient_list(text: str) -> list[str]:
    """The patient ids of a CSV file: the column named ``patient_id`` (or ``PatientID``, ``MRN``, any case)
    when the first line names one, else the first column of every line; blank lines are skipped."""
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows:
        return []
    header = [cell.strip().lower() for cell in rows[0]]
    column = next((header.index(name) for name in PATIENT_ID_COLUMNS if name in header), None)
    if column is None:
        return [row[0].strip() for row in rows]
    return [row[column].strip() if column < len(row) else "" for row in rows[1:]]


class StudyFinder:
    """The studies of a request's patients (:meth:`Archive.find_studies` with the request's dates), each
    searched for by a thread of the finder's own up to ``ahead`` patients before it is asked for, in the
    order of :meth:`only` (the list's order until then). With ``ahead`` 0 every search runs when asked for,
    in the caller's thread (a DIMSE archive: one association at a time).

    A search runs once. Its answer, or the :class:`~registry.imaging.pacs.ArchiveRefused` or
    :class:`~registry.imaging.pacs.ArchiveUnavailable` it raised, is given to the caller of :meth:`studies`
    as if the search ran then. Once a search finds the archive unavailable, the searches after it give the
    same error at once instead of trying (the pull stops there anyway), so that stopping does not
    wait for each of them to time out. Searches made before :meth:`only` for patients it leaves out are
    wasted: at most ``ahead`` of them.
    """

    def __init__(
        self,
        archive: Archive,
        patient_ids: Sequence[str],
        since: dt.date | None,
        until: dt.date | None,
        *,
        ahead: int,
    ):
        self.archive = archive
        self.since, self.until = since, until
        self._patients = [patient_id.strip() for patient_id in patient_ids]
        self._ahead = max(0, ahead)
        self._order = list(range(len(self._patients)))
        self._position = 0  # the next entry of _order to search for
        self._searches: dict[int, Future[list[ArchiveStudy]]] = {}
        self._asked: set[int] = set()
        self._unavailable: ArchiveUnavailable | None = None
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="modic-pull-find") if self._ahead else None
        with self._lock:
            self._search_ahead()

    @classmethod
    def of(
        cls, archive: Archive, patient_ids: Sequence[str], since: dt.date | None, until: dt.date | None
    ) -> StudyFinder:
        """The finder of a pull from ``archive``: :data:`SEARCHES_AHEAD` when it retrieves several series at
        once (DICOMweb), none ahead otherwise (DIMSE: one association at a time)."""
        return cls(archive, patient_ids, since, until, ahead=SEARCHES_AHEAD if archive.parallel > 1 else 0)

    def serves(
        self, archive: Archive, patient_ids: Sequence[str], since: dt.date | None, until: dt.date | None
    ) -> bool:
        """Whether this finder searches for exactly these patients of this archive in these dates."""
        return (
            archive is self.archive
            and (since, until) == (self.since, self.until)
            and [patient_id.strip() for patient_id in patient_ids] == self._patients
        )

    def only(self, indexes: Sequence[int]) -> None:
        """Search only for these patients (indexes in the list), in this order: those a resumed pull still
        has to fetch. Searches of the others not yet started are cancelled."""
        with self._lock:
            kept = set(indexes)
            for index in [i for i in self._searches if i not in kept]:
                self._searches.pop(index).cancel()
            self._order, self._position = list(indexes), 0
            self._search_ahead()

    def studies(self, index: int) -> list[ArchiveStudy]:
        """The studies of the patient at ``index`` in the list; waits for its search when it is running."""
        with self._lock:
            self._asked.add(index)
            search = self._searches.pop(index, None)
            self._search_ahead()
        return self._search(index) if search is None else search.result()

    def close(self) -> None:
        """Cancel the searches not started and wait for the one running."""
        with self._lock:
            for search in self._searches.values():
                search.cancel()
            self._searches.clear()
            self._order = []
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _search_ahead(self) -> None:
        """Keep ``ahead`` searches submitted (the lock is held)."""
        if self._pool is None:
            return
        while len(self._searches) < self._ahead and self._position < len(self._order):
            index = self._order[self._position]
            self._position += 1
            if index not in self._searches and index not in self._asked:
                self._searches[index] = self._pool.submit(self._search, index)

    def _search(self, index: int) -> list[ArchiveStudy]:
        """One search, ahead in the finder's thread or when asked for in the caller's."""
        if self._unavailable is not None:
            raise self._unavailable
        try:
            return self.archive.find_studies(self._patients[index], self.since, self.until)
        except ArchiveUnavailable as exc:
            self._unavailable = exc
            raise
