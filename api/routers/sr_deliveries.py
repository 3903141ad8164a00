"""Storing grading SRs to the archive: the state of the deliveries (admins)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import Admin, SessionDep, SettingsDep
from registry.services.sr_store import delivery_state, sr_store_config

router = APIRouter(tags=["gradings"])


class SrDeliveryCounts(BaseModel):
    waiting: int
    """Grading versions whose SR was not tried yet."""
    retrying: int
    """SRs the archive did not take (refused, or could not be reached); tried again later."""
    sent: int


class SrDeliveryRetrying(BaseModel):
    grading_id: str
    version: int
    attempts: int
    last_error: str | None
    next_attempt_at: dt.datetime | None


class SrDeliveries(BaseModel):
    destination: str | None
    """The archive SRs are stored to (``MODIC_SR_STORE_URL``); null when SRs are not stored."""
    counts: SrDeliveryCounts
    retrying: list[SrDeliveryRetrying]
    """The first 100 SRs waiting for another attempt, with the archive's last answer."""


@router.get("/sr-deliveries", response_model=SrDeliveries)
def sr_deliveries(_admin: Admin, session: SessionDep, settings: SettingsDep) -> SrDeliveries:
    """Where storing each grading version's SR to the archive stands (admins)."""
    state = delivery_state(session, sr_store_config(settings))
    return SrDeliveries(
        destination=state.destination,
        counts=SrDeliveryCounts(**state.counts),
        retrying=[SrDeliveryRetrying(**item) for item in state.retrying],
    )
