"""Browser fixtures: headless Debian Chromium driven by Playwright against the live server.

Never downloads a browser: the tests skip (with the reason) when ``/usr/bin/chromium`` or the
Playwright package is missing; in CI nothing may skip.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.common import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import LiveServer, TokenFactory

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "web"
VIEWPORT = {"width": 1500, "height": 950}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class PageProblems:
    """Uncaught script errors and Content-Security-Policy violations seen by a page."""

    messages: list[str]


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context and page; fails the test on script errors or CSP violations."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems = PageProblems([])
    page.on("pageerror", lambda error: problems.messages.append(f"uncaught: {error}"))

    def on_console(message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            problems.messages.append(f"console: {message.text}")

    page.on("console", on_console)
    yield page
    context.close()
    assert problems.messages == [], f"{request.node.name}: {problems.messages}"


@dataclass
class Rater:
    """A radiologist with a token, and an HTTP client that acts with it."""

    name: str
    token: str
    api: httpx.Client


@pytest.fixture
def rater(live_server: LiveServer, auth: TokenFactory) -> Iterator[Rater]:
    headers = auth("radiologist", "rad-web")
    token = headers["Authorization"].removeprefix("Bearer ")
    with httpx.Client(base_url=f"{live_server.url}/api/v1", headers=headers, timeout=10) as client:
        yield Rater("rad-web", token, client)


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under tests/artifacts/web/ and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Any, live_server: LiveServer, token: str) -> None:
    """Open the page and sign in with ``token``; returns when the worklist is shown."""
    page.goto(live_server.url + "/")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Worklist").wait_for()
