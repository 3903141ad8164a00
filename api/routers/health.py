"""Health, open without a token: ``/health`` and ``/health/live`` (the process answers) and
``/health/ready`` (it can serve: database reachable, schema migrated to this code's revision, image
store ready: a file can be written in the data directory, or the DICOMweb archive answers a query).
Each check is named in the answer; a failed one makes it a 503."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from registry.db import migration_heads, schema_revisions
from registry.imaging.store import ImageStore

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict[str, str]:
    """``{"status": "ok"}`` while the service runs."""
    return {"status": "ok"}


@router.get("/health/live")
def live() -> dict[str, str]:
    """``{"status": "ok"}`` while the process answers (restart it when this fails)."""
    return {"status": "ok"}


def _database(request: Request) -> str | None:
    try:
        current = schema_revisions(request.app.state.engine)
    except Exception as exc:  # any failure to reach the database is an answer here, not a 500
        return f"unreachable ({type(exc).__name__})"
    expected = migration_heads()
    if current != expected:
        return f"schema at {', '.join(current) or 'nothing'}; this code needs {', '.join(expected)}"
    return None


def _checks(request: Request) -> dict[str, str | None]:
    store: ImageStore = request.app.state.store
    return {"database": _database(request), "store": store.not_ready()}


@router.get(
    "/health/ready",
    responses={503: {"description": "a check failed; `checks` names it and why"}},
)
async def ready(request: Request) -> JSONResponse:
    """``{"status": "ready", "checks": {"database": "ok", "store": "ok"}}``, or 503 with ``"status":
    "not ready"`` and the reason of each failed check (take the process out of the load balancer)."""
    checks: dict[str, Any] = await run_in_threadpool(_checks, request)
    failed = any(reason is not None for reason in checks.values())
    body = {
        "status": "not ready" if failed else "ready",
        "checks": {name: reason or "ok" for name, reason in checks.items()},
    }
    return JSONResponse(body, status_code=503 if failed else 200)
