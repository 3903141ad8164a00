"""Request metrics and request log lines (an ASGI middleware), and ``GET /metrics`` for Prometheus.

The middleware times every HTTP request and labels it with the route's template (e.g.
``/api/v1/gradings/{grading_id}``, never a concrete id) and the answer's status; when the
``modic.requests`` logger is at INFO (``MODIC_LOG_FORMAT=json``) it also logs one line per request
with the same fields. ``/metrics`` is served only when ``MODIC_METRICS_TOKEN`` is set, to a client
that sends it as a bearer token (Prometheus's ``authorization`` setting).
"""

from __future__ import annotations

import hmac
import logging
import os
import time

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Histogram, generate_latest, multiprocess
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.settings import Settings

REQUEST_SECONDS = Histogram(
    "modic_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method, route template and status",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
_requests_log = logging.getLogger("modic.requests")
router = APIRouter(tags=["operations"])


def route_template(scope: Scope) -> str:
    """The matched route's path template with the prefix it was included under (``other`` when no
    route matched): a route knows its path within its router, the request's path gives the prefix."""
    path: str | None = getattr(scope.get("route"), "path", None)
    if path is None:
        return "other"
    segments = path.count("/")
    concrete: str = scope["path"]
    prefix = concrete.rsplit("/", segments)[0] if concrete.count("/") >= segments else ""
    return prefix + path


class RequestMetrics:
    """ASGI middleware: latency per route in :data:`REQUEST_SECONDS`, and a log line per request."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - started
            template = route_template(scope)
            REQUEST_SECONDS.labels(scope["method"], template, str(status)).observe(elapsed)
            if _requests_log.isEnabledFor(logging.INFO):
                _requests_log.info(
                    "%s %s %d",
                    scope["method"],
                    template,
                    status,
                    extra={
                        "method": scope["method"],
                        "route": template,
                        "status": status,
                        "ms": round(elapsed * 1000, 2),
                    },
                )


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """The Prometheus text format of every metric (of every worker, with ``--workers N``)."""
    settings: Settings = request.app.state.settings
    if settings.metrics_token is None:
        raise HTTPException(404, "metrics are not served: set MODIC_METRICS_TOKEN to serve them")
    expected = f"Bearer {settings.metrics_token.get_secret_value()}"
    if not hmac.compare_digest(request.headers.get("authorization", "").encode(), expected.encode()):
        raise HTTPException(401, "send the metrics token: 'Authorization: Bearer <MODIC_METRICS_TOKEN>'")
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
