"""Grading protocols: the versions a site or a reliability study may choose, open to every role."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import CurrentUser
from grading.protocols import DEFAULT_PROTOCOL, protocols

router = APIRouter(tags=["protocols"])


class ProtocolList(BaseModel):
    default: str = Field(description="the protocol of a grading that names none")
    items: list[dict[str, Any]] = Field(
        description="each protocol with its variables: name, label, level (nominal/ordinal), applies_to "
        "(change/endplate), requires_prior, source, quote and categories with their definitions"
    )


@router.get("/protocols", response_model=ProtocolList)
def list_protocols(_user: CurrentUser) -> ProtocolList:
    """Every grading protocol version with its variables and their categories."""
    return ProtocolList(default=DEFAULT_PROTOCOL, items=[p.to_mapping() for p in protocols().values()])
