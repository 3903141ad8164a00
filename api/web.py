"""The radiologist workstation: static HTML, CSS and ES modules served by the app itself.

The page's files are public (they hold no data); every data call the page makes carries the
user's bearer token. The page is sent with a Content-Security-Policy that allows scripts, styles
and connections only from this origin and images only from here or from ``blob:`` object URLs
(the slice PNGs are fetched with the token and shown through object URLs).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent / "static"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


class PageFiles(StaticFiles):
    """Static files with the page's security headers on every answer."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(PAGE_HEADERS)
        return response


def mount_page(app: FastAPI) -> None:
    """Serve the workstation at ``/`` (index ``/index.html``); mount after the API routers."""
    app.mount("/", PageFiles(directory=STATIC_DIR, html=True), name="page")
