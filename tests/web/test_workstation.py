"""The workstation for many studies a day, in a real browser: the linked T1/T2 cursor on a phantom
whose T1 and T2 differ in matrix and position, level labels stored with the grading and tied to the
form, the height-fraction tool on a lesion of known depth, and "submit and open next" from the
keyboard. Ground truth comes from ``sample_dicom/generate.py`` (``generate_offset_pair``)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import expect

from grading.endplates import ENDPLATES
from registry.db import session_scope
from registry.settings import Settings
from tests.api.helpers import assign_every_study
from tests.conftest import LiveServer
from tests.imaging_support import SAMPLE_STUDIES, ground_truth
from tests.web.conftest import ARTIFACTS, Rater, screenshot, sign_in
from tests.web.test_viewer import load_sample_studies

GENERATOR = Path(__file__).resolve().parents[2] / "sample_dicom" / "generate.py"


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("modic_sample_generate", GENERATOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def offset_phantom() -> tuple[Path, dict[str, Any]]:
    """The offset T1/T2 phantom and its ground truth, generated once per generator version (it takes
    a few seconds) into tests/artifacts/, shared by parallel workers through an atomic rename."""
    key = hashlib.sha256(GENERATOR.read_bytes()).hexdigest()[:16]
    folder = ARTIFACTS.parent / "phantom" / key
    truth_file = folder / "modic-offset" / "ground_truth.json"
    if not truth_file.is_file():
        scratch = ARTIFACTS.parent / "phantom" / f"{key}.{os.getpid()}"
        shutil.rmtree(scratch, ignore_errors=True)
        _generator().generate_offset_pair(scratch)
        try:
            scratch.rename(folder)
        except OSError:  # another worker was first
            shutil.rmtree(scratch, ignore_errors=True)
    return folder, json.loads(truth_file.read_text())


@pytest.fixture
def offset_study(
    app: FastAPI, settings: Settings, rater: Rater, offset_phantom: tuple[Path, dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The offset phantom ingested; the study as the API gives it, and the ground truth."""
    folder, truth = offset_phantom
    imaging = importlib.import_module("registry.services.sample_studies")
    store = importlib.import_module("registry.imaging.store").FileStore(settings.data_dir)
    with session_scope(app.state.engine, write=True) as session:
        lines = imaging.ingest_sample_studies(session, store, folder=folder)
    assert lines and not any("rejected" in line for line in lines), lines
    assign_every_study(app.state.engine)
    (study,) = rater.api.get("/studies").json()["items"]
    return study, truth


def open_by_url(page: Any, live_server: LiveServer, rater: Rater, study_id: str) -> None:
    sign_in(page, live_server, rater.token)
    page.goto(f"{live_server.url}/#/study/{study_id}")
    wait_for_images(page)


def wait_for_images(page: Any) -> None:
    """Both panes decoded, with the series geometry known (the position in mm is shown)."""
    for pane in ("t1", "t2"):
        expect(page.locator(f"#pane-{pane}")).to_have_attribute("data-state", "ready")
        expect(page.locator(f"#pane-{pane} .slice-mm")).to_contain_text("mm")


def layout(page: Any, pane: str) -> dict[str, float]:
    """Where the pane's image is drawn: stage box and the scale of object-fit contain (zoom 100 %)."""
    box = page.locator(f"#pane-{pane} .stage").bounding_box()
    size = page.locator(f"#pane-{pane} img.slice").evaluate("img => [img.naturalWidth, img.naturalHeight]")
    scale = min(box["width"] / size[0], box["height"] / size[1])
    return {
        "left": box["x"] + (box["width"] - size[0] * scale) / 2,
        "top": box["y"] + (box["height"] - size[1] * scale) / 2,
        "scale": scale,
    }


def page_point(page: Any, pane: str, x: float, y: float) -> tuple[float, float]:
    """Page coordinates of the centre of display pixel (x, y) of a pane's image."""
    at = layout(page, pane)
    return at["left"] + (x + 0.5) * at["scale"], at["top"] + (y + 0.5) * at["scale"]


def image_point(page: Any, pane: str, px: float, py: float) -> tuple[float, float]:
    """Display pixel of page coordinates on a pane (the inverse of page_point)."""
    at = layout(page, pane)
    return (px - at["left"]) / at["scale"] - 0.5, (py - at["top"]) / at["scale"] - 0.5


