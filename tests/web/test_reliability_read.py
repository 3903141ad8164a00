"""A blinded reliability-study read in the browser: the worklist lists my cases in my order, and
the read page shows nothing that identifies the patient or the study."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from grading.endplates import ENDPLATES
from tests.api.helpers import study_body
from tests.conftest import LiveServer, TokenFactory
from tests.web.conftest import Rater, screenshot, sign_in

HOSPITAL_IDS = ("HOSP-READ-1", "HOSP-READ-2")
UIDS = ("1.2.826.0.1.3680043.8.498.901", "1.2.826.0.1.3680043.8.498.902")


def test_a_read_shows_no_patient_identifier(
    page: Any, live_server: LiveServer, rater: Rater, auth: TokenFactory
) -> None:
    studies = [
        rater.api.post("/studies", json=study_body(uid, hospital_id) | {"study_date": f"2025-0{i + 3}-1{i}"}).json()
        for i, (uid, hospital_id) in enumerate(zip(UIDS, HOSPITAL_IDS, strict=True))
    ]
    auth("radiologist", "rad-other")
    with httpx.Client(base_url=f"{live_server.url}/api/v1", headers=auth("researcher", "res")) as researcher:
        created = researcher.post(
            "/reliability-studies",
            json={
                "name": "Inter-rater 2026",
                "study_ids": [s["id"] for s in studies],
                "raters": ["rad-web", "rad-other"],
            },
        )
        assert created.status_code == 201, created.text
        reliability_id = created.json()["id"]
        worklist = rater.api.get(f"/reliability-studies/{reliability_id}/worklist").json()
        cases = [item["case"] for item in sorted(worklist["items"], key=lambda i: i["position"])]

        sign_in(page, live_server, rater.token)
        reads = page.get_by_role("table", name="My reliability-study reads")
        expect(reads.get_by_role("row")).to_have_count(1 + len(cases))
        for position, case in enumerate(cases, start=1):
            expect(reads.get_by_role("row").nth(position)).to_contain_text(f"{position}{case}Inter-rater 2026")
        expect(page.get_by_role("heading", name="My reliability-study reads")).to_contain_text("(2 to do)")

        page.get_by_role("link", name=f"Open case {cases[0]} of Inter-rater 2026").click()
        expect(page.get_by_role("heading", name=f"Case {cases[0]}")).to_be_visible()
        expect(page.locator("#grading")).to_have_attribute("data-mode", "read")
        identifiers = [*HOSPITAL_IDS, *UIDS] + [
            value for s in studies for value in (s["id"], s["patient"]["pseudonym"], s["study_date"])
        ]
        for where in (page.content(), page.title(), page.evaluate("location.href")):
            assert [i for i in identifiers if i in where] == []
        screenshot(page, "reliability-read")

        page.get_by_label("L1_sup type").focus()
        for endplate in ENDPLATES:
            page.keyboard.press("1" if endplate.value == "L4_inf" else "0")
            if endplate.value == "L4_inf":
                page.keyboard.press("b")
        page.keyboard.press("Enter")
        expect(page.get_by_role("status").filter(has_text="Reliability reads are final")).to_be_visible()
        expect(page.get_by_label("L4_inf type")).to_be_disabled()
        page.get_by_role("link", name=f"Next case: {cases[1]}").click()
        expect(page.get_by_role("heading", name=f"Case {cases[1]}")).to_be_visible()
        expect(page.get_by_label("L4_inf type")).to_have_value("")
        for where in (page.content(), page.title()):
            assert [i for i in identifiers if i in where] == []

        progress = researcher.get(f"/reliability-studies/{reliability_id}").json()["progress"]
        assert {(p["rater"], p["done"], p["total"]) for p in progress} == {("rad-web", 1, 2), ("rad-other", 0, 2)}
