"""The workstation page in a real browser: sign-in, worklist, keyboard grading, 422 messages on
the right row, amendment with history, and the 412 conflict."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from grading.endplates import ENDPLATES
from tests.api.helpers import endplates, study_body
from tests.conftest import LiveServer, TokenFactory
from tests.web.conftest import Rater, screenshot, sign_in


@pytest.fixture
def study(rater: Rater) -> dict[str, Any]:
    """A study registered without images (read in the hospital's viewer)."""
    response = rater.api.post("/studies", json=study_body("1.2.826.0.1.3680043.8.498.77", "HOSP-WEB-1"))
    assert response.status_code == 201, response.text
    study: dict[str, Any] = response.json()
    return study


def open_study(page: Any, study: dict[str, Any]) -> None:
    page.get_by_role("link", name=f"Open study of {study['patient']['pseudonym']}").click()
    expect(page.get_by_role("heading", name=f"Patient {study['patient']['pseudonym']}")).to_be_visible()
    expect(page.locator("#grading")).to_have_attribute("data-mode", "new")


# The keys a rater types, endplate by endplate: "0" is none (and moves on), a digit 1-7 a type
# and a letter A-D its size (which moves on).
KEYS = {
    "L1_sup": "0",
    "L1_inf": "0",
    "L2_sup": "0",
    "L2_inf": "2b",  # type II, size B
    "L3_sup": "0",
    "L3_inf": "0",
    "L4_sup": "6a",  # mixed II/III, size A
    "L4_inf": "4c",  # mixed I/II, size C
    "L5_sup": "1d",  # type I, size D
    "L5_inf": "3b",  # type III, size B
    "S1_sup": "7c",  # I/II/III, size C
}
EXPECTED = {
    "L2_inf": {"type": "II", "size": "B", "extension_pct": None},
    "L4_sup": {"type": "II/III", "size": "A", "extension_pct": None},
    "L4_inf": {"type": "I/II", "size": "C", "extension_pct": None},
    "L5_sup": {"type": "I", "size": "D", "extension_pct": None},
    "L5_inf": {"type": "III", "size": "B", "extension_pct": None},
    "S1_sup": {"type": "I/II/III", "size": "C", "extension_pct": None},
}


def grade_from_keyboard(page: Any) -> None:
    page.get_by_label("L1_sup type").focus()
    for endplate in ENDPLATES:
        for key in KEYS[endplate.value]:
            page.keyboard.press(key)
    expect(page.get_by_role("button", name="Submit grading")).to_be_focused()


def test_sign_in_rejects_a_bad_token_and_keeps_the_good_one_out_of_urls(
    page: Any, live_server: LiveServer, rater: Rater, study: dict[str, Any]
) -> None:
    response = page.goto(live_server.url + "/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    page.get_by_label("API token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert").filter(has_text="not valid")).to_be_visible()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.get_by_label("API token").fill(rater.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("rad-web (radiologist)")).to_be_visible()
    awaiting = page.get_by_role("table", name="Awaiting my grading")
    expect(awaiting.get_by_role("cell", name=study["patient"]["pseudonym"], exact=True)).to_be_visible()
    expect(page.get_by_role("table", name="My graded studies")).to_contain_text("You have not graded any study yet")
    screenshot(page, "worklist")
    assert page.evaluate("sessionStorage.getItem('modic.token')") == rater.token
    assert requests and all(rater.token not in url for url in requests)
    assert "HOSP-WEB-1" not in page.content()


def test_grade_all_endplates_from_the_keyboard(
    page: Any, live_server: LiveServer, rater: Rater, study: dict[str, Any]
) -> None:
    sign_in(page, live_server, rater.token)
    open_study(page, study)
    grade_from_keyboard(page)
    expect(page.get_by_label("L1_sup size")).to_be_disabled()
    expect(page.get_by_label("L4_inf size")).to_have_value("C")
    screenshot(page, "graded-before-submit")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Saved: your grading, version 1")).to_be_visible()
    expect(page.locator("#history-list > li")).to_have_count(1)
    screenshot(page, "graded-saved")

    gradings = rater.api.get(f"/studies/{study['id']}/gradings").json()["items"]
    assert len(gradings) == 1 and gradings[0]["version"] == 1 and gradings[0]["rater"] == "rad-web"
    unchanged = {"type": "none", "size": None, "extension_pct": None}
    assert gradings[0]["endplates"] == {e.value: EXPECTED.get(e.value, unchanged) for e in ENDPLATES}

    page.get_by_role("link", name="Worklist").first.click()
    expect(page.get_by_role("table", name="My graded studies")).to_contain_text(study["patient"]["pseudonym"])
    expect(page.get_by_role("table", name="Awaiting my grading")).to_contain_text("Nothing awaits your grading")


def test_api_messages_show_on_the_right_row(
    page: Any, live_server: LiveServer, rater: Rater, study: dict[str, Any]
) -> None:
    sign_in(page, live_server, rater.token)
    open_study(page, study)
    for endplate in ENDPLATES:
        page.get_by_label(f"{endplate.value} type").select_option("none")
    page.get_by_label("L4_inf type").select_option("I")  # a type without its size
    page.get_by_label("S1_sup type").select_option("II")
    page.get_by_label("S1_sup size").select_option("D")
    page.get_by_label("S1_sup extension %").fill("40")  # 40 % is size C, not D
    page.get_by_role("button", name="Submit grading").click()
    expect(page.locator("#error-L4_inf")).to_contain_text("L4_inf: size is required")
    expect(page.locator("#error-S1_sup")).to_contain_text("extension_pct 40 gives size C")
    expect(page.get_by_label("L4_inf size")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("S1_sup extension %")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#error-L5_inf")).to_be_hidden()
    expect(page.locator("#form-message")).to_contain_text("2 problems")
    screenshot(page, "inline-422")
    assert rater.api.get(f"/studies/{study['id']}/gradings").json()["items"] == []


def test_amend_with_a_reason_and_the_history_shows_both_versions(
    page: Any, live_server: LiveServer, rater: Rater, study: dict[str, Any]
) -> None:
    created = rater.api.post(f"/studies/{study['id']}/gradings", json={"endplates": endplates()})
    assert created.status_code == 201, created.text
    sign_in(page, live_server, rater.token)
    page.get_by_role("link", name=f"Open study of {study['patient']['pseudonym']}").click()
    expect(page.locator("#grading")).to_have_attribute("data-mode", "amend")
    page.get_by_label("L5_inf type").focus()
    page.keyboard.press("1")
    page.keyboard.press("c")
    page.get_by_role("button", name="Amend grading (version 1 → 2)").click()
    expect(page.locator("#reason-error")).to_contain_text("reason")
    page.get_by_label("Reason for the amendment").fill("Oedema at L5 inferior seen on re-read")
    page.get_by_role("button", name="Amend grading (version 1 → 2)").click()
    expect(page.get_by_role("status").filter(has_text="Amended: version 1 → 2")).to_be_visible()
    history = page.locator("#history-list > li")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text("Version 1 by rad-web")
    expect(history.nth(0)).to_contain_text("First grading")
    expect(history.nth(1)).to_contain_text("Reason: Oedema at L5 inferior seen on re-read")
    expect(history.nth(1)).to_contain_text("L5_inf: none → I C")
    screenshot(page, "amended-history")
    current = rater.api.get(f"/gradings/{created.json()['id']}").json()
    assert current["version"] == 2
    assert current["endplates"]["L5_inf"] == {"type": "I", "size": "C", "extension_pct": None}


def test_a_conflicting_amendment_says_so_and_shows_both_versions(
    page: Any, live_server: LiveServer, rater: Rater, study: dict[str, Any]
) -> None:
    created = rater.api.post(f"/studies/{study['id']}/gradings", json={"endplates": endplates()})
    grading_id = created.json()["id"]
    sign_in(page, live_server, rater.token)
    page.get_by_role("link", name=f"Open study of {study['patient']['pseudonym']}").click()
    expect(page.locator("#grading")).to_have_attribute("data-mode", "amend")

    elsewhere = rater.api.put(
        f"/gradings/{grading_id}",
        json={"endplates": endplates(L4_inf={"type": "II", "size": "B"}), "reason": "amended in another window"},
        headers={"If-Match": created.headers["ETag"]},
    )
    assert elsewhere.status_code == 200, elsewhere.text

    page.get_by_label("L4_inf type").select_option("I")
    page.get_by_label("L4_inf size").select_option("D")
    page.get_by_label("Reason for the amendment").fill("type I, size D")
    page.get_by_role("button", name="Amend grading (version 1 → 2)").click()
    conflict = page.get_by_role("alert", name="Someone else changed this grading")
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("you were amending version 1, but rad-web saved version 2")
    expect(conflict).to_contain_text("Your amendment was NOT saved")
    row = page.get_by_role("table", name="Your version and the current version").get_by_role("row", name="L4_inf")
    expect(row).to_contain_text("I D")
    expect(row).to_contain_text("II B")
    screenshot(page, "conflict")
    assert rater.api.get(f"/gradings/{grading_id}").json()["version"] == 2

    page.get_by_role("button", name="Keep my values and amend the current version").click()
    page.get_by_role("button", name="Amend grading (version 2 → 3)").click()
    expect(page.locator("#history-list > li")).to_have_count(3)
    assert rater.api.get(f"/gradings/{grading_id}").json()["endplates"]["L4_inf"]["type"] == "I"


UNNAMED_CONTROLS = """() => [...document.querySelectorAll("input, select, textarea, button, output, [tabindex]")]
    .filter((el) => {
      const labelled = el.getAttribute("aria-labelledby");
      const name = el.getAttribute("aria-label")
        || (el.labels && [...el.labels].map((l) => l.textContent).join(" "))
        || (labelled && document.getElementById(labelled)?.textContent)
        || (el.tagName === "BUTTON" && el.textContent);
      return !(name && name.trim());
    })
    .map((el) => el.outerHTML.slice(0, 80))"""


def test_every_control_has_a_label_and_tab_walks_the_rows(
    page: Any, live_server: LiveServer, rater: Rater, study: dict[str, Any]
) -> None:
    sign_in(page, live_server, rater.token)
    assert page.evaluate(UNNAMED_CONTROLS) == []
    open_study(page, study)
    assert page.evaluate(UNNAMED_CONTROLS) == []
    page.get_by_label("L1_sup type").focus()
    page.keyboard.press("0")
    expect(page.get_by_label("L1_inf type")).to_be_focused()
    page.keyboard.press("Shift+Tab")  # size and extension are disabled for type none
    expect(page.get_by_label("L1_sup type")).to_be_focused()
    page.keyboard.press("2")  # type II: the size is next
    expect(page.get_by_label("L1_sup size")).to_be_enabled()
    expect(page.get_by_label("L1_sup size")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("L1_sup extension %")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("L1_inf type")).to_be_focused()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API token")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('modic.token')") is None


def test_a_grading_made_elsewhere_meanwhile_is_loaded_for_amendment(
    page: Any, live_server: LiveServer, rater: Rater, study: dict[str, Any]
) -> None:
    sign_in(page, live_server, rater.token)
    open_study(page, study)
    elsewhere = rater.api.post(f"/studies/{study['id']}/gradings", json={"endplates": endplates()})
    assert elsewhere.status_code == 201
    grade_from_keyboard(page)
    page.keyboard.press("Control+Enter")
    expect(page.locator("#form-message")).to_contain_text("You had already graded this study")
    expect(page.locator("#grading")).to_have_attribute("data-mode", "amend")
    expect(page.get_by_label("L4_inf size")).to_have_value("C")  # the entries are kept
    page.get_by_label("Reason for the amendment").fill("graded twice by mistake; this is the full read")
    page.get_by_role("button", name="Amend grading (version 1 → 2)").click()
    expect(page.locator("#history-list > li")).to_have_count(2)
    assert rater.api.get(f"/gradings/{elsewhere.json()['id']}").json()["endplates"]["L4_inf"]["size"] == "C"


def test_other_roles_are_told_the_page_is_for_radiologists(
    page: Any, live_server: LiveServer, auth: TokenFactory
) -> None:
    token = auth("screener", "sam")["Authorization"].removeprefix("Bearer ")
    page.goto(live_server.url + "/")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("status")).to_contain_text(
        "for radiologists; you are signed in as sam with the role screener"
    )
    expect(page.get_by_role("heading", name="Worklist")).to_be_hidden()