def click_truth(page: Any, where: dict[str, Any], pane: str = "t1") -> None:
    """Click the ground-truth point ``where`` on ``pane`` (its slice must be shown)."""
    expect(page.locator(f"#pane-{pane} img.slice")).to_have_attribute("data-slice", str(where[pane]["slice"]))
    page.mouse.click(*page_point(page, pane, where[pane]["x"], where[pane]["y"]))


def test_the_crosshair_lands_on_the_same_point_of_the_other_series(
    page: Any, live_server: LiveServer, rater: Rater, offset_study: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    study, truth = offset_study
    t1 = next(s for s in study["series"] if s["id"] == study["grading_series"]["t1"])
    t2 = next(s for s in study["series"] if s["id"] == study["grading_series"]["t2"])
    assert (t1["slices"], t2["slices"]) == (7, 7)
    open_by_url(page, live_server, rater, study["id"])
    sizes = [page.locator(f"#pane-{p} img.slice").evaluate("img => img.naturalWidth") for p in ("t1", "t2")]
    assert sizes == [192, 224], "the phantom's T1 and T2 differ in matrix"
    # the slices follow by position: T1 x = 0 mm and T2 x = +1.6 mm are the nearest
    expect(page.locator("#pane-t2 img.slice")).to_have_attribute("data-slice", "3")
    expect(page.get_by_label("T1 slice position")).to_have_text("4 / 7")
    expect(page.get_by_label("T1 slice location in mm")).to_have_text("0.0 mm")
    expect(page.get_by_label("T2 slice location in mm")).to_have_text("L 1.6 mm")

    points = [truth["levels"]["L2"], truth["levels"]["S1"], truth["lesion"]["depth_point"]]
    for source, target in (("t1", "t2"), ("t2", "t1")):
        for where in points:
            page.mouse.move(*page_point(page, source, where[source]["x"], where[source]["y"]))
            crosshair = page.locator(f"#pane-{target} .crosshair")
            expect(crosshair).to_have_count(1)
            expect(page.locator(f"#pane-{target} img.slice")).to_have_attribute(
                "data-slice", str(where[target]["slice"])
            )
            # where the page says, and where it is drawn, within one pixel of the generator's truth
            x, y = float(crosshair.get_attribute("data-x")), float(crosshair.get_attribute("data-y"))
            assert abs(x - where[target]["x"]) <= 1 and abs(y - where[target]["y"]) <= 1, (source, where, x, y)
            centre = page.locator(f"#pane-{target} .crosshair-centre").bounding_box()
            drawn = image_point(page, target, centre["x"] + centre["width"] / 2, centre["y"] + centre["height"] / 2)
            assert abs(drawn[0] - where[target]["x"]) <= 1 and abs(drawn[1] - where[target]["y"]) <= 1, drawn
    # a point off the other series' slices moves it to its nearest slice: T1 slice 6 (x = -14.4 mm)
    page.get_by_label("Sagittal T1 image").focus()
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    expect(page.locator("#pane-t1 img.slice")).to_have_attribute("data-slice", "6")
    expect(page.locator("#pane-t2 img.slice")).to_have_attribute("data-slice", "6")  # x = -10.4 mm
    page.mouse.move(*page_point(page, "t1", 96, 96))
    expect(page.locator("#pane-t2 .crosshair")).to_have_count(1)
    for pane in ("t1", "t2"):  # anterior left, posterior right, head up, feet down
        sides = ("left", "right", "top", "bottom")
        assert [page.locator(f"#pane-{pane} .marker-{side}").text_content() for side in sides] == list("APHF")
    assert page.locator("#pane-t1 .scale-label").text_content().endswith(" mm")
    screenshot(page, "workstation-crosshair")


def grade_none_except(page: Any, keys: dict[str, str]) -> int:
    """Type a grading into the rows from the focused first row; the number of keys pressed."""
    expect(page.get_by_label("L1_sup type")).to_be_focused()
    count = 0
    for endplate in ENDPLATES:
        for key in keys.get(endplate.value, "0"):
            page.keyboard.press(key)
            count += 1
    return count


def test_level_labels_are_stored_reloaded_and_tie_the_form_to_the_image(
    page: Any, live_server: LiveServer, rater: Rater, offset_study: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    study, truth = offset_study
    open_by_url(page, live_server, rater, study["id"])
    page.keyboard.press("Alt+L")
    expect(page.get_by_role("button", name="Label levels")).to_have_attribute("aria-pressed", "true")
    for level in ("L1", "L2", "L3", "L4", "L5", "S1"):
        expect(page.locator("#tool-status")).to_contain_text(f"centre of the {level} body")
        click_truth(page, truth["levels"][level])
    expect(page.locator("#tool-status")).to_contain_text("L1 to S1 placed")
    expect(page.locator("#pane-t2 .level-label")).to_have_count(6)
    page.get_by_label("L1_sup type").focus()
    grade_none_except(page, {"L4_inf": "1c"})
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("status").filter(has_text="Saved: your grading, version 1")).to_be_visible()

    (grading,) = rater.api.get(f"/studies/{study['id']}/gradings").json()["items"]
    assert list(grading["levels"]) == ["L1", "L2", "L3", "L4", "L5", "S1"]
    for level, point in grading["levels"].items():
        expected = truth["levels"][level]["point"]
        assert max(abs(a - b) for a, b in zip(point, expected, strict=True)) < 1.6, (level, point, expected)

    page.reload()
    wait_for_images(page)
    for pane in ("t1", "t2"):
        expect(page.locator(f"#pane-{pane} .level-label")).to_have_count(6)
        expect(page.locator(f"#pane-{pane} .level-label[data-level='L4']")).to_be_visible()
    page.get_by_label("L4_inf type").focus()
    for pane in ("t1", "t2"):
        highlight = page.locator(f"#pane-{pane} .endplate-focus")
        expect(highlight).to_have_attribute("data-endplate", "L4_inf")
        x, y = float(highlight.get_attribute("data-x")), float(highlight.get_attribute("data-y"))
        endplate = truth["lesion"]["endplate_point"][pane]
        # the estimated endplate is within 2.5 mm (2 pixels) of the phantom's L4 inferior endplate
        assert abs(x - endplate["x"]) < 2 and abs(y - endplate["y"]) < 2, (pane, x, y, endplate)
    screenshot(page, "workstation-levels")

    # a click on an endplate on the image focuses its row
    l2_sup = page.locator("#pane-t2 .endplate[data-endplate='L2_sup']")
    page.mouse.click(
        *page_point(page, "t2", float(l2_sup.get_attribute("data-x")), float(l2_sup.get_attribute("data-y")))
    )
    expect(page.get_by_label("L2_sup type")).to_be_focused()
    expect(page.locator("#pane-t1 .endplate-focus")).to_have_attribute("data-endplate", "L2_sup")


def test_the_height_fraction_tool_measures_the_phantom_lesion(
    page: Any, live_server: LiveServer, rater: Rater, offset_study: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    study, truth = offset_study
    lesion = truth["lesion"]
    open_by_url(page, live_server, rater, study["id"])
    page.get_by_label("L4_inf type").focus()
    page.keyboard.press("1")
    page.keyboard.press("Alt+M")
    expect(page.locator("#tool-status")).to_contain_text("Height % of L4_inf")
    for key in ("endplate_point", "opposite_point", "depth_point"):
        click_truth(page, lesion[key], "t2")
    measured = float(page.get_by_label("L4_inf extension %").input_value())
    assert abs(measured - lesion["extension_pct"]) <= 5, measured
    expect(page.get_by_label("L4_inf size")).to_have_value("C")
    expect(page.locator("#pane-t1 .measurement[data-endplate='L4_inf']")).to_have_count(1)
    screenshot(page, "workstation-height-fraction")
    for endplate in ENDPLATES:
        if endplate.value != "L4_inf":
            page.get_by_label(f"{endplate.value} type").select_option("none")
    page.get_by_label("S1_sup type").focus()
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("status").filter(has_text="Saved: your grading, version 1")).to_be_visible()
    (grading,) = rater.api.get(f"/studies/{study['id']}/gradings").json()["items"]
    (measurement,) = grading["measurements"]
    assert measurement["endplate"] == "L4_inf" and abs(measurement["extension_pct"] - 40.0) <= 5
    assert grading["endplates"]["L4_inf"] == {"type": "I", "size": "C", "extension_pct": measured}


def sample_keys(study_dir: Path) -> dict[str, str]:
    """The keys that enter a sample study's ground truth: type key (1-7), then the size letter."""
    type_keys = {"I": "1", "II": "2", "III": "3", "I/II": "4", "I/III": "5", "II/III": "6", "I/II/III": "7"}
    keys = {}
    for endplate, value in ground_truth(study_dir)["endplates"].items():
        if value["type"] != "none":
            keys[endplate] = type_keys[value["type"]] + value["size"].lower()
    return keys


def truth_by_uid() -> dict[str, Path]:
    return {ground_truth(d)["study_instance_uid"]: d for d in SAMPLE_STUDIES}


def test_submit_and_open_next_grades_three_studies_in_a_row_without_the_mouse(
    page: Any, app: FastAPI, settings: Settings, live_server: LiveServer, rater: Rater
) -> None:
    load_sample_studies(app, settings)
    studies = rater.api.get("/studies", params={"graded_by_me": "false"}).json()["items"]
    assert len(studies) >= 4
    folders = truth_by_uid()
    sign_in(page, live_server, rater.token)
    page.goto(f"{live_server.url}/#/study/{studies[0]['id']}")
    for study in studies[:3]:
        expect(page.get_by_role("heading", name=f"Patient {study['patient']['pseudonym']}")).to_be_visible()
        wait_for_images(page)
        grade_none_except(page, sample_keys(folders[study["study_instance_uid"]]))
        page.keyboard.press("Control+Shift+Enter")
    fourth = studies[3]
    expect(page.get_by_role("heading", name=f"Patient {fourth['patient']['pseudonym']}")).to_be_visible()
    wait_for_images(page)
    expect(page.get_by_label("L1_sup type")).to_be_focused()
    for study in studies[:3]:
        (grading,) = rater.api.get(f"/studies/{study['id']}/gradings").json()["items"]
        truth = ground_truth(folders[study["study_instance_uid"]])["endplates"]
        assert {e: (v["type"], v["size"]) for e, v in grading["endplates"].items()} == {
            e: (v["type"], v.get("size")) for e, v in truth.items()
        }
    awaiting = rater.api.get("/studies", params={"graded_by_me": "false"}).json()["items"]
    assert [s["id"] for s in awaiting] == [s["id"] for s in studies[3:]]


def open_first_awaiting(
    page: Any, app: FastAPI, settings: Settings, live_server: LiveServer, rater: Rater
) -> list[dict[str, Any]]:
    """Load the sample studies, open the first one awaiting the rater's grading with its images shown,
    and return the studies awaiting, in worklist order."""
    load_sample_studies(app, settings)
    awaiting: list[dict[str, Any]] = rater.api.get("/studies", params={"graded_by_me": "false"}).json()["items"]
    sign_in(page, live_server, rater.token)
    page.goto(f"{live_server.url}/#/study/{awaiting[0]['id']}")
    wait_for_images(page)
    return awaiting


def test_keyboard_only_from_one_study_opening_to_the_next(
    page: Any, app: FastAPI, settings: Settings, live_server: LiveServer, rater: Rater
) -> None:
    first, second = open_first_awaiting(page, app, settings, live_server, rater)[:2]
    keys = grade_none_except(page, sample_keys(truth_by_uid()[first["study_instance_uid"]]))
    page.keyboard.press("Control+Shift+Enter")
    keys += 1
    expect(page.get_by_role("heading", name=f"Patient {second['patient']['pseudonym']}")).to_be_visible()
    wait_for_images(page)
    expect(page.get_by_label("L1_sup type")).to_be_focused()
    print(f"keyboard-only: {keys} key presses from opening one study to opening the next")
    assert keys <= 11 + 2 * 3 + 1  # one key per row, one more per change (at most 3 per sample study), submit


def test_a_fixed_refusal_clears_its_message_and_a_missing_reason_is_said_plainly(
    page: Any, app: FastAPI, settings: Settings, live_server: LiveServer, rater: Rater
) -> None:
    study = open_first_awaiting(page, app, settings, live_server, rater)[0]
    grade_none_except(page, {"L4_inf": "1d"})
    page.get_by_label("L4_inf extension %").fill("40")  # 40 % is size C, not D
    page.keyboard.press("Control+Enter")
    expect(page.locator("#form-message")).to_have_text("Not saved: 1 problem, shown on the rows.")
    page.get_by_label("L4_inf size").focus()
    page.keyboard.press("c")
    expect(page.locator("#form-message")).to_be_hidden()
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("status").filter(has_text="Saved: your grading, version 1")).to_be_visible()

    page.get_by_label("L4_inf extension %").fill("30")
    page.get_by_role("button", name="Amend grading (version 1 → 2)").click()
    expect(page.locator("#form-message")).to_have_text("Not saved: the reason for the amendment is missing.")
    expect(page.locator("#reason-error")).to_have_text("Give the reason for this amendment: why the grading changes.")
    expect(page.get_by_label("Reason for the amendment")).to_be_focused()
    screenshot(page, "workstation-missing-reason")
    page.keyboard.type("re-read")
    page.keyboard.press("Control+Shift+Enter")  # amend and open next
    expect(page.get_by_role("heading", name=f"Patient {study['patient']['pseudonym']}")).to_be_hidden()
    assert rater.api.get(f"/studies/{study['id']}/gradings").json()["items"][0]["version"] == 2


