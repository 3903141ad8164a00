"""The sagittal T1/T2 viewer in a real browser, on the synthetic 0.2 T sample studies of
``sample_dicom/`` loaded by the imaging service and served by the real slice endpoint."""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import expect
from sqlmodel import select

from registry.db import session_scope
from registry.models import Patient
from registry.settings import Settings
from tests.api.helpers import assign_every_study
from tests.conftest import LiveServer, TokenFactory
from tests.web.conftest import Rater, screenshot, sign_in

SLICE_ROUTE = re.compile(r"^/api/v1/series/\{[^}]+\}/slices/\{[^}]+\}\.png$")


def load_sample_studies(app: FastAPI, settings: Settings) -> None:
    """Ingest ``sample_dicom/`` as ``modic serve --demo`` does; skip when imaging is not built in."""
    if not any(SLICE_ROUTE.match(path) for path in app.openapi()["paths"]):
        pytest.skip("the slice endpoint GET /api/v1/series/{id}/slices/{n}.png is not part of this build")
    imaging = importlib.import_module("registry.services.sample_studies")
    store = importlib.import_module("registry.imaging.store").FileStore(settings.data_dir)
    with session_scope(app.state.engine, write=True) as session:
        lines = imaging.ingest_sample_studies(session, store)
    assert lines and not any("rejected" in line or "no sample" in line for line in lines), lines
    assign_every_study(app.state.engine)


@pytest.fixture
def sample_study(app: FastAPI, settings: Settings, rater: Rater) -> dict[str, Any]:
    """A sample study with sagittal T1, T2 and STIR."""
    load_sample_studies(app, settings)
    studies = rater.api.get("/studies", params={"graded_by_me": "false"}).json()["items"]
    for study in studies:
        has_stir = any(s["weighting"] == "STIR" and s["plane"] == "sagittal" for s in study["series"])
        if study["grading_series"]["t1"] and study["grading_series"]["t2"] and has_stir:
            return dict(study)
    raise AssertionError(f"no sample study has sagittal T1, T2 and STIR: {studies}")


def slices_of(study: dict[str, Any], key: str) -> int:
    return int(next(s["slices"] for s in study["series"] if s["id"] == study["grading_series"][key]))


def expect_slice(page: Any, pane: str, index: int, total: int) -> None:
    """Pane ``pane`` shows slice ``index`` (0-based), decoded, with the position ``index+1 / total``."""
    image = page.locator(f"#pane-{pane} img.slice")
    expect(page.locator(f"#pane-{pane}")).to_have_attribute("data-state", "ready")
    expect(image).to_have_attribute("data-slice", str(index))
    expect(page.get_by_label(f"{pane.upper()} slice position")).to_have_text(f"{index + 1} / {total}")
    assert image.evaluate("img => img.complete && img.naturalWidth > 0 && img.naturalHeight > 0")


def test_both_images_render_and_scroll_together(
    page: Any, live_server: LiveServer, rater: Rater, sample_study: dict[str, Any]
) -> None:
    n1, n2 = slices_of(sample_study, "t1"), slices_of(sample_study, "t2")
    assert n1 == n2 > 2, "the sample studies have T1 and T2 stacks of the same length"
    sign_in(page, live_server, rater.token)
    page.get_by_role("link", name=f"Open study of {sample_study['patient']['pseudonym']}").first.click()
    middle = (n1 - 1) // 2
    expect_slice(page, "t1", middle, n1)
    expect_slice(page, "t2", middle, n2)
    assert page.locator("#pane-t1 img.slice").get_attribute("src").startswith("blob:")
    screenshot(page, "viewer-middle-slice")

    page.locator("#pane-t1 .stage").hover()
    page.mouse.wheel(0, 120)
    expect_slice(page, "t1", middle + 1, n1)
    expect_slice(page, "t2", middle + 1, n2)

    page.get_by_label("Sagittal T2 image").focus()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    expect_slice(page, "t1", middle - 1, n1)
    expect_slice(page, "t2", middle - 1, n2)

    page.get_by_label("L1_sup type").focus()
    page.keyboard.press("PageDown")
    expect_slice(page, "t1", middle, n1)
    expect(page.get_by_label("L1_sup type")).to_be_focused()
    screenshot(page, "viewer-scrolled")


