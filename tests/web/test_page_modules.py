"""The page's ES modules are served as one bundle (``js/main.bundle.js``, written by ``api.web`` from
``js/main.js`` and the modules it imports), so a first load fetches, compiles and instantiates one module
instead of eighteen (``docs/workstation.md#throughput``: the median time to both first images of
``python bench/run.py web`` was 335 ms with the bundle and 394 ms with the modules loaded one by one, six
alternating runs each). Every module of ``js/`` is in it, and it runs as the modules do; the modules stay
files of their own. The page's files are answered from memory with their ETag and the page's security
headers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.web import PAGE_HEADERS, bundle_modules, bundle_order

STATIC = Path(__file__).resolve().parents[2] / "api" / "static"


def test_the_page_loads_one_bundle_of_every_module(client: TestClient) -> None:
    html = client.get("/").text
    assert re.findall(r'<script type="module" src="([\w/.-]+)"></script>', html) == ["js/main.bundle.js"]
    bundle = client.get("/js/main.bundle.js")
    assert bundle.status_code == 200 and bundle.headers["content-type"].startswith("text/javascript")
    bundled = re.findall(r'^modules\.set\("js/([\w-]+\.js)"', bundle.text, re.MULTILINE)
    assert sorted(bundled) == sorted(p.name for p in (STATIC / "js").glob("*.js"))
    assert bundled[-1] == "main.js"  # the entry runs last, after everything it imports
    assert not re.search(r"^\s*(import|export)\b", bundle.text, re.MULTILINE)


def _modules(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_modules_come_after_what_they_import_across_lines_and_folders(tmp_path: Path) -> None:
    _modules(
        tmp_path,
        {
            "main.js": 'import { a,\n  b } from "./lib/a.js";\nimport { c } from "./c.js";\nconst x = "./no.js";\n',
            "lib/a.js": 'import { c } from "../c.js";\nexport const a = c + 1;\nexport function b() {}\n',
            "c.js": "export const c = 1;\n",
        },
    )
    assert bundle_order(tmp_path, "main.js") == ["c.js", "lib/a.js", "main.js"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"main.js": 'import { a } from "./a.js";\n', "a.js": 'import { b } from "./main.js";\n'}, "import cycle"),
        ({"main.js": 'import { a as b } from "./a.js";\n', "a.js": "export const a = 1;\n"}, "main.js line 1"),
        ({"main.js": 'import "./a.js";\n', "a.js": ""}, "main.js line 1"),
        ({"main.js": "const a = 1;\nexport { a };\n"}, "main.js line 2"),
        ({"main.js": "export default 1;\n"}, "main.js line 1"),
        ({"main.js": "export let a = 1;\n"}, "export let a"),
    ],
)
def test_what_the_bundle_cannot_keep_is_refused_naming_the_module(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    _modules(tmp_path, files)
    with pytest.raises(ValueError, match=message):
        bundle_modules(tmp_path, "main.js")


def test_the_bundle_runs_as_the_modules_do(tmp_path: Path, browser: Any) -> None:
    """Each module's names stay its own (two modules declare ``dot``), imports see the exporter's values,
    and each module runs once, after what it imports."""
    _modules(
        tmp_path,
        {
            "main.js": 'import { dot, runs } from "./a.js";\nimport { twice } from "./b.js";\n'
            "const local = 'main';\nrecord([dot(), twice(), local, runs.length]);\n",
            "a.js": "export const runs = [];\nruns.push('a');\nexport function dot() { return 'a.dot'; }\n",
            "b.js": "import { runs } from \"./a.js\";\nruns.push('b');\nconst dot = () => 'b.dot';\n"
            "export const twice = () => dot() + '+' + dot();\n",
        },
    )
    page = browser.new_page()
    try:
        page.evaluate("() => { window.results = []; window.record = (value) => window.results.push(value); }")
        page.add_script_tag(content=bundle_modules(tmp_path, "main.js"), type="module")
        page.wait_for_function("window.results.length > 0")
        assert page.evaluate("window.results") == [["a.dot", "b.dot+b.dot", "main", 2]]
    finally:
        page.close()


def test_page_files_are_revalidated_by_etag_with_the_page_headers(client: TestClient) -> None:
    for path in ("/", "/index.html", "/js/main.bundle.js", "/js/main.js", "/css/app.css", "/favicon.svg"):
        first = client.get(path)
        assert first.status_code == 200 and first.headers["etag"], path
        again = client.get(path, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b"", path
        for response in (first, again):
            assert {k: response.headers[k] for k in PAGE_HEADERS} == PAGE_HEADERS, path
    assert client.get("/").content == client.get("/index.html").content
    assert client.get("/js/no-such-module.js").status_code == 404
    assert client.post("/js/main.js").status_code == 405
