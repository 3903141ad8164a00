"""Storing every grading version's DICOM SR to the archive by STOW-RS, asynchronously (``docs/dicom-sr.md``).

Grading versions are append-only, so they are their own outbox: a version with no
:class:`~registry.models.SrDelivery` row for the configured destination is waiting. A thread of the
service (:class:`SrStore`) looks for waiting and due versions after each grading (it is nudged) and every
few seconds, builds each SR as the downloads do (:func:`registry.services.reports.grading_report`, with the
site's identity policy) and sends it. The grading's own transaction never waits for the archive: an archive
that is down or refuses leaves the delivery ``retrying`` with its answer and the next attempt's time (the
wait doubles from ``MODIC_SR_STORE_RETRY_SECONDS`` up to an hour); nothing is lost, and admins see the
state at ``GET /api/v1/sr-deliveries``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom import Dataset
from sqlalchemy import Engine, and_, func, or_
from sqlmodel import Session, col, select

from registry.db import session_scope
from registry.errors import RegistryError
from registry.models import GradingVersion, SrDelivery, SrDeliveryStatus
from registry.models.base import utcnow
from registry.settings import Settings, SrIdentity

log = logging.getLogger(__name__)

BATCH = 50
"""Deliveries tried in one pass at most."""
MAX_WAIT_SECONDS = 3600.0
"""The longest wait between two attempts of one delivery."""


@dataclass(frozen=True)
class SrStoreConfig:
    """Where grading SRs are stored (a DICOMweb base URL for STOW-RS) and how they name the patient."""

    url: str
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    identity: SrIdentity = SrIdentity.pseudonym
    retry_seconds: float = 30.0
    timeout_s: float = 60.0

    @property
    def destination(self) -> str:
        """How deliveries name the archive (never credentials)."""
        return f"STOW-RS {self.url}"


def sr_store_config(settings: Settings) -> SrStoreConfig | None:
    """The SR store of the settings (``MODIC_SR_STORE_*``), or ``None`` when SRs are not stored."""
    if not settings.sr_store_url:
        return None
    password = settings.sr_store_password
    return SrStoreConfig(
        url=settings.sr_store_url.rstrip("/"),
        username=settings.sr_store_username,
        password=None if password is None else password.get_secret_value(),
        ca_file=settings.sr_store_ca_file,
        identity=settings.sr_identity,
        retry_seconds=settings.sr_store_retry_seconds,
    )


class SrRefused(RegistryError):
    """The archive did not take an SR; the message gives its answer."""


def stow_sender(config: SrStoreConfig) -> Callable[[Dataset], None]:
    """A function that stores one SR by STOW-RS (dicomweb-client), raising :class:`SrRefused` on failure."""
    import requests

    from registry.imaging.pacs import DicomwebOptions, dicomweb_client, http_refusal

    options = DicomwebOptions(config.url, config.username, config.password, config.ca_file, config.timeout_s)
    client, _ = dicomweb_client(options)

    def send(sr: Dataset) -> None:
        try:
            answer = client.store_instances([sr])
        except requests.HTTPError as exc:
            raise SrRefused(f"refused: {http_refusal(exc)}") from None
        except requests.RequestException as exc:
            raise SrRefused(f"cannot be reached: {type(exc).__name__}") from None
        failed = answer.get("FailedSOPSequence") if answer is not None else None
        if failed:
            reasons = ", ".join(f"0x{int(item.get('FailureReason', 0)):04X}" for item in failed)
            raise SrRefused(f"refused the SR (failure reason {reasons})")

    return send


def _due(session: Session, destination: str, now: dt.datetime) -> list[tuple[GradingVersion, SrDelivery | None]]:
    """Versions never tried for ``destination``, and deliveries whose next attempt is due, oldest first."""
    rows = session.exec(
        select(GradingVersion, SrDelivery)
        .outerjoin(
            SrDelivery,
            and_(col(SrDelivery.grading_version_id) == GradingVersion.id, col(SrDelivery.destination) == destination),
        )
        .where(
            or_(
                col(SrDelivery.id).is_(None),
                and_(
                    col(SrDelivery.status) == SrDeliveryStatus.retrying,
                    col(SrDelivery.next_attempt_at) <= now,
                ),
            )
        )
        .order_by(col(GradingVersion.id))
        .limit(BATCH)
    ).all()
    return [(version, delivery) for version, delivery in rows]


def deliver_due(engine: Engine, config: SrStoreConfig, send: Callable[[Dataset], None]) -> int:
    """Send every SR waiting or due (one pass, at most :data:`BATCH`); the number the archive took."""
    from registry.exports.dicom_sr import build_sr
    from registry.services.reports import grading_report

    with session_scope(engine) as session:
        due = _due(session, config.destination, utcnow())
    sent = 0
    for version, delivery in due:
        assert version.id is not None
        with session_scope(engine) as session:
            sr = build_sr(*grading_report(session, version.grading_id, version.version, None, config.identity))
        error: str | None = None
        try:
            send(sr)
        except SrRefused as exc:
            error = f"{config.destination} {exc}"
            log.warning("SR of grading %s version %d not stored: %s", version.grading_id, version.version, error)
        _record_delivery(engine, version.id, delivery, config, error)
        sent += error is None
    return sent


def _record_delivery(
    engine: Engine, version_id: int, delivery: SrDelivery | None, config: SrStoreConfig, error: str | None
) -> None:
    now = utcnow()
    with session_scope(engine, write=True) as session:
        row = None if delivery is None else session.get(SrDelivery, delivery.id)
        status = SrDeliveryStatus.sent if error is None else SrDeliveryStatus.retrying
        if row is None:
            row = SrDelivery(grading_version_id=version_id, destination=config.destination, status=status)
        row.status = status
        row.attempts += 1
        row.updated_at = now
        if error is None:
            row.sent_at, row.next_attempt_at, row.last_error = now, None, None
        else:
            wait = min(config.retry_seconds * 2 ** (row.attempts - 1), MAX_WAIT_SECONDS)
            row.last_error = error[:1000]
            row.next_attempt_at = now + dt.timedelta(seconds=wait)
        session.add(row)
        session.commit()


class SrStore:
    """The service's thread that stores grading SRs: a pass after each :meth:`nudge` and every ``interval_s``."""

    def __init__(self, engine: Engine, config: SrStoreConfig, *, interval_s: float = 5.0):
        self.engine = engine
        self.config = config
        self.interval_s = interval_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sr-store", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def nudge(self) -> None:
        """A grading version was committed: look for it now rather than at the next interval."""
        self._wake.set()

    def _run(self) -> None:
        send = stow_sender(self.config)
        while not self._stop.is_set():
            self._wake.clear()
            try:
                while deliver_due(self.engine, self.config, send) == BATCH:
                    continue  # a full batch went through: more may be waiting
            except Exception:  # the thread keeps going; deliveries stay waiting or retrying
                log.exception("storing grading SRs failed")
            self._wake.wait(self.interval_s)

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)


