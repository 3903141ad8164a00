"""Trials: the versioned rule sets, open to every role."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser
from api.schemas.eligibility import TrialList, TrialPublic
from registry.services.eligibility import catalog

router = APIRouter(tags=["trials"])


@router.get("/trials", response_model=TrialList)
def list_trials(_user: CurrentUser) -> TrialList:
    """Every rule set (trial and version), default version first, with criteria and source sentences."""
    return TrialList(items=[TrialPublic.of(r) for r in catalog().rule_sets])
