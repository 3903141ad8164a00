"""The one place where domain and registry errors become HTTP answers."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from grading.errors import GradingError, GradingErrors
from registry import errors as reg

_STATUS: dict[type[reg.RegistryError], int] = {
    reg.NotFound: 404,
    reg.AlreadyExists: 409,
    reg.Conflict: 409,
    reg.Forbidden: 403,
    reg.InvalidInput: 422,
    reg.PreconditionRequired: 428,
    reg.PreconditionFailed: 412,
    reg.PayloadTooLarge: 413,
}


def _error_items(exc: GradingError) -> list[dict[str, Any]]:
    items = exc.errors if isinstance(exc, GradingErrors) else [exc]
    return [{"endplate": e.endplate, "field": e.field, "message": e.message} for e in items]


async def _grading_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GradingError)
    return JSONResponse(status_code=422, content={"detail": exc.message, "errors": _error_items(exc)})


async def _registry_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, reg.RegistryError)
    status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 400)
    content: dict[str, Any] = {"detail": exc.message}
    if isinstance(exc, reg.InvalidInput):
        # Every 422 has the same shape: a detail line and the problems, each naming its field.
        content["errors"] = [{"field": exc.field or "request", "message": exc.message}]
    if isinstance(exc, reg.AlreadyExists) and exc.existing_id:
        content["existing_id"] = exc.existing_id
    if isinstance(exc, reg.InvalidInput) and exc.field:
        content["errors"] = [{"field": exc.field, "message": exc.message}]
    return JSONResponse(status_code=status, content=content)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    messages = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body"
        messages.append(f"{location}: {error.get('msg', 'invalid')}")
    return JSONResponse(
        status_code=422,
        content={"detail": "; ".join(messages), "errors": [{"field": m.split(":")[0], "message": m} for m in messages]},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the mapping on an app."""
    app.add_exception_handler(GradingError, _grading_error)
    app.add_exception_handler(reg.RegistryError, _registry_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