def test_zoom_window_and_smoothing_stay_from_one_study_to_the_next(
    page: Any, app: FastAPI, settings: Settings, live_server: LiveServer, rater: Rater
) -> None:
    second = open_first_awaiting(page, app, settings, live_server, rater)[1]
    page.get_by_role("button", name="Zoom in").click()
    page.get_by_role("button", name="Zoom in").click()
    page.get_by_label("Window preset").select_option("contrast")
    page.get_by_role("button", name="Smooth noise").click()
    page.goto(f"{live_server.url}/#/study/{second['id']}")
    expect(page.get_by_role("heading", name=f"Patient {second['patient']['pseudonym']}")).to_be_visible()
    wait_for_images(page)
    for _ in range(2):  # the next study, then the page loaded afresh
        expect(page.get_by_label("Zoom level")).to_have_text("156%")
        expect(page.get_by_label("Window preset")).to_have_value("contrast")
        expect(page.get_by_role("button", name="Smooth noise")).to_have_attribute("aria-pressed", "true")
        assert page.locator("#pane-t1 img.slice").evaluate("img => img.style.transform").endswith("scale(1.5625)")
        expect(page.locator("#pane-t1 img.slice")).not_to_have_attribute("data-window", "default")
        page.reload()
        wait_for_images(page)


