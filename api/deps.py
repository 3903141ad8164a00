"""Request dependencies: the database session and the authenticated user with role checks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.datastructures import State

from registry.db import open_session, session_scope
from registry.imaging.store import ImageStore
from registry.metrics import cache_lookup
from registry.models import ApiToken, Role, User
from registry.security import FailureBrake
from registry.services.users import TokenCache, authenticate, revocation_epoch
from registry.settings import Settings

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
bearer = HTTPBearer(auto_error=False, description="the API token printed by `modic user add`")


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session per request; requests that change data get a write transaction.

    Opening a session does no I/O, so it happens on the event loop; closing it runs in a worker
    thread when it rolls back a transaction the route left open, and on the event loop when there is
    none (the route committed, or never used the database): then it does no I/O either.
    """
    session = open_session(request.app.state.engine, write=request.method not in _SAFE_METHODS)
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


async def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_store(request: Request) -> ImageStore:
    """The app's image file store, built once with the app."""
    store: ImageStore = request.app.state.store
    return store


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[ImageStore, Depends(get_store)]


async def get_current_user(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> User:
    """The user of the bearer token; 401 when it is missing, unknown, revoked or expired, 429 with
    ``Retry-After`` for a client that sent too many bad tokens lately.

    A recently checked token is answered from the app's :class:`TokenCache` on the event loop
    (which at least every ``MODIC_REVOCATION_CHECK_SECONDS`` reads the revocation counter);
    otherwise it is looked up in a read session of its own (in a worker thread), so that a
    request's write transaction starts only when the route needs it.
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            401, "missing bearer token: send 'Authorization: Bearer <token>'", {"WWW-Authenticate": "Bearer"}
        )
    token = credentials.credentials
    state = request.app.state
    cache: TokenCache = state.token_cache
    if cache.epoch_due():
        await _observe_fresh_epoch(state, cache)
    user = cache.get(token)
    cache_lookup("token", user is not None)
    if user is None:
        brake: FailureBrake = state.auth_brake
        client = request.client.host if request.client else "unknown"
        wait = brake.retry_after(client)
        if wait is not None:
            raise HTTPException(429, f"too many bad tokens; try again in {wait} s", {"Retry-After": str(wait)})
        found = await run_in_threadpool(_look_up, state.engine, token)
        if found is None:
            brake.failed(client)
            raise HTTPException(401, "invalid, expired or revoked token", {"WWW-Authenticate": "Bearer"})
        user, record = found
        cache.put(token, user, record.expires_at)
    return user


def _look_up(engine: Engine, token: str) -> tuple[User, ApiToken] | None:
    with session_scope(engine) as session:
        return authenticate(session, token)


def _read_epoch(engine: Engine) -> int:
    with session_scope(engine) as session:
        return revocation_epoch(session)


async def _observe_fresh_epoch(state: State, cache: TokenCache) -> None:
    """Read the revocation counter once for all the requests that find it due together: the first
    starts the read, the others await that same read (not one read each, which under load was a burst
    of as many reads as requests in flight, every second). Each goes on only with the fresh counter."""
    reading: asyncio.Future[int] | None = getattr(state, "epoch_read", None)
    if reading is None or reading.done():
        reading = state.epoch_read = asyncio.ensure_future(run_in_threadpool(_read_epoch, state.engine))
    # shielded: a request that goes away does not cancel the read the others await
    cache.observe_epoch(await asyncio.shield(reading))


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: Role) -> Callable[[User], Coroutine[None, None, User]]:
    """A dependency that admits only users with one of ``roles``; 403 otherwise."""
    allowed = frozenset(roles)

    async def check(user: CurrentUser) -> User:  # no I/O: runs on the event loop, no thread hop
        if user.role not in allowed:
            raise HTTPException(
                403, f"role {str(user.role)!r} may not do this; allowed roles: {', '.join(sorted(allowed))}"
            )
        return user

    return check


RadiologistOrAdmin = Annotated[User, Depends(require_roles(Role.radiologist, Role.admin))]
Radiologist = Annotated[User, Depends(require_roles(Role.radiologist))]
ScreenerOrAdmin = Annotated[User, Depends(require_roles(Role.screener, Role.admin))]
Admin = Annotated[User, Depends(require_roles(Role.admin))]
AllocationManager = Annotated[User, Depends(require_roles(Role.allocation_manager))]
"""Only the allocation manager sees running totals, the allocation log and the CONSORT counts per arm."""
FunnelReader = Annotated[User, Depends(require_roles(Role.screener, Role.admin, Role.researcher))]
