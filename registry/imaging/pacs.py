"""Query/retrieve from a PACS: find a patient's studies, describe their MR images without pixels, and fetch
chosen series into the file store.

Two adapters with the same shape (:class:`Archive`):

- :class:`DicomwebArchive`: QIDO-RS through ``dicomweb-client``: one series-level query per patient
  (its studies in the date range and their series at once, with what screening a series reads,
  :data:`SERIES_KEYWORDS`; study by study when the archive does not search series across studies), and
  instances, with :data:`~registry.imaging.dicom.METADATA_KEYWORDS`, where a series needs them;
  WADO-RS to retrieve a series (or the instances of it still missing) on the same ``requests`` session
  (kept alive), its multipart answer split as it streams in (:func:`split_multipart`) and written to
  the store part by part. TLS when the
  URL is ``https`` (certificates checked against the system store or a given CA file); HTTP basic
  credentials when configured.
- :class:`DimseArchive`: C-FIND at study, series and image level, then C-MOVE of a series to this
  process's own Storage SCP (:class:`~registry.imaging.scp.StorageReceiver`), which writes each
  instance to the store as received. The archive must know the calling AE title at the SCP's address.

A query or retrieval the archive refuses raises :class:`ArchiveRefused` with the archive's reason; an
archive that cannot be reached at all raises :class:`ArchiveUnavailable`. Messages never hold patient ids.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from pydicom.dataset import Dataset

from grading.series import InstanceHeader
from registry.errors import RegistryError
from registry.imaging.dicom import METADATA_KEYWORDS, ValueReader, headers_from_metadata, json_value, read_dicom
from registry.imaging.errors import ImagingError
from registry.imaging.fastheader import fast_value
from registry.imaging.sources import AcceptedInstance, Rejection
from registry.imaging.store import ImageStore
from registry.settings import Settings

MR_MODALITY = "MR"


class ArchiveRefused(RegistryError):
    """The archive answered a query or retrieval with an error; the message quotes its reason (and
    ``status`` is the HTTP status when the archive answered one)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class ArchiveUnavailable(RegistryError):
    """The archive cannot be reached (connection refused, name unknown, TLS failure)."""


@dataclass(frozen=True)
class ArchiveStudy:
    """A study the archive holds for a patient; ``series``: its MR series when the archive described them
    in the same answer (:meth:`Archive.find_series` is not asked again), else ``None``."""

    study_instance_uid: str
    study_date: dt.date | None
    series: tuple[QueryAnswer, ...] | None = None


def date_range(since: dt.date | None, until: dt.date | None) -> str | None:
    """The DICOM date range matching key (``YYYYMMDD-YYYYMMDD``, either end open), or ``None``."""
    if since is None and until is None:
        return None
    return f"{'' if since is None else since.strftime('%Y%m%d')}-{'' if until is None else until.strftime('%Y%m%d')}"


def _study_date(value: Any) -> dt.date | None:
    text = str(value or "").strip()
    try:
        return dt.datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        return None


@dataclass(frozen=True)
class Retrieved:
    """What a retrieval delivered: every SOP Instance UID, and how many were not in the store before."""

    sop_instance_uids: list[str]
    new: int
    read: list[AcceptedInstance | Rejection] | None = None
    """The delivered images with their headers already read (``None``: read them from the store)."""


class QueryAnswer:
    """One answer of a query (a QIDO-RS answer in the DICOM JSON model, or a C-FIND identifier), read as
    ingest reads a header; the keys a query was made on can be filled in where the archive left them out."""

    __slots__ = ("_filled", "_get", "_values")

    def __init__(self, values: Any, get: ValueReader):
        self._values = values
        self._get = get
        self._filled: dict[str, str] = {}

    @classmethod
    def of_json(cls, item: dict[str, Any]) -> QueryAnswer:
        """A QIDO-RS answer (its values are read straight from the JSON, no dataset is built)."""
        return cls(item, json_value)

    @classmethod
    def of_dataset(cls, ds: Dataset) -> QueryAnswer:
        """A C-FIND identifier."""
        return cls(ds, fast_value)

    def value(self, keyword: str) -> Any:
        """The value of an attribute, ``None`` when it is missing."""
        filled = self._filled.get(keyword)
        return filled if filled is not None else self._get(self._values, keyword)

    def text(self, keyword: str) -> str:
        """The value as stripped text (``""`` when missing)."""
        return str(self.value(keyword) or "").strip()

    def fill(self, keyword: str, value: str) -> None:
        """Give the attribute ``value`` when the answer has none."""
        if not self.text(keyword):
            self._filled[keyword] = value

    def headers(self, source: str) -> tuple[InstanceHeader, ...]:
        """The classification headers of the image the answer describes (``source`` names it in errors)."""
        return headers_from_metadata(self, source, QueryAnswer.value)


