"""The OpenAPI document as the service answers, and ``/docs`` served from local files under a CSP.

Every operation of every router is completed here, from what the operation itself declares, so that
routers added later are described without doing anything: the error answers it can give (each with
the one error body the API returns, :class:`ErrorBody`) and the statuses the request guard, the token
check and the error handlers produce:

- every operation: 422 (a parameter or body field that is not acceptable) and 500;
- with a bearer token: 401, 403 (role), 429 (too many bad tokens);
- with path parameters: 404;
- with a request body: 400 (an unreadable multipart body), 413 (too large), 415 (content type);
- changing data (POST, PUT, PATCH, DELETE): 409;
- with an ``If-Match`` header: 412 and 428.

The Swagger UI files come from the ``swagger-ui-bundle`` package and are served by the app itself:
no script is loaded from elsewhere, and the page's Content-Security-Policy allows only this origin.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from swagger_ui_bundle import swagger_ui_path


class ErrorItem(BaseModel):
    """One problem: the field (``path.<name>``, ``query.<name>``, or its place in the body) and message."""

    field: str | None = None
    endplate: str | None = Field(default=None, description="the endplate a grading error concerns")
    message: str


class ErrorBody(BaseModel):
    """Every error answer of the API."""

    detail: str = Field(description="what went wrong, quoting the bad value and the allowed ones")
    errors: list[ErrorItem] | None = Field(default=None, description="the fields concerned, for input errors")
    existing_id: str | None = Field(default=None, description="the record that already exists (409)")


_REASONS = {
    400: "the body cannot be read",
    401: "missing, invalid, expired or revoked token",
    403: "the user's role may not do this",
    404: "not found, or not visible to this user",
    409: "conflicts with what is stored",
    412: "If-Match names a version that is no longer current",
    413: "the body or upload is larger than its limit",
    415: "the content type is not accepted",
    422: "a parameter or field is not acceptable; the errors name it",
    428: "If-Match is required",
    429: "too many bad tokens from this client; see Retry-After",
    500: "an unexpected error (logged without its data)",
}
_CHANGES = {"post", "put", "patch", "delete"}
_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}


def _statuses(method: str, operation: dict[str, Any]) -> set[int]:
    statuses = {422, 500}
    parameters = operation.get("parameters", [])
    if operation.get("security"):
        statuses |= {401, 403, 429}
    if any(p.get("in") == "path" for p in parameters):
        statuses.add(404)
    if "requestBody" in operation:
        statuses |= {400, 413, 415}
    if method in _CHANGES:
        statuses.add(409)
    if any(p.get("in") == "header" and p.get("name", "").lower() == "if-match" for p in parameters):
        statuses |= {412, 428}
    return statuses


def complete_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the error answers to every operation of ``schema`` (in place) and return it."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["ErrorItem"] = ErrorItem.model_json_schema()
    error = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    error.pop("$defs", None)
    schemas["ErrorBody"] = error
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            responses = operation.setdefault("responses", {})
            for status in sorted(_statuses(method, operation)):
                declared = responses.get(str(status))
                if declared is None or status == 422:
                    responses[str(status)] = {
                        "description": (declared or {}).get("description") or _REASONS[status],
                        "content": {"application/json": {"schema": _ERROR_REF}},
                    }
    return schema


_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_ASSETS = "/docs-assets"


def install_openapi(app: FastAPI, openapi_url: str) -> None:
    """Complete the app's OpenAPI document and serve ``/docs`` (create the app with ``docs_url=None``)."""
    default = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete_schema(default())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.mount(_ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{app.title} · API</title>
<link rel="stylesheet" href="{_ASSETS}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{_ASSETS}/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>
"""
    script = f'SwaggerUIBundle({{url: "{openapi_url}", dom_id: "#swagger-ui"}});\n'

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": _CSP})

    @app.get("/docs/init.js", include_in_schema=False)
    def docs_init() -> Response:
        return Response(script, media_type="text/javascript", headers={"Content-Security-Policy": _CSP})
