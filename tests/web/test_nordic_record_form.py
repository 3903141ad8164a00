"""The grading form's Nordic record in a real browser: the full protocol's columns, one
not-assessable endplate (key X) and the numbering reference, all from the keyboard; the API returns
what was typed."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.api.helpers import endplates, study_body
from tests.conftest import LiveServer
from tests.web.conftest import Rater, screenshot, sign_in


@pytest.fixture
def study(rater: Rater) -> dict[str, Any]:
    response = rater.api.post("/studies", json=study_body("1.2.826.0.1.3680043.8.498.912", "HOSP-WEB-12"))
    assert response.status_code == 201, response.text
    study: dict[str, Any] = response.json()
    return study


# Keys typed row by row: "0" none (moves on); a type digit then a size letter (moves to the row's
# first extra column); in the extra columns a category's first letter, Tab to the next, Enter to the
# next row; "x" marks the endplate not assessable and a reason key (t = transitional) moves on.
ROWS: list[tuple[str, list[str]]] = [
    ("L1_sup", ["0"]),
    ("L1_inf", ["0"]),
    ("L2_sup", ["0"]),
    ("L2_inf", ["0"]),
    ("L3_sup", ["0"]),
    ("L3_inf", ["0"]),
    ("L4_sup", ["0"]),
    ("L4_inf", ["4", "c", "a", "Tab", "g", "Tab", "2", "Tab", "y", "Enter"]),
    ("L5_sup", ["0"]),
    ("L5_inf", ["2", "b", "p", "Enter"]),
    ("S1_sup", ["x", "t"]),
]


def test_full_protocol_and_not_assessable_from_the_keyboard(
    page: Any, live_server: LiveServer, rater: Rater, study: dict[str, Any]
) -> None:
    sign_in(page, live_server, rater.token)
    page.get_by_role("link", name=f"Open study of {study['patient']['pseudonym']}").click()
    expect(page.locator("#grading")).to_have_attribute("data-mode", "new")
    # The core protocol has no extra columns; development over time needs a prior graded study.
    expect(page.get_by_role("columnheader", name="Location")).to_have_count(0)
    page.get_by_label("Grading protocol").focus()
    page.keyboard.press("ArrowDown")  # nordic-2007 -> nordic-2007-full
    expect(page.get_by_role("columnheader", name="Location")).to_be_visible()
    expect(page.get_by_role("columnheader", name="Development over time")).to_have_count(0)
    page.get_by_label("Levels counted from").focus()
    page.keyboard.press("l")  # last_rib
    page.keyboard.press("Tab")
    page.keyboard.press("s")  # sacralised_l5
    page.get_by_label("L1_sup type").focus()
    for _endplate, keys in ROWS:
        for key in keys:
            page.keyboard.press(key)
    expect(page.get_by_role("button", name="Submit grading")).to_be_focused()
    expect(page.get_by_label("S1_sup not assessable")).to_have_value("transitional")
    expect(page.get_by_label("S1_sup size")).to_be_disabled()
    page.keyboard.press("Control+Enter")
    expect(page.locator("#grading")).to_have_attribute("data-mode", "amend")
    screenshot(page, "nordic_record_full_protocol")

    (grading,) = rater.api.get(f"/studies/{study['id']}/gradings").json()["items"]
    assert grading["protocol"] == "nordic-2007-full"
    assert grading["numbering"] == {"reference": "last_rib", "transitional": "sacralised_l5"}
    assert grading["endplates"]["S1_sup"] == {"not_assessable": "transitional", "note": None}
    assert grading["endplates"]["L4_inf"] == {
        "type": "I/II",
        "size": "C",
        "extension_pct": None,
        "location": "anterior",
        "volume": "gt50",
        "endplate_area": "25to50",
        "osteophytes": "yes",
    }
    assert grading["endplates"]["L5_inf"] == {"type": "II", "size": "B", "extension_pct": None, "location": "posterior"}
    assert grading["endplates"]["L1_sup"] == {"type": "none", "size": None, "extension_pct": None}
    # The history shows the not-assessable endplate as such.
    expect(page.locator("#history-list")).to_contain_text("S1_sup: not assessable (transitional)")


def test_development_over_time_is_offered_only_with_a_prior_graded_study(
    page: Any, live_server: LiveServer, rater: Rater
) -> None:
    prior = {**study_body("1.2.826.0.1.3680043.8.498.913", "HOSP-WEB-13"), "study_date": "2024-03-01"}
    later = {**study_body("1.2.826.0.1.3680043.8.498.914", "HOSP-WEB-13"), "study_date": "2026-03-01"}
    prior_id = rater.api.post("/studies", json=prior).json()["id"]
    study = rater.api.post("/studies", json=later).json()
    graded = rater.api.post(f"/studies/{prior_id}/gradings", json={"endplates": endplates()})
    assert graded.status_code == 201, graded.text
    sign_in(page, live_server, rater.token)
    page.evaluate("localStorage.setItem('modic.protocol', 'nordic-2007-full')")  # the site's choice
    # the patient's two studies share a pseudonym: open the later one, by its date
    later_link = f"Open study of {study['patient']['pseudonym']} from {later['study_date']}"
    page.get_by_role("link", name=later_link).first.click()
    expect(page.locator("#grading")).to_have_attribute("data-mode", "new")
    expect(page.get_by_label("Grading protocol")).to_have_value("nordic-2007-full")
    expect(page.get_by_role("columnheader", name="Development over time")).to_be_visible()
    page.get_by_label("L4_inf Development over time").select_option("unchanged")
    assert page.get_by_label("L4_inf Development over time").input_value() == "unchanged"
