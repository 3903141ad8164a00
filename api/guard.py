"""The checks every request passes before any route runs, and the last word on an unexpected error.

:class:`RequestGuard` is an ASGI middleware around the whole app:

- a request body larger than its limit is refused with 413 before it is read, parsed or
  authenticated: ``MODIC_MAX_JSON_BODY_BYTES`` for JSON (and any other non-multipart body),
  ``MODIC_MAX_UPLOAD_BYTES`` for multipart uploads (whose parts ``api.uploads`` counts again);
- a JSON body is read (within its limit) and its strings are checked: invalid UTF-8, control
  characters other than tab and line breaks, and strings longer than ``MODIC_MAX_FIELD_CHARS`` are a
  422 naming the field (its path in the body, as in every validation error, e.g.
  ``endplates.L1_sup.type``), so that no route or database sees them;
- an exception no handler answered becomes a complete 500 with the error body, logged by type and
  stack only (an exception's message may quote input, such as a hospital identifier), so the
  kept-alive connection stays usable.

:func:`check_parameters` is an app-wide dependency doing the same for path and query parameters
(``path.<name>``, ``query.<name>``): every router included in the app gets it.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.settings import Settings

_log = logging.getLogger("modic.errors")

_PARAMETER_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Control characters refused in body strings: tab, line feed and carriage return are text."""
_SUSPECT = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\\u00[01][0-9a-fA-F]|\\u007[fF]")
"""Raw or escaped control characters in a JSON body: only then is it parsed here."""
_UNDECODABLE = re.compile(r"[\udc80-\udcff]")
_JSON_TYPES = ("application/json", "")


class BadInput(Exception):
    """A field of the request that no route may see; answered as a 422 naming it."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.message = f"{field}: {reason}"


def error_body(detail: str, field: str | None = None) -> dict[str, Any]:
    """The error body of the API: ``detail`` and, for input errors, ``errors`` naming the fields."""
    body: dict[str, Any] = {"detail": detail}
    if field is not None:
        body["errors"] = [{"field": field, "message": detail}]
    return body


def check_text(field: str, value: str, max_chars: int | None = None, *, parameter: bool = False) -> None:
    """Raise :class:`BadInput` naming ``field`` when ``value`` is not text the service accepts."""
    if _UNDECODABLE.search(value):
        raise BadInput(field, "is not valid UTF-8")
    bad = (_PARAMETER_CONTROL if parameter else _TEXT_CONTROL).search(value)
    if bad is not None:
        raise BadInput(field, f"control character U+{ord(bad.group()):04X} is not allowed")
    if max_chars is not None and len(value) > max_chars:
        raise BadInput(field, f"{len(value)} characters; at most {max_chars} are allowed")


def _walk(value: Any, path: tuple[str, ...], max_chars: int) -> None:
    if isinstance(value, str):
        check_text(".".join(path) or "body", value, max_chars)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(".".join(path) or "body", key, max_chars)
            _walk(item, (*path, key), max_chars)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, (*path, str(index)), max_chars)


def check_json_body(body: bytes, max_chars: int) -> None:
    """Raise :class:`BadInput` for a string of a JSON body that is not acceptable text.

    Only a body that could hold such a string is parsed (invalid UTF-8, a control character, a body
    longer than a string may be); a body that is not JSON at all is left to the route's own parser.
    """
    try:
        text = body.decode()
    except UnicodeDecodeError:
        text = body.decode(errors="surrogateescape")
    else:
        if len(text) <= max_chars and _SUSPECT.search(body) is None:
            return
    try:
        value = json.loads(text, strict=False)
    except ValueError:
        if _UNDECODABLE.search(text):
            raise BadInput("body", "is not valid UTF-8") from None
        return
    _walk(value, (), max_chars)


async def check_parameters(request: Request) -> None:
    """App-wide dependency: path and query parameters are printable text of a bounded length."""
    settings: Settings = request.app.state.settings
    try:
        for name, value in request.path_params.items():
            if isinstance(value, str):
                check_text(f"path.{name}", value, settings.max_field_chars, parameter=True)
        for name, value in request.query_params.multi_items():
            check_text(f"query.{name}", value, settings.max_field_chars, parameter=True)
    except BadInput as exc:
        raise RequestValidationError([{"loc": tuple(exc.field.split(".", 1)), "msg": exc.reason}]) from None


class _TooLarge(Exception):
    """The body grew past the limit while it was being read."""


class RequestGuard:
    """ASGI middleware: body limits and checks before the app, and a clean 500 after it."""

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            refusal = await self._refusal(scope, receive)
            if isinstance(refusal, tuple):
                status, body = refusal
                await _answer(send_tracked, status, body)
                return
            await self.app(scope, refusal or receive, send_tracked)
        except Exception as exc:
            _log.error(
                "unhandled %s on %s %s\n%s",
                type(exc).__name__,
                scope.get("method"),
                scope.get("route_path", scope.get("path")),
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            if started:
                raise
            await _answer(send_tracked, 500, error_body("internal server error"))

    async def _refusal(self, scope: Scope, receive: Receive) -> tuple[int, dict[str, Any]] | Receive | None:
        """A (status, body) to answer instead of the app, a replaying ``receive``, or None to pass on."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        multipart = content_type.startswith("multipart/")
        limit = self.settings.max_upload_bytes if multipart else self.settings.max_json_body_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return 413, error_body(f"body of {declared} bytes is larger than the limit of {limit} bytes", "body")
        if multipart or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            return None
        try:
            body = await _read_body(receive, limit)
        except _TooLarge:
            return 413, error_body(f"body is larger than the limit of {limit} bytes", "body")
        if content_type in _JSON_TYPES or content_type.endswith("+json"):
            try:
                check_json_body(body, self.settings.max_field_chars)
            except BadInput as exc:
                return 422, error_body(exc.message, exc.field)
        return _replay(body, receive)


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the app the body already read, then waits on the real one."""
    done = False

    async def replay() -> Message:
        nonlocal done
        if not done:
            done = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _answer(send: Send, status: int, body: dict[str, Any]) -> None:
    content = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": content})
