"""Liveness, open without a token."""

from fastapi import APIRouter

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict[str, str]:
    """``{"status": "ok"}`` while the service runs."""
    return {"status": "ok"}
