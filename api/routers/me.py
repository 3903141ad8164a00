"""Who the bearer token belongs to: the web page checks a token with it at sign-in."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser
from api.schemas.users import MePublic

router = APIRouter(tags=["users"])


@router.get("/me", response_model=MePublic)
def me(user: CurrentUser) -> MePublic:
    """The signed-in user's name and role (any role)."""
    return MePublic(name=user.name, role=str(user.role))
