"""Screening episodes, decisions that stand, enrolment with consent, allocation, concealment and the
allocation manager's exports, through the HTTP API on a fresh database."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select

from registry.db import session_scope
from registry.models import AllocationStream
from registry.services.eligibility import decisions, today
from tests.api.helpers import endplates, study_body
from tests.conftest import TokenFactory

TRIAL = "NCT00454792"
INDEX = "2026-11-02"
EPISODE = {"index_date": INDEX, "date_of_birth": "1980-05-10", "symptom_onset_date": "2026-05-01"}
# Jensen 2012's inclusion criteria without age and duration, which the episode's dates give.
ANSWERS = {
    "nrs_back": 6,
    "nrs_leg": 2,
    "danish": True,
    "willing": True,
    "other_disorder": False,
    "competing_lbp_cause": False,
    "surgery_without_relief": False,
}
FACTORS = {"age_group": "40-49", "sex": "female", "heavy_smoking": "no", "hard_physical_work": "yes"}
ARMS = {"exercise", "rest"}


class Site:
    """A radiologist, a screener, an admin and the allocation manager on one database."""

    def __init__(self, client: TestClient, auth: TokenFactory):
        self.client = client
        self.radiologist = auth("radiologist")
        self.screener = auth("screener")
        self.manager = auth("allocation_manager")
        self.admin = auth("admin")
        self.count = 0

    def patient(self, modic: dict[str, Any] | None = None) -> tuple[str, Any]:
        """A patient with an MRI of 2026-10-01 graded (by default with a type I change of size C)."""
        self.count += 1
        study = self.client.post(
            "/api/v1/studies", json=study_body(f"1.2.9.{self.count}", f"H-{self.count}"), headers=self.radiologist
        ).json()
        grading = self.client.post(
            f"/api/v1/studies/{study['id']}/gradings",
            json={"endplates": endplates(L4_inf=modic or {"type": "I", "size": "C"})},
            headers=self.radiologist,
        )
        assert grading.status_code == 201, grading.text
        return study["patient"]["pseudonym"], grading

    def screen(self, pseudonym: str, answers: dict[str, Any], episode: dict[str, Any] | None = None) -> Any:
        body: dict[str, Any] = {"answers": answers}
        if episode is not None:
            body["episode"] = episode
        return self.client.patch(f"/api/v1/patients/{pseudonym}/screening/{TRIAL}", json=body, headers=self.screener)

    def eligible(self) -> str:
        pseudonym, _ = self.patient()
        response = self.screen(pseudonym, ANSWERS, EPISODE)
        assert response.status_code == 200, response.text
        return pseudonym

    def enrol(self, pseudonym: str, factors: dict[str, str] | None = None, **extra: Any) -> Any:
        body = {"consent_date": INDEX, "consent_by": "RKJ", "factors": factors or FACTORS, **extra}
        return self.client.post(f"/api/v1/patients/{pseudonym}/enrolment/{TRIAL}", json=body, headers=self.screener)

    def feed(self) -> list[dict[str, Any]]:
        response = self.client.get("/api/v1/eligibility", params={"trial": TRIAL}, headers=self.screener)
        items: list[dict[str, Any]] = response.json()["items"]
        return items


@pytest.fixture
def site(client: TestClient, auth: TokenFactory) -> Site:
    return Site(client, auth)


def decision_2012(body: dict[str, Any]) -> dict[str, Any]:
    return next(d for d in body["decisions"] if d["rule_version"] == "2012")


def test_episode_computes_age_and_duration_at_the_index_date(site: Site) -> None:
    pseudonym, _ = site.patient()
    response = site.screen(pseudonym, ANSWERS, EPISODE)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["episode"] == EPISODE
    # 1980-05-10 to 2026-11-02: 46 completed years; 2026-05-01 to 2026-11-02: 6 months and 1/30.
    assert body["computed"]["age_years"] == 46
    assert body["computed"]["symptom_duration_months"] == pytest.approx(6 + 1 / 30)
    decision = decision_2012(body)
    assert (decision["status"], decision["evaluation_date"]) == ("eligible", INDEX)


@pytest.mark.parametrize(
    ("episode", "answers", "field"),
    [
        ({**EPISODE, "date_of_birth": "2027-01-01"}, {}, "date_of_birth"),  # a birth date after the index date
        ({**EPISODE, "symptom_onset_date": "2026-11-03"}, {}, "symptom_onset_date"),
        ({**EPISODE, "index_date": "2026-09-30"}, {}, "index_date"),  # the MRI (2026-10-01) is after it
        ({**EPISODE, "date_of_birth": "1890-01-01"}, {}, "date_of_birth"),  # age 136: out of the field's range
        (EPISODE, {"age_years": 46}, "age_years"),  # typed although computed from the date of birth
    ],
)
def test_bad_episode_dates_are_422_naming_the_field_and_nothing_is_lost(
    site: Site, episode: dict[str, Any], answers: dict[str, Any], field: str
) -> None:
    pseudonym, _ = site.patient()
    assert site.screen(pseudonym, {"nrs_back": 7}).status_code == 200
    response = site.screen(pseudonym, answers, episode)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]
    kept = site.client.get(f"/api/v1/patients/{pseudonym}/screening/{TRIAL}", headers=site.screener).json()
    assert (kept["answers"], kept["episode"]) == ({"nrs_back": 7}, None)


def test_index_date_in_the_future_or_an_unknown_episode_date_is_422(site: Site) -> None:
    pseudonym, _ = site.patient()
    unknown = site.screen(pseudonym, {}, {**EPISODE, "visit_date": INDEX})
    assert unknown.status_code == 422
    assert "episode.visit_date" in unknown.json()["detail"]
    tomorrow = (today() + dt.timedelta(days=1)).isoformat()
    response = site.screen(pseudonym, {}, {**EPISODE, "index_date": tomorrow})
    assert response.status_code == 422
    assert "index_date" in response.json()["detail"]


def test_decision_at_the_index_date_does_not_change_a_year_later(site: Site, app: FastAPI) -> None:
    pseudonym = site.eligible()
    before = site.feed()
    later = today() + dt.timedelta(days=365)
    with session_scope(app.state.engine, write=True) as session:
        report = decisions.reevaluate_and_commit(session, later, due_only=False)
    assert report.by_rule_set["NCT00454792@2012"] == report.by_rule_set["NCT00454792@2007-registry"] == 0
    assert site.feed() == before
    body = site.client.get(f"/api/v1/patients/{pseudonym}/screening/{TRIAL}", headers=site.screener).json()
    assert (decision_2012(body)["status"], decision_2012(body)["evaluation_date"]) == ("eligible", INDEX)
    assert body["computed"]["age_years"] == 46  # not 47: age is taken at the index date


def test_not_applicable_satisfies_an_exclusion_through_the_api(site: Site) -> None:
    # NCT00454792 record "The patient is pregnant." cannot apply to a male patient.
    pseudonym, _ = site.patient()
    body = site.screen(pseudonym, {"pregnant": "not_applicable"}, EPISODE).json()
    registry = next(d for d in body["decisions"] if d["rule_version"] == "2007-registry")
    assert next(c for c in registry["criteria"] if c["id"] == "excl_pregnant")["met"] is True
    refused = site.screen(pseudonym, {"willing": "not_applicable"})
    assert refused.status_code == 422
    assert "willing" in refused.json()["detail"]


def test_enrolment_needs_an_eligible_episode_and_409_names_the_criteria(site: Site) -> None:
    pseudonym, _ = site.patient()
    no_episode = site.enrol(pseudonym)
    assert no_episode.status_code == 409
    assert "index date" in no_episode.json()["detail"]
    site.screen(pseudonym, {**ANSWERS, "willing": False, "danish": None}, EPISODE)
    refused = site.enrol(pseudonym)
    assert refused.status_code == 409
    assert refused.json()["detail"].endswith(
        "cannot be enrolled: the episode is ineligible under NCT00454792@2012 (not met: willing; unknown: danish)"
    )


def test_enrolment_freezes_the_decision_allocates_and_flags_a_later_amendment(site: Site) -> None:
    pseudonym, grading = site.patient()
    site.screen(pseudonym, ANSWERS, EPISODE)
    bad = site.enrol(pseudonym, {**FACTORS, "sex": "other"})
    assert bad.status_code == 422
    assert "factor sex: 'other' is not allowed; allowed: female, male" in bad.json()["detail"]
    early = site.enrol(pseudonym, consent_date="2026-11-01")
    assert early.status_code == 422
    assert "consent_date" in early.json()["detail"]

    response = site.enrol(pseudonym)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["allocation"]["sequence"] == 1
    assert body["allocation"]["arm"] in ARMS
    assert (body["consent_date"], body["consent_by"]) == (INDEX, "RKJ")
    assert body["decision"]["status"] == "eligible"
    assert body["decision"]["grading_id"] == grading.json()["id"]
    again = site.client.get(f"/api/v1/patients/{pseudonym}/enrolment/{TRIAL}", headers=site.screener).json()
    assert again["allocation"] == body["allocation"]
    assert site.enrol(pseudonym).status_code == 409  # enrolled once

    frozen = next(i for i in site.feed() if i["patient"] == pseudonym and i["rule_version"] == "2012")
    assert frozen["frozen_at"] is not None and frozen["amendment"] is None
    # The radiologist amends the grading: no Modic change. The enrolled decision stands; the feed
    # shows the change to screening staff with both decisions.
    amended = site.client.put(
        f"/api/v1/gradings/{grading.json()['id']}",
        json={"endplates": endplates(), "reason": "re-read"},
        headers={**site.radiologist, "If-Match": grading.headers["ETag"]},
    )
    assert amended.status_code == 200, amended.text
    flagged = next(i for i in site.feed() if i["patient"] == pseudonym and i["rule_version"] == "2012")
    assert flagged["status"] == "eligible"
    assert flagged["grading_version"] == 1
    assert flagged["amendment"]["status"] == "ineligible"
    assert flagged["amendment"]["grading_version"] == 2
    assert all("arm" not in json.dumps(i) for i in site.feed())


def _walk(value: Any) -> list[Any]:
    """Every key and scalar inside a JSON value."""
    if isinstance(value, dict):
        return [*value.keys(), *(x for v in value.values() for x in _walk(v))]
    if isinstance(value, list):
        return [x for v in value for x in _walk(v)]
    return [value]


def _screener_callable(site: Site, app: FastAPI) -> set[tuple[str, str]]:
    """Every API route a screener's token gets past the role check of (dummy ids, empty bodies)."""
    found = set()
    for route, operations in app.openapi()["paths"].items():
        for method in operations:
            path = re.sub(r"\{[^}]+\}", "x", route)
            response = site.client.request(method.upper(), path, headers=site.screener, json={})
            if response.status_code not in (401, 403):
                found.add((method.upper(), route))
            if route == "/api/v1/me/token" and response.status_code == 201:  # rotated: the old token is gone
                site.screener = {"Authorization": f"Bearer {response.json()['token']}"}
    return found


