"""Accounts: an admin disables users and issues or revokes tokens; anyone rotates their own token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials

from api.deps import Admin, CurrentUser, SessionDep, SettingsDep, bearer
from api.schemas.users import RegistrarUpdate, TokenCreate, TokenIssued, TokensRevoked, UserPublic
from registry.models import User
from registry.services import users as users_service
from registry.services.users import TokenCache

router = APIRouter(tags=["users"])


def _forget_tokens(request: Request) -> None:
    """After a revocation here, this process checks every token again at once (others within seconds)."""
    cache: TokenCache = request.app.state.token_cache
    cache.forget()


@router.post("/users/{name}/disable", response_model=UserPublic)
def disable_user(name: str, admin: Admin, session: SessionDep, request: Request) -> UserPublic:
    """Disable a user: every token of theirs is refused within seconds on every process."""
    user = users_service.disable_user(session, name, admin)
    _forget_tokens(request)
    return _public(user)


def _public(user: User) -> UserPublic:
    return UserPublic(name=user.name, role=user.role, active=user.active, registrar=user.registrar)


@router.put("/users/{name}/registrar", response_model=UserPublic)
def set_registrar(name: str, body: RegistrarUpdate, admin: Admin, session: SessionDep, request: Request) -> UserPublic:
    """Grant or take back a user's privilege to register studies and upload images (every process
    within seconds): a registration names a patient by hospital id and answers with its pseudonym."""
    user = users_service.set_registrar(session, name, body.registrar, admin)
    _forget_tokens(request)
    return _public(user)


@router.post("/users/{name}/tokens", status_code=201, response_model=TokenIssued)
def issue_token(
    name: str, body: TokenCreate, admin: Admin, session: SessionDep, settings: SettingsDep, request: Request
) -> TokenIssued:
    """A new token for a user (shown once); ``revoke_others`` rotates: the earlier tokens stop working."""
    days = settings.token_lifetime_days if body.days is None else body.days
    issued = users_service.issue_token(session, name, admin, days=days, revoke_others=body.revoke_others)
    _forget_tokens(request)
    return TokenIssued(token=issued.value, expires_at=issued.expires_at)


@router.delete("/users/{name}/tokens", response_model=TokensRevoked)
def revoke_tokens(name: str, admin: Admin, session: SessionDep, request: Request) -> TokensRevoked:
    """Revoke every token of a user."""
    revoked = users_service.revoke_tokens(session, name, admin)
    _forget_tokens(request)
    return TokensRevoked(revoked=revoked)


@router.post("/me/token", status_code=201, response_model=TokenIssued)
def rotate_my_token(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> TokenIssued:
    """Rotate my token: a new one (shown once) replaces the one this request was sent with."""
    issued = users_service.issue_token(session, user.name, user, days=settings.token_lifetime_days)
    if credentials is not None:
        users_service.revoke_token(session, credentials.credentials, user)
        _forget_tokens(request)
    return TokenIssued(token=issued.value, expires_at=issued.expires_at)