@dataclass(frozen=True)
class DeliveryState:
    """What admins see: the destination, counts by state, and the deliveries not sent yet."""

    destination: str | None
    counts: dict[str, int]
    retrying: list[dict[str, Any]]


def delivery_state(session: Session, config: SrStoreConfig | None) -> DeliveryState:
    """The state of SR storage to the configured destination (empty when none is configured)."""
    if config is None:
        return DeliveryState(None, {"waiting": 0, "retrying": 0, "sent": 0}, [])
    destination = config.destination
    by_status = dict(
        session.exec(
            select(SrDelivery.status, func.count())
            .where(SrDelivery.destination == destination)
            .group_by(col(SrDelivery.status))
        ).all()
    )
    versions = session.exec(select(func.count()).select_from(GradingVersion)).one()
    tried = sum(by_status.values())
    rows = session.exec(
        select(GradingVersion, SrDelivery)
        .join(SrDelivery, col(SrDelivery.grading_version_id) == GradingVersion.id)
        .where(SrDelivery.destination == destination, SrDelivery.status == SrDeliveryStatus.retrying)
        .order_by(col(SrDelivery.id))
        .limit(100)
    ).all()
    return DeliveryState(
        destination,
        {
            "waiting": versions - tried,
            "retrying": by_status.get(SrDeliveryStatus.retrying, 0),
            "sent": by_status.get(SrDeliveryStatus.sent, 0),
        },
        [
            {
                "grading_id": version.grading_id,
                "version": version.version,
                "attempts": delivery.attempts,
                "last_error": delivery.last_error,
                "next_attempt_at": delivery.next_attempt_at,
            }
            for version, delivery in rows
        ],
    )