SERIES_KEYWORDS = (
    *("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "Modality", "SeriesNumber", "SeriesDescription"),
    *("ImageType", "ScanningSequence", "EchoPulseSequence", "InversionRecovery", "EchoPlanarPulseSequence"),
    *("SequenceName", "PulseSequenceName", "AcquisitionContrast", "RepetitionTime", "EchoTime", "InversionTime"),
    *("ImageOrientationPatient", "NumberOfSeriesRelatedInstances"),
)  # fmt: skip
"""Asked for at series level, where archives answer image attributes from one image of the series: what
screening a series reads (``registry.services.pulls.screen_series``: the weighting rules, the plane, the
number of images) and the representative image's UID, which tells a resumed pull whether the series is
stored already. Every attribute asked for costs the archive work for each series of the answer: the series
queries of 50 patients took Orthanc 0.65 s asking for these, 0.83 s asking for all
:data:`METADATA_KEYWORDS` and 0.48 s asking for none (medians of 4, docs/pacs.md#speed). The images of a
series screening cannot decide are asked for with all of them."""
PAGE_SIZE = 1000
"""Query answers are asked for in pages of this many (``limit``/``offset``)."""


class Archive(Protocol):
    """What a pull needs from an archive."""

    label: str
    """How messages name the archive (address and AE titles, never credentials)."""
    parallel: int
    """How many series may be retrieved at once."""

    def find_studies(self, patient_id: str, since: dt.date | None, until: dt.date | None) -> list[ArchiveStudy]:
        """The patient's studies in the date range (with their MR series when the same query gave them)."""

    def find_series(self, study_instance_uid: str) -> list[QueryAnswer]:
        """The study's MR series, each described by :data:`SERIES_KEYWORDS` (the classification attributes
        of one representative image, and the number of images)."""

    def find_instances(self, study_instance_uid: str, series_instance_uid: str) -> list[QueryAnswer]:
        """The images of one series, each described by :data:`METADATA_KEYWORDS` (no pixel data)."""

    def retrieve(
        self, study_instance_uid: str, series_instance_uid: str, sop_instance_uids: Sequence[str] | None
    ) -> Retrieved:
        """Fetch the series (or only the named images of it) into the store."""

    def close(self) -> None:
        """Release connections and listeners."""


# --------------------------------------------------------------------------------------------- DICOMweb


MAX_PARALLEL = 16
"""The most series a DICOMweb pull retrieves at once."""


@dataclass(frozen=True)
class DicomwebOptions:
    """How to reach a DICOMweb service."""

    url: str
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    timeout_s: float = 120.0
    parallel: int = 2
    """How many series are retrieved at once (``MODIC_PACS_DICOMWEB_PARALLEL``)."""

    def __post_init__(self) -> None:
        if not 1 <= self.parallel <= MAX_PARALLEL:
            raise ValueError(f"DICOMweb parallel retrievals {self.parallel!r}: allowed 1-{MAX_PARALLEL}")


def dicomweb_client(options: DicomwebOptions) -> tuple[Any, Any]:
    """A ``dicomweb-client`` client of ``options`` and its own HTTP session: its TLS settings and
    credentials, and no proxy from the environment (the archive is on the hospital network)."""
    import requests
    from dicomweb_client import DICOMwebClient

    session = requests.Session()
    session.trust_env = False
    session.verify = str(options.ca_file) if options.ca_file else True
    if options.username:
        session.auth = (options.username, options.password or "")
    return DICOMwebClient(url=options.url.rstrip("/"), session=session, timeout=options.timeout_s), session


def http_refusal(exc: Any) -> str:
    """An HTTP error's status and the start of its answer, for a one-line message."""
    response = exc.response
    status = "" if response is None else f"HTTP {response.status_code} {response.reason}"
    body = "" if response is None else " ".join(response.text.split())[:300]
    return f"{status}{': ' + body if body else ''}"


class DicomwebArchive:
    """A DICOMweb service (QIDO-RS, WADO-RS) through ``dicomweb-client``."""

    def __init__(self, options: DicomwebOptions, store: ImageStore):
        import requests

        if not options.url.startswith(("http://", "https://")):
            raise ArchiveUnavailable(f"DICOMweb URL {options.url!r} must start with http:// or https://")
        self.label = f"DICOMweb {options.url}"
        self.store = store
        self.parallel = options.parallel
        self._requests = requests
        self._options = options
        self._local = threading.local()
        self._series_of_patient = True
        """Whether the archive answers a patient's series in one query (until it refuses to)."""

    def _client(self) -> Any:
        """A client (and HTTP session) per thread: retrievals run in parallel."""
        client = getattr(self._local, "client", None)
        if client is None:
            client, self._local.session = dicomweb_client(self._options)
            self._local.client = client
        return client

    @contextlib.contextmanager
    def _answer(self, what: str) -> Iterator[None]:
        """Turn HTTP failures into :class:`ArchiveRefused` (an error status) or :class:`ArchiveUnavailable`."""
        requests = self._requests
        try:
            yield
        except requests.HTTPError as exc:
            status = None if exc.response is None else exc.response.status_code
            raise ArchiveRefused(f"{self.label} refused {what}: {http_refusal(exc)}", status) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ArchiveUnavailable(f"{self.label} cannot be reached: {type(exc).__name__}") from None

    def study_query_status(self, timeout_s: float) -> int:
        """The HTTP status of a QIDO-RS query for one study answered within ``timeout_s`` (a cheap sign of
        life); :class:`ArchiveUnavailable` when no answer comes."""
        self._client()  # this thread's HTTP session, with its TLS settings and credentials
        with self._answer("a study query"):
            response = self._local.session.get(
                f"{self._options.url.rstrip('/')}/studies",
                params={"limit": 1},
                headers={"Accept": "application/dicom+json"},
                timeout=timeout_s,
            )
            response.close()
        return int(response.status_code)

    def _search(self, what: str, method: str, **arguments: Any) -> list[QueryAnswer]:
        """Every answer of a QIDO-RS query, page by page (a page shorter than :data:`PAGE_SIZE` is the last)."""
        search = getattr(self._client(), method)
        answers: list[QueryAnswer] = []
        while True:
            with self._answer(what):
                page = search(limit=PAGE_SIZE, offset=len(answers), get_remaining=False, **arguments)
            answers.extend(QueryAnswer.of_json(item) for item in page if isinstance(item, dict))
            if len(page) < PAGE_SIZE:
                return answers

    def find_studies(self, patient_id: str, since: dt.date | None, until: dt.date | None) -> list[ArchiveStudy]:
        """The patient's studies with their MR series, from one series-level query of the whole archive
        (QIDO-RS ``/series`` with the patient and the study dates as matching keys); an archive that does
        not offer that search is asked study by study from then on (:meth:`find_series`)."""
        filters = {"PatientID": patient_id}
        dates = date_range(since, until)
        if dates is not None:
            filters["StudyDate"] = dates
        if self._series_of_patient:
            try:
                found = self._search(
                    "the series query", "search_for_series", search_filters=filters, fields=_PATIENT_SERIES_KEYWORDS
                )
            except ArchiveRefused as exc:
                if exc.status not in _NO_SUCH_SEARCH:
                    raise
                self._series_of_patient = False
            else:
                studies = studies_of_series(found, since, until)
                if studies is not None:
                    return studies
                self._series_of_patient = False  # study dates left out: they cannot be checked here
        found = self._search("the study query", "search_for_studies", search_filters=filters, fields=["StudyDate"])
        return _studies(found)

    def find_series(self, study_instance_uid: str) -> list[QueryAnswer]:
        found = self._search(
            "the series query",
            "search_for_series",
            study_instance_uid=study_instance_uid,
            fields=list(SERIES_KEYWORDS),
        )
        return _mr_series(found, study_instance_uid)

    def find_instances(self, study_instance_uid: str, series_instance_uid: str) -> list[QueryAnswer]:
        found = self._search(
            "the instance query",
            "search_for_instances",
            study_instance_uid=study_instance_uid,
            series_instance_uid=series_instance_uid,
            fields=list(METADATA_KEYWORDS),
        )
        return _in_series(found, study_instance_uid, series_instance_uid)

    def retrieve(
        self, study_instance_uid: str, series_instance_uid: str, sop_instance_uids: Sequence[str] | None
    ) -> Retrieved:
        """WADO-RS of the series (or of each named image), as stored. Each part of the multipart answer is
        written to the store as it arrives, byte for byte, and its header is read there and then (the
        fast reader of ingest): nothing is decoded into a dataset, re-encoded or read back from disk."""
        base = f"{self._options.url}/studies/{study_instance_uid}/series/{series_instance_uid}"
        urls = [base] if sop_instance_uids is None else [f"{base}/instances/{uid}" for uid in sop_instance_uids]
        delivered: list[str] = []
        read: list[AcceptedInstance | Rejection] = []
        new = 0
        with self._answer("the retrieval"):
            for url in urls:
                for data in self._parts(url):
                    source = f"{self.label} series {series_instance_uid} image {len(read) + 1}"
                    try:
                        instance = read_dicom(data, source)
                    except ImagingError as exc:
                        read.append(Rejection(exc.source, exc.reason))
                        continue
                    uid = instance.sop_instance_uid
                    delivered.append(uid)
                    if not self.store.contains(uid):
                        self.store.put(uid, data)
                        new += 1
                    read.append(AcceptedInstance(instance, self.store.content(uid), stored=True))
        return Retrieved(delivered, new, read)

    def instance_bytes(self, study_instance_uid: str, series_instance_uid: str, sop_instance_uid: str) -> bytes:
        """WADO-RS of one image, as stored (no transcoding), as the bytes of its Part 10 file."""
        url = (
            f"{self._options.url}/studies/{study_instance_uid}/series/{series_instance_uid}"
            f"/instances/{sop_instance_uid}"
        )
        with self._answer("the WADO-RS request"):
            parts = list(self._parts(url))
        if len(parts) != 1:
            raise ArchiveRefused(f"{self.label} answered {len(parts)} parts for the image {sop_instance_uid}")
        return parts[0]

    def _parts(self, url: str) -> Iterator[bytes]:
        """The parts of a WADO-RS answer (``multipart/related``), each as soon as it has arrived whole."""
        self._client()
        response = self._local.session.get(
            url, headers={"Accept": _ACCEPT_AS_STORED}, stream=True, timeout=self._options.timeout_s
        )
        with response:
            response.raise_for_status()
            media_type, boundary = multipart_boundary(response.headers.get("Content-Type", ""))
            if media_type != "multipart/related" or not boundary:
                raise ArchiveRefused(f"{self.label} answered a retrieval with {media_type!r}, not multipart/related")
            try:
                yield from split_multipart(response.iter_content(_CHUNK_BYTES), boundary)
            except ValueError as exc:
                raise ArchiveRefused(f"{self.label} answered a retrieval that {exc}") from None

    def close(self) -> None:
        return None


_ACCEPT_AS_STORED = 'multipart/related; type="application/dicom"; transfer-syntax=*'
"""Ask for every instance in the transfer syntax the archive keeps it in (no transcoding)."""
_CHUNK_BYTES = 1 << 18


def multipart_boundary(content_type: str) -> tuple[str, bytes | None]:
    """The media type (lower case) of a ``Content-Type`` header and its ``boundary`` parameter, if any."""
    media_type, _, parameters = content_type.partition(";")
    boundary = None
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "boundary":
            boundary = value.strip().strip('"').encode("latin-1") or None
    return media_type.strip().lower(), boundary


def split_multipart(chunks: Iterable[bytes], boundary: bytes) -> Iterator[bytes]:
    """The bodies of the parts of a multipart body (RFC 2046 §5.1) arriving in ``chunks``, each as soon as
    the delimiter after it has arrived; the preamble, the part headers and the epilogue are skipped.
    :class:`ValueError` when the body ends inside a part or before its closing delimiter."""
    delimiter = b"\r\n--" + boundary
    buffer = bytearray(b"\r\n")  # the first delimiter is not preceded by a line break
    start = 0  # where the unconsumed data begins: consumed data is dropped only now and then
    in_body = closed = False
    scanned = 0  # how far the current body has been searched for the delimiter
    for chunk in chunks:
        if closed:
            continue  # the epilogue: read to the end, so that the connection can serve the next request
        if start > len(buffer) // 2:
            del buffer[:start]  # one move of what is left, not one per part
            scanned -= start
            start = 0
        buffer += chunk
        while not closed:
            if in_body:
                end = buffer.find(delimiter, max(start, scanned))
                if end < 0:
                    scanned = max(start, len(buffer) - len(delimiter) + 1)
                    break
                with memoryview(buffer) as view:
                    part = bytes(view[start:end])
                start = end
                in_body = False
                yield part
            found = buffer.find(delimiter, start)
            after = found + len(delimiter)
            if found < 0 or len(buffer) < after + 2:
                break
            if buffer[after : after + 2] == b"--":
                closed = True
                break
            headers_end = buffer.find(b"\r\n\r\n", after)
            if headers_end < 0:
                break
            start = scanned = headers_end + 4
            in_body = True
    if not closed:
        raise ValueError("ended inside a part" if in_body else "ended before its closing delimiter")


def _studies(answers: list[QueryAnswer]) -> list[ArchiveStudy]:
    """The studies of study-level answers (those with a Study Instance UID)."""
    return [
        ArchiveStudy(answer.text("StudyInstanceUID"), _study_date(answer.value("StudyDate")))
        for answer in answers
        if answer.text("StudyInstanceUID")
    ]


_PATIENT_SERIES_KEYWORDS = [*SERIES_KEYWORDS, "StudyDate"]
_NO_SUCH_SEARCH = frozenset({400, 404, 405, 501})
"""HTTP statuses of an archive that does not search series across studies (then studies are searched first)."""


def studies_of_series(
    answers: list[QueryAnswer], since: dt.date | None, until: dt.date | None
) -> list[ArchiveStudy] | None:
    """The studies of series-level answers, each with its MR series, in the order first answered; those
    dated outside ``since``-``until`` are left out even if the archive matched them. ``None`` when a date
    range is asked and an answer has no study date (the range cannot be checked)."""
    by_study: dict[str, list[QueryAnswer]] = {}
    for answer in answers:
        study_uid = answer.text("StudyInstanceUID")
        if study_uid:
            by_study.setdefault(study_uid, []).append(answer)
    studies = []
    for study_uid, series in by_study.items():
        day = _study_date(series[0].value("StudyDate"))
        if day is None:
            if since is not None or until is not None:
                return None
        elif (since is not None and day < since) or (until is not None and day > until):
            continue
        studies.append(ArchiveStudy(study_uid, day, tuple(_mr_series(series, study_uid))))
    return studies


def _in_series(answers: list[QueryAnswer], study_instance_uid: str, series_instance_uid: str) -> list[QueryAnswer]:
    """Answers with their study and series UIDs filled in (some archives leave out the keys queried on)."""
    for answer in answers:
        answer.fill("StudyInstanceUID", study_instance_uid)
        answer.fill("SeriesInstanceUID", series_instance_uid)
    return answers


def _mr_series(answers: list[QueryAnswer], study_instance_uid: str) -> list[QueryAnswer]:
    """The MR series among series answers, with their study UID filled in."""
    mr = [a for a in answers if a.text("Modality").upper() == MR_MODALITY and a.text("SeriesInstanceUID")]
    for answer in mr:
        answer.fill("StudyInstanceUID", study_instance_uid)
    return mr


# ------------------------------------------------------------------------------------------------ DIMSE


@dataclass(frozen=True)
class DimseOptions:
    """How to reach a DICOM archive and where it sends what we move."""

    host: str
    port: int
    called_ae: str
    calling_ae: str = "MODIC"
    store_host: str = "127.0.0.1"
    store_port: int = 11113
    timeout_s: float = 120.0


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` → (host, port); :class:`ValueError` naming the text otherwise."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not HOST:PORT (a port 1-65535)")
    return host.strip("[]"), int(port)


def check_ae_title(value: str, field: str) -> str:
    """An AE title: 1-16 printable characters without backslash; :class:`ValueError` naming ``field``."""
    if not 0 < len(value.strip()) <= 16 or "\\" in value or not value.isprintable():
        raise ValueError(f"{field} {value!r} must be 1-16 printable characters without a backslash")
    return value.strip()


class DimseArchive:
    """A DICOM archive through pynetdicom: C-FIND, then C-MOVE to our Storage SCP."""

    parallel = 1

    def __init__(self, options: DimseOptions, store: ImageStore):
        from pynetdicom import AE
        from pynetdicom.sop_class import (  # type: ignore[attr-defined]
            StudyRootQueryRetrieveInformationModelFind,
            StudyRootQueryRetrieveInformationModelMove,
        )

        from registry.imaging.scp import StorageReceiver

        self.label = f"DIMSE {options.called_ae}@{options.host}:{options.port}"
        self.store = store
        self._options = options
        self._find_model = StudyRootQueryRetrieveInformationModelFind
        self._move_model = StudyRootQueryRetrieveInformationModelMove
        self._ae = AE(ae_title=options.calling_ae)
        self._ae.add_requested_context(self._find_model)
        self._ae.add_requested_context(self._move_model)
        self._ae.acse_timeout = self._ae.dimse_timeout = self._ae.network_timeout = options.timeout_s
        self._assoc: Any = None
        self._received: list[str] = []
        self._receiver = StorageReceiver(
            None,
            store,
            ae_title=options.calling_ae,
            host=options.store_host,
            port=options.store_port,
            on_stored=self._received.append,
        )
        try:
            self._receiver.start()
        except OSError as exc:
            raise ArchiveUnavailable(
                f"cannot listen for C-MOVE deliveries on {options.store_host}:{options.store_port}: "
                f"{exc.strerror or exc}"
            ) from None

    def _association(self) -> Any:
        if self._assoc is not None and self._assoc.is_established:
            return self._assoc
        options = self._options
        assoc = self._ae.associate(options.host, options.port, ae_title=options.called_ae)
        if assoc.is_rejected:
            raise ArchiveRefused(f"{self.label} rejected the association (calling AE {options.calling_ae})")
        if not assoc.is_established:
            raise ArchiveUnavailable(f"{self.label} cannot be reached")
        self._assoc = assoc
        return assoc

    def _find(self, query: Dataset, what: str) -> list[QueryAnswer]:
        from pynetdicom.status import code_to_category

        answers: list[QueryAnswer] = []
        for status, identifier in self._association().send_c_find(query, self._find_model):
            if not status:
                self._assoc = None
                raise ArchiveUnavailable(
                    f"{self.label} dropped the association during the {what} "
                    f"(does it accept queries from AE title {self._options.calling_ae}?)"
                )
            code = int(status.Status)
            category = code_to_category(code)
            if category == "Pending":
                if identifier is not None:
                    answers.append(QueryAnswer.of_dataset(identifier))
            elif category not in ("Success", "Warning"):
                raise ArchiveRefused(f"{self.label} refused the {what}: {_status_text(status)}")
        return answers

    def find_studies(self, patient_id: str, since: dt.date | None, until: dt.date | None) -> list[ArchiveStudy]:
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        query.PatientID = patient_id
        query.StudyInstanceUID = ""
        query.StudyDate = date_range(since, until) or ""
        return _studies(self._find(query, "study query"))

    def _query(self, level: str, keywords: Sequence[str], **keys: str) -> Dataset:
        query = Dataset()
        query.QueryRetrieveLevel = level
        for keyword in keywords:
            setattr(query, keyword, None)
        for keyword, value in keys.items():
            setattr(query, keyword, value)
        return query

    def find_series(self, study_instance_uid: str) -> list[QueryAnswer]:
        query = self._query("SERIES", SERIES_KEYWORDS, StudyInstanceUID=study_instance_uid, SeriesInstanceUID="")
        return _mr_series(self._find(query, "series query"), study_instance_uid)

    def find_instances(self, study_instance_uid: str, series_instance_uid: str) -> list[QueryAnswer]:
        query = self._query(
            "IMAGE",
            METADATA_KEYWORDS,
            StudyInstanceUID=study_instance_uid,
            SeriesInstanceUID=series_instance_uid,
            SOPInstanceUID="",
        )
        return _in_series(self._find(query, "image query"), study_instance_uid, series_instance_uid)

    def retrieve(
        self, study_instance_uid: str, series_instance_uid: str, sop_instance_uids: Sequence[str] | None
    ) -> Retrieved:
        from pynetdicom.status import code_to_category

        query = Dataset()
        query.StudyInstanceUID = study_instance_uid
        query.SeriesInstanceUID = series_instance_uid
        if sop_instance_uids is None:
            query.QueryRetrieveLevel = "SERIES"
        else:
            query.QueryRetrieveLevel = "IMAGE"
            query.SOPInstanceUID = list(sop_instance_uids)
        self._received.clear()
        responses = self._association().send_c_move(query, self._options.calling_ae, self._move_model)
        for status, _identifier in responses:
            if not status:
                self._assoc = None
                raise ArchiveUnavailable(f"{self.label} dropped the association during a C-MOVE")
            category = code_to_category(int(status.Status))
            if category == "Pending":
                continue
            failed = int(status.get("NumberOfFailedSuboperations", 0) or 0)
            if category == "Failure" or failed:
                raise ArchiveRefused(f"{self.label} refused the C-MOVE: {_status_text(status)}")
        received = list(dict.fromkeys(self._received))
        return Retrieved(received, len(received))

    def close(self) -> None:
        if self._assoc is not None and self._assoc.is_established:
            self._assoc.release()
        self._assoc = None
        self._receiver.stop()


def _status_text(status: Dataset) -> str:
    """A DIMSE status as ``status 0xA801 (Move destination unknown): comment``."""
    from pynetdicom.status import QR_MOVE_SERVICE_CLASS_STATUS

    code = int(status.Status)
    known = QR_MOVE_SERVICE_CLASS_STATUS.get(code)  # the find statuses are a subset
    description = f" ({known[1]})" if known else ""
    comment = str(status.get("ErrorComment", "") or "").strip()
    return f"status 0x{code:04X}{description}{': ' + comment if comment else ''}"


# ---------------------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class ArchiveConfig:
    """The archive a pull reads: exactly one of ``dicomweb`` and ``dimse``."""

    dicomweb: DicomwebOptions | None = None
    dimse: DimseOptions | None = None

    @property
    def label(self) -> str:
        """How messages (and the identity of a pull request) name the archive; never credentials."""
        if self.dicomweb is not None:
            return f"DICOMweb {self.dicomweb.url}"
        assert self.dimse is not None
        return f"DIMSE {self.dimse.called_ae}@{self.dimse.host}:{self.dimse.port}"

    def open(self, store: ImageStore) -> Archive:
        """Connect (for DIMSE: start the Storage SCP that receives the C-MOVE deliveries)."""
        if self.dicomweb is not None:
            return DicomwebArchive(self.dicomweb, store)
        assert self.dimse is not None
        return DimseArchive(self.dimse, store)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def archive_config(
    settings: Settings, *, dicomweb: str | None = None, dimse: str | None = None, called_ae: str | None = None
) -> ArchiveConfig:
    """The archive named by the arguments (command-line overrides) or else by the settings
    (``MODIC_PACS_*``); :class:`ValueError` naming the option when it is missing or malformed.

    DICOMweb credentials come from the settings only, and are sent only to the configured URL's origin
    (or to any URL when none is configured), never to an address typed on the command line elsewhere.
    """
    if dicomweb and dimse:
        raise ValueError("give either --dicomweb or --dimse, not both")
    if not dicomweb and not dimse:
        dicomweb = settings.pacs_dicomweb_url
        dimse = None if dicomweb else settings.pacs_dimse_address
    if dicomweb:
        if not dicomweb.startswith(("http://", "https://")) or not urlsplit(dicomweb).netloc:
            raise ValueError(f"--dicomweb {dicomweb!r} is not an http:// or https:// URL")
        configured = settings.pacs_dicomweb_url
        trusted = configured is None or _origin(configured) == _origin(dicomweb)
        password = settings.pacs_dicomweb_password
        return ArchiveConfig(
            dicomweb=DicomwebOptions(
                url=dicomweb.rstrip("/"),
                username=settings.pacs_dicomweb_username if trusted else None,
                password=password.get_secret_value() if trusted and password is not None else None,
                ca_file=settings.pacs_dicomweb_ca_file,
                parallel=settings.pacs_dicomweb_parallel,
            )
        )
    if not dimse:
        raise ValueError(
            "no archive: give --dicomweb URL or --dimse HOST:PORT, or set MODIC_PACS_DICOMWEB_URL or "
            "MODIC_PACS_DIMSE_ADDRESS"
        )
    try:
        host, port = parse_address(dimse)
    except ValueError as exc:
        raise ValueError(f"--dimse {exc}") from None
    called = called_ae or settings.pacs_called_ae
    if not called:
        raise ValueError("--called-ae is required with --dimse (or set MODIC_PACS_CALLED_AE)")
    return ArchiveConfig(
        dimse=DimseOptions(
            host=host,
            port=port,
            called_ae=check_ae_title(called, "--called-ae"),
            calling_ae=check_ae_title(settings.pacs_calling_ae, "MODIC_PACS_CALLING_AE"),
            store_host=settings.pacs_store_host,
            store_port=settings.pacs_store_port,
        )
    )
