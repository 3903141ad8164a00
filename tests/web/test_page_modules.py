"""The served page names every ES module it imports in a ``modulepreload`` link, so the browser fetches
them all at once instead of discovering the import graph one level at a time (the navigation benchmark,
``python bench/run.py web``, went from p95 512 ms to about 420 ms when one missing link was added). The
links are written by the server from the modules' imports; the page's files are answered from memory
with their ETag and the page's security headers."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from api.web import PAGE_HEADERS, module_graph

STATIC = Path(__file__).resolve().parents[2] / "api" / "static"


def test_every_module_is_preloaded_once(client: TestClient) -> None:
    html = client.get("/").text
    preloaded = re.findall(r'<link rel="modulepreload" href="js/([\w-]+\.js)">', html)
    entry = re.findall(r'<script type="module" src="js/([\w-]+\.js)"></script>', html)
    modules = {p.name for p in (STATIC / "js").glob("*.js")}
    assert entry == ["main.js"]
    assert sorted(preloaded) == sorted(modules - {"main.js"})
    assert html.index("modulepreload") < html.index('<script type="module"')


def test_the_graph_follows_imports_across_lines_and_folders(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "main.js").write_text(
        'import { a,\n  b } from "./lib/a.js";\nimport "./side.js";\nconst x = "./not-an-import.js";\n'
    )
    (tmp_path / "lib" / "a.js").write_text('export { c } from "../c.js";\nimport { a } from "./a.js";\n')
    (tmp_path / "side.js").write_text("")
    (tmp_path / "c.js").write_text('import { b } from "./lib/a.js";\n')
    assert module_graph(tmp_path, "main.js") == ["main.js", "lib/a.js", "side.js", "c.js"]


def test_page_files_are_revalidated_by_etag_with_the_page_headers(client: TestClient) -> None:
    for path in ("/", "/index.html", "/js/main.js", "/css/app.css", "/favicon.svg"):
        first = client.get(path)
        assert first.status_code == 200 and first.headers["etag"], path
        again = client.get(path, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b"", path
        for response in (first, again):
            assert {k: response.headers[k] for k in PAGE_HEADERS} == PAGE_HEADERS, path
    assert client.get("/").content == client.get("/index.html").content
    assert client.get("/js/no-such-module.js").status_code == 404
    assert client.post("/js/main.js").status_code == 405