def test_window_zoom_pan_and_stir(
    page: Any, live_server: LiveServer, rater: Rater, sample_study: dict[str, Any]
) -> None:
    sign_in(page, live_server, rater.token)
    page.get_by_role("link", name=f"Open study of {sample_study['patient']['pseudonym']}").first.click()
    expect(page.locator("#pane-t1")).to_have_attribute("data-state", "ready")

    box = page.locator("#pane-t1 .stage").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 120, y + 40, steps=5)
    page.mouse.up()
    # previewed in the browser, then rendered by the server at the series' window units
    expect(page.locator("#pane-t1 .wl")).to_have_text(re.compile(r"^W \d+ L -?\d+$"))
    expect(page.locator("#pane-t1 img.slice")).to_have_attribute("data-window", re.compile(r"^-?[\d.]+/[\d.]+$"))
    expect(page.get_by_label("Window preset")).to_have_value("custom")
    expect(page.locator("#pane-t2 .wl")).to_have_text("default window")
    expect(page.locator("#pane-t2 img.slice")).to_have_attribute("data-window", "default")

    page.get_by_role("button", name="Zoom in").click()
    page.get_by_role("button", name="Zoom in").click()
    expect(page.get_by_label("Zoom level")).to_have_text("156%")
    page.keyboard.down("Shift")
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y + 30, steps=3)
    page.mouse.up()
    page.keyboard.up("Shift")
    transform = page.locator("#pane-t2 img.slice").evaluate("img => img.style.transform")
    assert transform == "translate(60px, 30px) scale(1.5625)"

    page.get_by_role("button", name="Smooth noise").click()
    expect(page.get_by_role("button", name="Smooth noise")).to_have_attribute("aria-pressed", "true")
    assert page.locator("#pane-t2 img.slice").evaluate("img => img.style.filter") == 'url("#wl-filter-t2")'
    t2 = next(s for s in sample_study["series"] if s["id"] == sample_study["grading_series"]["t2"])
    window = rater.api.get(f"/series/{t2['id']}").json()["window"]
    page.get_by_label("Window preset").select_option("soft")
    soft = f"{round(window['center'], 2):g}/{round(window['width'] * 1.5, 2):g}"
    expect(page.locator("#pane-t2 img.slice")).to_have_attribute("data-window", soft)
    page.get_by_role("button", name="Show STIR instead of T2").click()
    expect(page.locator("#pane-t2 .pane-title")).to_have_text("STIR")
    expect(page.locator("#pane-t2")).to_have_attribute("data-state", "ready")
    screenshot(page, "viewer-stir-zoomed")
    page.get_by_role("button", name="Reset zoom, pan and window").click()
    expect(page.get_by_label("Zoom level")).to_have_text("100%")
    expect(page.locator("#pane-t1 img.slice")).to_have_attribute("data-window", "default")
    page.get_by_role("button", name="Show T2 again").click()
    expect(page.locator("#pane-t2 .pane-title")).to_have_text("T2")


def test_a_blinded_read_shows_both_images_and_no_identifier(
    page: Any, app: FastAPI, live_server: LiveServer, rater: Rater, sample_study: dict[str, Any], auth: TokenFactory
) -> None:
    studies = rater.api.get("/studies").json()["items"]
    cases = [s for s in studies if s["grading_series"]["t1"] and s["grading_series"]["t2"]][:2]
    auth("radiologist", "rad-other")
    researcher = auth("researcher", "res")
    body = {"name": "Sample reads", "study_ids": [s["id"] for s in cases], "raters": ["rad-web", "rad-other"]}
    created = rater.api.post("/reliability-studies", json=body, headers=researcher)
    assert created.status_code == 201, created.text
    with session_scope(app.state.engine) as session:
        patients = session.exec(select(Patient)).all()
        identifiers = [p.hospital_id for p in patients] + [p.pseudonym for p in patients]
    identifiers += [value for s in cases for value in (s["id"], s["study_instance_uid"], str(s["study_date"]))]

    sign_in(page, live_server, rater.token)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.get_by_role("table", name="My reliability-study reads").get_by_role("link").first.click()
    expect(page.locator("#grading")).to_have_attribute("data-mode", "read")
    expect(page.locator("#pane-t1")).to_have_attribute("data-state", "ready")
    expect(page.locator("#pane-t2")).to_have_attribute("data-state", "ready")
    page.get_by_role("button", name="Show STIR instead of T2").click()
    expect(page.locator("#pane-t2 .pane-title")).to_have_text("STIR")
    expect(page.locator("#pane-t2")).to_have_attribute("data-state", "ready")
    # the images come through the case only: no registry series or study is asked for
    slice_requests = [u for u in requests if u.endswith(".png")]
    assert slice_requests and all("/worklist/" in u and "/images/" in u for u in slice_requests)
    assert not [u for u in requests if "/api/v1/series/" in u or "/api/v1/studies" in u]
    for where in (page.content(), page.title(), page.evaluate("location.href")):
        assert [i for i in identifiers if i in where] == []
    screenshot(page, "reliability-read-images")
    # the read records that STIR was looked at beside T2 (GRRAS: the series viewed per read)
    page.get_by_label("L1_sup type").focus()
    for _ in range(11):
        page.keyboard.press("0")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Reliability reads are final")).to_be_visible()
    reads = rater.api.get(f"/reliability-studies/{created.json()['id']}/reads.csv", headers=researcher)
    assert reads.status_code == 200 and {row.split(",")[-2] for row in reads.text.splitlines()[1:]} == {"T2+STIR"}