def test_the_prior_graded_study_is_shown_read_only(
    page: Any, app: FastAPI, settings: Settings, live_server: LiveServer, rater: Rater
) -> None:
    load_sample_studies(app, settings)
    current = rater.api.get("/studies").json()["items"][0]
    truth_dir = truth_by_uid()[current["study_instance_uid"]]
    earlier = rater.api.post(
        "/studies",
        json={
            "study_instance_uid": "1.2.826.0.1.3680043.8.498.4242",
            "patient_id": ground_truth(truth_dir)["patient_id"],
            "study_date": "2005-06-01",
        },
    )
    assert earlier.status_code == 201, earlier.text
    prior_grading = {e.value: {"type": "none"} for e in ENDPLATES} | {"L5_inf": {"type": "II", "size": "B"}}
    assert rater.api.post(f"/studies/{earlier.json()['id']}/gradings", json={"endplates": prior_grading}).is_success
    sign_in(page, live_server, rater.token)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if "/prior" in request.url else None)
    page.goto(f"{live_server.url}/#/study/{current['id']}")
    wait_for_images(page)
    page.get_by_role("button", name="Show prior study (2005-06-01)").click()
    # the form and the prior pane share one answer of the one prior endpoint
    assert [url.split("/api/v1")[1] for url in asked] == [f"/studies/{current['id']}/prior"]
    table = page.get_by_role("table", name="Grading of the prior study (read-only)")
    expect(table).to_contain_text("L5_inf")
    expect(table.locator("tr.differs")).to_have_text("L5_infII B")
    expect(page.locator("#prior-title")).to_have_text("Prior study of 2005-06-01 (read-only)")
    assert table.locator("select, input, button").count() == 0
    expect(page.get_by_label("L1_sup type")).to_have_value("")  # the current form is untouched
    screenshot(page, "workstation-prior")
