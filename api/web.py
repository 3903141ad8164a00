"""The radiologist workstation: static HTML, CSS and ES modules served by the app itself.

The page's files are public (they hold no data); every data call the page makes carries the
user's bearer token. The page is sent with a Content-Security-Policy that allows scripts, styles
and connections only from this origin and images only from here or from ``blob:`` object URLs
(the slice PNGs are fetched with the token and shown through object URLs).

A first load fetches the page, its style sheet and one script: the page's ES modules are kept as
separate files (one home per concern) and served as one bundle, ``js/main.bundle.js``, written here
from ``js/main.js`` and the modules it imports when the files are read (:func:`bundle_modules`). One
module instead of eighteen saves the browser a fetch, a compilation and an instantiation per module
before the page's code runs (see ``docs/workstation.md#throughput`` for the measurement). The
files are read once, when the app is built, and answered from memory: reading each from disk
through worker threads cost more than the rest of the request on a loaded server. Each answer
has an ``ETag`` to revalidate against (``no-cache``); a changed file is served once the app is
built again.
"""

from __future__ import annotations

import hashlib
import json
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
_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")
_NAMED_IMPORT = re.compile(r'^import\s*\{([\w$,\s]*)\}\s*from\s*"(\.{1,2}/[^"]+)";?[ \t]*$', re.MULTILINE)
"""``import { a, b } from "./x.js";``: the one form of import the page's modules use (no renaming)."""
_EXPORTED_DECLARATION = re.compile(
    rf"^export\s+((?:async\s+)?function\*?|const|let|class)\s+({_IDENTIFIER.pattern})", re.MULTILINE
)
_MODULE_SYNTAX = re.compile(r"^[ \t]*(?:import|export)\b(?![ \t]*[(.])", re.MULTILINE)
"""Any other import or export (``import(…)`` and ``import.meta`` are expressions, not module syntax)."""
BUNDLE_SUFFIX = ".bundle.js"
"""The bundle of the module ``js/main.js`` is served as ``js/main.bundle.js``."""


def _resolve(module: str, specifier: str) -> str:
    return posixpath.normpath(posixpath.join(posixpath.dirname(module), specifier))


def bundle_order(directory: Path, entry: str) -> list[str]:
    """``entry`` (a path relative to ``directory``) and every module it imports, directly or not, each after
    the modules it imports; :class:`ValueError` on an import cycle."""
    return list(_sources_in_order(directory, entry))


def _sources_in_order(directory: Path, entry: str) -> dict[str, str]:
    """:func:`bundle_order`'s modules with their source text, each file read once."""
    sources: dict[str, str] = {}
    visiting: list[str] = []

    def visit(module: str) -> None:
        if module in visiting:
            raise ValueError(f"{module}: import cycle {' -> '.join([*visiting, module])}")
        if module in sources:
            return
        visiting.append(module)
        source = (directory / module).read_text(encoding="utf-8")
        for _names, specifier in _NAMED_IMPORT.findall(source):
            visit(_resolve(module, specifier))
        visiting.pop()
        sources[module] = source

    visit(entry)
    return sources


def bundle_modules(directory: Path, entry: str) -> str:
    """``entry`` and every module it imports as one ES module: each module's code in a function of its own
    (its top-level names stay its own), run once, after the modules it imports; ``import { a, b } from
    "./x.js"`` becomes ``const { a, b }`` of what ``x.js`` exports.

    The page's modules keep to what this supports, checked here (:class:`ValueError` naming the module,
    and the line where there is one): named imports without renaming, exports only as ``export
    function|class|const`` declarations (an exported ``let`` would be imported as a copy), no cycle.
    """
    parts = ["const modules = new Map();"]
    for module, source in _sources_in_order(directory, entry).items():

        def imported(match: re.Match[str], module: str = module, source: str = source) -> str:
            names = [name.strip() for name in match.group(1).split(",") if name.strip()]
            if not all(_IDENTIFIER.fullmatch(name) for name in names):
                line = source.count("\n", 0, match.start()) + 1
                raise ValueError(f"{module} line {line}: an import is bundled only under its exported name")
            specifier = json.dumps(_resolve(module, match.group(2)))
            return f"const {{ {', '.join(names)} }} = modules.get({specifier});"

        body = _NAMED_IMPORT.sub(imported, source)
        exports = _EXPORTED_DECLARATION.findall(body)
        for kind, name in exports:
            if kind == "let":
                raise ValueError(f"{module}: `export let {name}` would be imported as a copy; export a const")
        body = _EXPORTED_DECLARATION.sub(r"\1 \2", body)
        other = _MODULE_SYNTAX.search(body)
        if other is not None:
            line = body.count("\n", 0, other.start()) + 1
            raise ValueError(f"{module} line {line}: only `import {{ … }} from` and exported declarations are bundled")
        names = ", ".join(name for _kind, name in exports)
        key = json.dumps(module)
        parts.append(f"// {module}\nmodules.set({key}, (() => {{\n{body.rstrip()}\nreturn {{ {names} }};\n}})());")
    return "\n".join(parts) + "\n"


def with_bundles(directory: Path, html: str) -> tuple[str, dict[str, str]]:
    """The page ``html`` with each module script loading the bundle of its module instead, and the bundles
    by the path they are served at."""
    bundles: dict[str, str] = {}

    def bundled(script: re.Match[str]) -> str:
        indent, entry = script.group(1), script.group(2)
        path = entry.removesuffix(".js") + BUNDLE_SUFFIX
        bundles[path] = bundle_modules(directory, entry)
        return f'{indent}<script type="module" src="{path}"></script>'

    return _MODULE_SCRIPT.sub(bundled, html), bundles


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
    """Every file below ``directory`` by its path relative to it (``.`` too for ``index.html``): the page
    loading the bundle of its modules, and the bundle (:func:`with_bundles`)."""
    files: dict[str, PageFile] = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        name = path.relative_to(directory).as_posix()
        body = path.read_bytes()
        if name == "index.html":
            html, bundles = with_bundles(directory, body.decode("utf-8"))
            body = html.encode("utf-8")
            files.update((bundle, PageFile.of(bundle, code.encode("utf-8"))) for bundle, code in bundles.items())
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