def test_concealment_before_enrolment(site: Site, app: FastAPI) -> None:
    earlier = [site.eligible() for _ in range(3)]
    for pseudonym in earlier:
        assert site.enrol(pseudonym).status_code == 201
    waiting = site.eligible()
    with session_scope(app.state.engine) as session:
        seed = session.exec(select(AllocationStream.seed)).one()
    p = f"/api/v1/patients/{waiting}"
    calls = {
        ("GET", "/api/v1/health"): ("GET", "/api/v1/health", None),
        ("GET", "/api/v1/health/live"): ("GET", "/api/v1/health/live", None),
        ("GET", "/api/v1/health/ready"): ("GET", "/api/v1/health/ready", None),
        ("GET", "/api/v1/me"): ("GET", "/api/v1/me", None),
        ("GET", "/api/v1/trials"): ("GET", "/api/v1/trials", None),
        ("GET", "/api/v1/reliability-studies"): ("GET", "/api/v1/reliability-studies", None),
        ("GET", "/api/v1/eligibility"): ("GET", f"/api/v1/eligibility?trial={TRIAL}", None),
        ("GET", "/api/v1/eligibility/export.ndjson"): ("GET", f"/api/v1/eligibility/export.ndjson?trial={TRIAL}", None),
        ("GET", "/api/v1/eligibility/export.csv"): ("GET", f"/api/v1/eligibility/export.csv?trial={TRIAL}", None),
        ("GET", "/api/v1/eligibility/funnel"): ("GET", f"/api/v1/eligibility/funnel?trial={TRIAL}", None),
        ("GET", "/api/v1/patients/{pseudonym}/screening/{trial}"): ("GET", f"{p}/screening/{TRIAL}", None),
        ("PATCH", "/api/v1/patients/{pseudonym}/screening/{trial}"): (
            "PATCH",
            f"{p}/screening/{TRIAL}",
            {"answers": {"nrs_back": 7}},
        ),
        ("POST", "/api/v1/patients/{pseudonym}/identifiers"): ("POST", f"{p}/identifiers", {"reason": "invite"}),
        ("GET", "/api/v1/patients/{pseudonym}/enrolment/{trial}"): ("GET", f"{p}/enrolment/{TRIAL}", None),
        ("GET", "/api/v1/protocols"): ("GET", "/api/v1/protocols", None),
        # last: rotating the screener's own token ends the token the calls above use
        ("POST", "/api/v1/me/token"): ("POST", "/api/v1/me/token", {}),
    }
    callable_routes = _screener_callable(site, app)
    # Every route a screener can call is checked here, apart from the enrolment itself, whose answer
    # comes after the commit and is the one place a screener learns the arm.
    assert callable_routes - set(calls) == {("POST", "/api/v1/patients/{pseudonym}/enrolment/{trial}")}, (
        "a new route is open to screeners: add it to this concealment test"
    )
    forbidden_keys = {"arm", "allocation", "per_arm", "per_level", "ranking", "draw", "imbalance", "sequence", "seed"}
    for route, (method, url, body) in calls.items():
        if route not in callable_routes:
            continue
        response = site.client.request(method, url, headers=site.screener, json=body)
        assert response.status_code < 500, (route, response.text)
        text = response.text
        assert seed not in text, route
        if response.headers.get("content-type", "").startswith("application/json"):
            values = _walk(response.json())
        elif "ndjson" in response.headers.get("content-type", ""):
            values = [x for line in text.splitlines() for x in _walk(json.loads(line))]
        else:
            values = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
        shown = {v for v in values if isinstance(v, str)}
        assert not shown & ARMS, (route, shown & ARMS)
        assert not shown & forbidden_keys, (route, shown & forbidden_keys)
        if route == ("POST", "/api/v1/me/token") and response.status_code == 201:  # a rotated token replaces the old
            site.screener = {"Authorization": f"Bearer {response.json()['token']}"}
    for url in ("totals", "replay", "log.csv", "consort.json", "consort.csv", "consort.html"):
        assert site.client.get(f"/api/v1/allocation/{TRIAL}/{url}", headers=site.screener).status_code == 403
        assert site.client.get(f"/api/v1/allocation/{TRIAL}/{url}", headers=site.admin).status_code == 403


