"""The radiologist workstation: static HTML, CSS and ES modules served by the app itself.

The page's files are public (they hold no data); every data call the page makes carries the
user's bearer token. The page is sent with a Content-Security-Policy that allows scripts, styles
and connections only from this origin and images only from here or from ``blob:`` object URLs
(the slice PNGs are fetched with the token and shown through object URLs).

A first load fetches the page, its style sheet and every ES module of the page at once: the page
names each module that ``js/main.js`` imports, directly or through another module, in a
``<link rel="modulepreload">`` that is written here, from the modules' ``import`` lines, when the
files are read (so no list is kept by hand and no import waits for its importer to arrive). The
files are read once, when the app is built, and answered from memory: reading each from disk
through worker threads cost more than the rest of the request on a loaded server. Each answer
has an ``ETag`` to revalidate against (``no-cache``); a changed file is served once the app is
built again.
"""

from __future__ import annotations

import hashlib
import mimetypes
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
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


_MODULE_SCRIPT = re.compile(r'^([ \t]*)<script type="module" src="([^"]+)"></script>', re.MULTILINE)
_IMPORT = re.compile(r'^\s*(?:import|export)\s(?:[^"\';]*?\sfrom\s*)?"(\.{1,2}/[^"]+)"', re.MULTILINE)
"""A static ``import``/``export … from`` of a relative module specifier (the page's modules use no other)."""


def module_graph(directory: Path, entry: str) -> list[str]:
    """``entry`` (a path relative to ``directory``) and every module it imports, directly or not, in the
    order they are first imported."""
    found = [entry]
    for module in found:
        source = (directory / module).read_text(encoding="utf-8")
        for specifier in _IMPORT.findall(source):
            imported = posixpath.normpath(posixpath.join(posixpath.dirname(module), specifier))
            if imported not in found:
                found.append(imported)
    return found


def with_module_preloads(directory: Path, html: str) -> str:
    """The page ``html`` with a ``modulepreload`` link, before each module script, for every module the
    script imports."""

    def preloads(script: re.Match[str]) -> str:
        indent, entry = script.group(1), script.group(2)
        links = [f'{indent}<link rel="modulepreload" href="{m}">\n' for m in module_graph(directory, entry)[1:]]
        return "".join(links) + script.group(0)

    return _MODULE_SCRIPT.sub(preloads, html)


@dataclass(frozen=True)
class PageFile:
    """One of the page's files as answered: its bytes and content headers."""

    body: bytes
    headers: dict[str, str]

    @classmethod
    def of(cls, name: str, body: bytes) -> PageFile:
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if media_type.startswith("text/"):
            media_type += "; charset=utf-8"
        etag = f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
        return cls(body, {"Content-Type": media_type, "ETag": etag})


def read_page_files(directory: Path) -> dict[str, PageFile]:
    """Every file below ``directory`` by its path relative to it (``.`` too for ``index.html``), the
    page with its module preloads."""
    files = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        name = path.relative_to(directory).as_posix()
        body = path.read_bytes()
        if name == "index.html":
            body = with_module_preloads(directory, body.decode("utf-8")).encode("utf-8")
        files[name] = PageFile.of(name, body)
    files["."] = files["index.html"]
    return files


class PageFiles(StaticFiles):
    """The page's files from memory, with the page's security headers on every answer (anything else,
    such as a 404, as static files answer it)."""

    def __init__(self, directory: Path):
        super().__init__(directory=directory, html=True)
        self.files = read_page_files(directory)

    async def get_response(self, path: str, scope: Scope) -> Response:
        found = self.files.get(path) if scope["method"] in ("GET", "HEAD") else None
        if found is None:
            response = await super().get_response(path, scope)
        elif self.is_not_modified(Headers(found.headers), Headers(scope=scope)):
            response = NotModifiedResponse(Headers(found.headers))
        else:
            response = Response(found.body, headers=found.headers)
        response.headers.update(PAGE_HEADERS)
        return response


def mount_page(app: FastAPI) -> None:
    """Serve the workstation at ``/`` (index ``/index.html``); mount after the API routers."""
    app.mount("/", PageFiles(STATIC_DIR), name="page")