def test_allocation_manager_sees_totals_replay_log_and_consort(site: Site) -> None:
    enrolled = [site.eligible() for _ in range(4)]
    arms = [
        site.enrol(p, {**FACTORS, "sex": s}).json()["allocation"]["arm"]
        for p, s in zip(enrolled, ["female", "male"] * 2, strict=True)
    ]
    site.patient({"type": "none"})  # screened: no Modic change
    ineligible, _ = site.patient()
    site.screen(ineligible, {**ANSWERS, "willing": False}, EPISODE)
    site.eligible()  # eligible, not enrolled

    totals = site.client.get(f"/api/v1/allocation/{TRIAL}/totals", headers=site.manager).json()
    assert totals["allocated"] == 4
    assert totals["per_arm"] == {arm: arms.count(arm) for arm in ("exercise", "rest")}
    replay = site.client.get(f"/api/v1/allocation/{TRIAL}/replay", headers=site.manager).json()
    assert replay == {"trial": TRIAL, "checked": 4, "ok": True, "mismatches": []}

    log = site.client.get(f"/api/v1/allocation/{TRIAL}/log.csv", headers=site.manager)
    rows = list(csv.DictReader(io.StringIO(log.text)))
    assert [r["patient"] for r in rows] == enrolled
    assert [r["arm"] for r in rows] == arms
    assert [r["factor_sex"] for r in rows] == ["female", "male", "female", "male"]
    assert {"imbalance_exercise", "imbalance_rest", "draw", "preferred_arm"} <= set(rows[0])

    consort = site.client.get(f"/api/v1/allocation/{TRIAL}/consort.json", headers=site.manager).json()
    assert consort == {
        "trial": TRIAL,
        "version": "2012",
        "screened": 7,
        "mri_modic": 6,
        "excluded": 2,
        "excluded_reasons": {"mri_mc_beyond_endplate": 1, "willing": 1},
        "pending": 0,
        "eligible": 5,
        "consented": 4,
        "allocated": {"exercise": arms.count("exercise"), "rest": arms.count("rest")},
    }
    table = site.client.get(f"/api/v1/allocation/{TRIAL}/consort.csv", headers=site.manager).text
    assert "allocated,exercise," in table and "excluded_reason,willing,1" in table
    page = site.client.get(f"/api/v1/allocation/{TRIAL}/consort.html", headers=site.manager)
    assert page.headers["content-type"].startswith("text/html")
    assert "Allocated to rest" in page.text and "Screened<br><b>n = 7</b>" in page.text
