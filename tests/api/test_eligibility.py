"""Trials, screening, decisions that follow gradings, the feed, its exports, the funnel and the
audited pseudonym look-up, through the HTTP API on a fresh database."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select

from api.cli import main
from registry.db import session_scope
from registry.models import AuditEvent, GradingKind, Patient, User
from registry.services import gradings as gradings_service
from registry.services.eligibility.decisions import reevaluate_and_commit
from registry.services.eligibility.periodic import PeriodicReevaluation
from tests.api.helpers import assign, endplates, study_body
from tests.conftest import TokenFactory
from tests.grading.eligibility_helpers import PAPER_ELIGIBLE

FEED = "/api/v1/eligibility"


class Clinic:
    """A radiologist, a screener and an admin working on one database."""

    def __init__(self, client: TestClient, auth: TokenFactory):
        self.client = client
        self.radiologist = auth("radiologist")
        self.screener = auth("screener")
        self.admin = auth("admin")

    def study(self, uid: str, patient_id: str, study_date: str = "2026-10-01") -> dict[str, Any]:
        body = {**study_body(uid, patient_id), "study_date": study_date}
        response = self.client.post("/api/v1/studies", json=body, headers=self.radiologist)
        assert response.status_code in (200, 201), response.text
        result: dict[str, Any] = response.json()
        return result

    def grade(self, study_id: str, headers: dict[str, str] | None = None, **changes: dict[str, Any]) -> Any:
        response = self.client.post(
            f"/api/v1/studies/{study_id}/gradings",
            json={"endplates": endplates(**changes)},
            headers=headers or self.radiologist,
        )
        assert response.status_code == 201, response.text
        return response

    def amend(self, created: Any, reason: str = "re-read", **changes: dict[str, Any]) -> Any:
        response = self.client.put(
            f"/api/v1/gradings/{created.json()['id']}",
            json={"endplates": endplates(**changes), "reason": reason},
            headers={**self.radiologist, "If-Match": created.headers["ETag"]},
        )
        assert response.status_code == 200, response.text
        return response

    def feed(self, trial: str = "NCT00454792", **params: Any) -> dict[str, Any]:
        response = self.client.get(FEED, params={"trial": trial, **params}, headers=self.screener)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def screen(self, pseudonym: str, trial: str, answers: dict[str, Any]) -> Any:
        return self.client.patch(
            f"/api/v1/patients/{pseudonym}/screening/{trial}", json={"answers": answers}, headers=self.screener
        )


@pytest.fixture
def clinic(client: TestClient, auth: TokenFactory) -> Clinic:
    return Clinic(client, auth)


def test_trials_lists_every_rule_set_for_every_role(client: TestClient, auth: TokenFactory) -> None:
    for role in ("admin", "radiologist", "screener", "researcher"):
        response = client.get("/api/v1/trials", headers=auth(role))
        assert response.status_code == 200
    items = response.json()["items"]
    assert [(i["id"], i["version"], i["default"]) for i in items] == [
        ("NCT00454792", "2012", True),
        ("NCT00454792", "2007-registry", False),
        ("NCT03100266", "2018-registry", True),
    ]
    first = items[0]["criteria"][0]
    assert first["id"] == "mri_mc_beyond_endplate"
    assert first["kind"] == "imaging"
    assert first["source"]["document"] == "doi:10.1186/1741-7015-10-22"
    assert client.get("/api/v1/trials").status_code == 401


def test_grading_creates_a_pending_decision_with_provenance(clinic: Clinic) -> None:
    study = clinic.study("1.2.3.1", "HOSP-0001")
    created = clinic.grade(study["id"], L4_inf={"type": "I", "size": "C"})
    page = clinic.feed()
    assert len(page["items"]) == 1
    item = page["items"][0]
    assert item["patient"] == study["patient"]["pseudonym"]
    assert item["study_id"] == study["id"]
    assert (item["trial"], item["rule_version"], item["status"]) == ("NCT00454792", "2012", "pending")
    assert (item["grading_id"], item["grading_version"]) == (created.json()["id"], 1)
    assert item["criteria"][0] == {
        "id": "mri_mc_beyond_endplate",
        "kind": "imaging",
        "met": True,
        "evidence": "L4_inf: type I, size C",
    }
    assert item["criteria"][1]["met"] is None
    assert set(item) == {
        "patient",
        "study_id",
        "trial",
        "rule_version",
        "status",
        "criteria",
        "grading_id",
        "grading_version",
        "decided_at",
        # Added by screening episodes: the decision day, and freezing at enrolment with any amendment.
        "evaluation_date",
        "frozen_at",
        "amendment",
    }
    assert (item["frozen_at"], item["amendment"]) == (None, None)
    registry_page = clinic.feed(version="2007-registry")
    assert registry_page["items"][0]["criteria"][0]["id"] == "mri_any_mc"


def test_amendment_moves_the_decision_to_the_end_of_the_feed(clinic: Clinic) -> None:
    first = clinic.study("1.2.3.1", "HOSP-0001")
    second = clinic.study("1.2.3.2", "HOSP-0002")
    created = clinic.grade(first["id"], L4_inf={"type": "I", "size": "C"})
    clinic.grade(second["id"], L5_inf={"type": "II", "size": "B"})
    page = clinic.feed()
    assert [i["patient"] for i in page["items"]] == [first["patient"]["pseudonym"], second["patient"]["pseudonym"]]
    cursor = page["next_cursor"]
    assert clinic.feed(since=cursor) == {"items": [], "next_cursor": cursor}  # the position to poll from
    clinic.amend(created, L4_inf={"type": "I", "size": "A"})  # Jensen 2012 Figure 1: size A is not enough
    after = clinic.feed(since=cursor)
    assert len(after["items"]) == 1
    moved = after["items"][0]
    assert (moved["patient"], moved["status"], moved["grading_version"]) == (
        first["patient"]["pseudonym"],
        "ineligible",
        2,
    )
    assert moved["criteria"][0]["met"] is False
    whole = clinic.feed()
    assert [i["patient"] for i in whole["items"]] == [second["patient"]["pseudonym"], first["patient"]["pseudonym"]]


def test_amendment_that_changes_nothing_a_reader_sees_does_not_move_the_decision(clinic: Clinic) -> None:
    study = clinic.study("1.2.3.1", "HOSP-0001")
    created = clinic.grade(study["id"], L4_inf={"type": "I", "size": "C"})
    cursor = clinic.feed()["next_cursor"]
    clinic.amend(created, L4_inf={"type": "I", "size": "C"}, reason="confirmed")
    # The grading version is part of the decision's provenance: version 2 is published.
    assert [i["grading_version"] for i in clinic.feed(since=cursor)["items"]] == [2]


def test_paging_with_limit_sees_each_decision_once(clinic: Clinic) -> None:
    patients = []
    for n in range(5):
        study = clinic.study(f"1.2.3.{n + 1}", f"HOSP-{n}")
        clinic.grade(study["id"], S1_sup={"type": "II", "size": "D"})
        patients.append(study["patient"]["pseudonym"])
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = clinic.feed(limit=2, **({"since": cursor} if cursor else {}))
        assert page["next_cursor"] is not None
        seen += [i["patient"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not page["items"]:
            break
    assert seen == patients


def test_screening_answers_complete_the_decision(clinic: Clinic, app: FastAPI) -> None:
    study = clinic.study("1.2.3.1", "HOSP-0001")
    clinic.grade(study["id"], L4_inf={"type": "I/II", "size": "B"})
    pseudonym = study["patient"]["pseudonym"]
    cursor = clinic.feed()["next_cursor"]
    response = clinic.screen(pseudonym, "NCT00454792", {"age_years": 45, "nrs_back": 6})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answers"] == {"age_years": 45, "nrs_back": 6}
    assert {d["rule_version"]: d["status"] for d in body["decisions"]} == {
        "2012": "pending",
        "2007-registry": "pending",
    }
    response = clinic.screen(pseudonym, "NCT00454792", PAPER_ELIGIBLE)
    decisions = {d["rule_version"]: d for d in response.json()["decisions"]}
    assert decisions["2012"]["status"] == "eligible"
    # NCT00454792 record reads the same answers differently: pregnancy and referral are still unknown.
    assert decisions["2007-registry"]["status"] == "pending"
    changes = clinic.feed(since=cursor)["items"]
    assert [i["status"] for i in changes] == ["eligible"]  # the 2012 decision changed twice, seen once
    # An exclusion recorded later makes the patient ineligible, with the reason.
    response = clinic.screen(pseudonym, "NCT00454792", {"competing_lbp_cause": True})
    decisions = {d["rule_version"]: d for d in response.json()["decisions"]}
    assert decisions["2012"]["status"] == "ineligible"
    # null makes an answer unknown again
    response = clinic.screen(pseudonym, "NCT00454792", {"competing_lbp_cause": None})
    assert "competing_lbp_cause" not in response.json()["answers"]
    url = f"/api/v1/patients/{pseudonym}/screening/NCT00454792"
    assert clinic.client.get(url, headers=clinic.screener).json() == response.json()
    assert clinic.client.get(url, headers=clinic.radiologist).status_code == 403
    assert {d["rule_version"]: d["status"] for d in response.json()["decisions"]}["2012"] == "pending"
    with session_scope(app.state.engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "screening.record")).all()
    assert len(events) == 4
    assert events[-1].detail["changes"] == {"competing_lbp_cause": {"from": True, "to": None}}
    assert events[-1].actor_id is not None


@pytest.mark.parametrize(
    ("answers", "status", "message"),
    [
        # Jensen 2012 (4) "age from 18 to 60 years": age is a whole number of years
        (
            {"age_years": "old"},
            422,
            "screening field age_years: 'old' is not allowed; allowed: an integer from 0 to 120",
        ),
        # RMDQ is a field of NCT03100266 (its record: "RM>5"), not of NCT00454792
        ({"rmdq": 7}, 422, "screening field 'rmdq' is unknown; allowed: age_years, competing_lbp_cause"),
        # Jensen 2012 (1) "11-point Numerical Rating Scale": 0-10
        ({"nrs_leg": 11}, 422, "screening field nrs_leg: 11 is not allowed; allowed: an integer from 0 to 10"),
    ],
)
def test_bad_screening_answers_are_422_naming_the_field(
    clinic: Clinic, answers: dict[str, Any], status: int, message: str
) -> None:
    study = clinic.study("1.2.3.1", "HOSP-0001")
    response = clinic.screen(study["patient"]["pseudonym"], "NCT00454792", answers)
    assert response.status_code == status
    assert response.json()["detail"].startswith(message)


def test_screening_of_unknown_patient_or_trial_is_404(clinic: Clinic) -> None:
    study = clinic.study("1.2.3.1", "HOSP-0001")
    response = clinic.screen(study["patient"]["pseudonym"], "NCT0", {"age_years": 40})
    assert response.status_code == 404
    assert "trial 'NCT0' is unknown; allowed: NCT00454792, NCT03100266" in response.json()["detail"]
    response = clinic.screen("P-NOBODY", "NCT00454792", {"age_years": 40})
    assert response.status_code == 404


def test_screening_without_mri_is_pending_or_ineligible(clinic: Clinic) -> None:
    study = clinic.study("1.2.3.1", "HOSP-0001")  # registered, not graded
    pseudonym = study["patient"]["pseudonym"]
    response = clinic.screen(pseudonym, "NCT03100266", {"age_years": 70})  # NCT03100266 record: 18-65
    decision = response.json()["decisions"][0]
    assert (decision["status"], decision["study_id"], decision["grading_id"]) == ("ineligible", None, None)
    assert decision["criteria"][0] == {"id": "mri_type_1", "kind": "imaging", "met": None, "evidence": "no graded MRI"}
    assert clinic.feed()["items"] == []  # nothing known for the other trial


def test_the_most_recent_graded_study_counts(clinic: Clinic) -> None:
    old = clinic.study("1.2.3.1", "HOSP-0001", study_date="2025-01-10")
    new = clinic.study("1.2.3.2", "HOSP-0001", study_date="2026-09-01")
    clinic.grade(new["id"], L4_inf={"type": "I", "size": "C"})
    clinic.grade(old["id"])  # graded later, but the older study
    items = clinic.feed()["items"]
    assert [(i["study_id"], i["status"]) for i in items] == [(new["id"], "pending")]


def test_the_most_recent_clinical_grading_counts(clinic: Clinic, auth: TokenFactory) -> None:
    study = clinic.study("1.2.3.1", "HOSP-0001")
    clinic.grade(study["id"], L4_inf={"type": "I", "size": "C"})
    second = auth("radiologist", "second-reader")
    assign(clinic.client, study["id"], "second-reader")
    second_reader = clinic.grade(study["id"], headers=second)
    item = clinic.feed()["items"][0]
    assert (item["grading_id"], item["status"]) == (second_reader.json()["id"], "ineligible")


def test_reliability_reads_never_count(clinic: Clinic, app: FastAPI) -> None:
    study = clinic.study("1.2.3.1", "HOSP-0001")
    clinic.grade(study["id"], L4_inf={"type": "I", "size": "C"})
    before = clinic.feed()
    with session_scope(app.state.engine, write=True) as session:
        rater = session.exec(select(User).where(User.role == "radiologist")).first()
        assert rater is not None
        gradings_service.create_grading(session, rater, study["id"], endplates(), kind=GradingKind.reliability)
    assert clinic.feed() == before


def test_feed_roles_and_bad_parameters(clinic: Clinic, auth: TokenFactory) -> None:
    client = clinic.client
    assert client.get(FEED, params={"trial": "NCT00454792"}).status_code == 401
    for role in ("radiologist", "researcher"):
        assert client.get(FEED, params={"trial": "NCT00454792"}, headers=auth(role)).status_code == 403
    assert client.get(FEED, params={"trial": "NCT00454792"}, headers=clinic.admin).status_code == 200
    response = client.get(FEED, params={"trial": "NCT00454792", "since": "abc"}, headers=clinic.screener)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("since 'abc' is not a feed cursor")
    response = client.get(FEED, params={"trial": "NCT00454792", "version": "1999"}, headers=clinic.screener)
    assert response.status_code == 422
    assert "version '1999' of trial NCT00454792 is unknown; allowed: 2012, 2007-registry" in response.json()["detail"]
    response = client.get(FEED, params={"trial": "NCT00454792", "limit": 0}, headers=clinic.screener)
    assert response.status_code == 422
    assert "limit" in response.json()["detail"]
    assert client.get(FEED, headers=clinic.screener).status_code == 422  # trial is required
    assert clinic.feed() == {"items": [], "next_cursor": "0"}


def test_exports_carry_the_feed_and_no_hospital_identifiers(clinic: Clinic, app: FastAPI) -> None:
    for n in range(3):
        study = clinic.study(f"1.2.3.{n + 1}", f"HOSP-SECRET-{n}")
        clinic.grade(study["id"], L4_inf={"type": "I", "size": "BCD"[n]})
    with session_scope(app.state.engine, write=True) as session:
        for patient in session.exec(select(Patient)).all():
            patient.name = "Jensen^Rikke"
            patient.birth_date = dt.date(1961, 7, 4)
            session.add(patient)
        session.commit()
    feed = clinic.feed()
    ndjson = clinic.client.get(f"{FEED}/export.ndjson", params={"trial": "NCT00454792"}, headers=clinic.screener)
    assert ndjson.status_code == 200
    assert ndjson.headers["content-type"].startswith("application/x-ndjson")
    assert [json.loads(line) for line in ndjson.text.splitlines()] == feed["items"]
    exported = clinic.client.get(f"{FEED}/export.csv", params={"trial": "NCT00454792"}, headers=clinic.screener)
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["patient"] for r in rows] == [i["patient"] for i in feed["items"]]
    assert rows[0]["mri_mc_beyond_endplate_met"] == "true"
    assert rows[0]["mri_mc_beyond_endplate_evidence"] == "L4_inf: type I, size B"
    assert rows[0]["age_met"] == ""
    since = clinic.client.get(
        f"{FEED}/export.ndjson",
        params={"trial": "NCT00454792", "since": feed["next_cursor"]},
        headers=clinic.screener,
    )
    assert since.text == ""
    for text in (json.dumps(feed), ndjson.text, exported.text):
        # The birth date in the forms a feed could print it; the bare year alone is not checked,
        # because random UUIDs in the feed may contain "1961".
        for identifying in ("HOSP-SECRET", "Jensen", "1961-07-04", "19610704"):
            assert identifying not in text
    assert clinic.client.get(f"{FEED}/export.csv", params={"trial": "NCT00454792"}).status_code == 401


def test_resolving_a_pseudonym_is_audited(clinic: Clinic, app: FastAPI, auth: TokenFactory) -> None:
    study = clinic.study("1.2.3.1", "HOSP-0001")
    pseudonym = study["patient"]["pseudonym"]
    url = f"/api/v1/patients/{pseudonym}/identifiers"
    body = {"reason": "invite to NCT00454792"}
    assert clinic.client.post(url, json=body, headers=auth("radiologist")).status_code == 403
    assert clinic.client.post(url, json={"reason": ""}, headers=clinic.screener).status_code == 422
    response = clinic.client.post(url, json=body, headers=clinic.screener)
    assert response.status_code == 200
    assert response.json()["hospital_id"] == "HOSP-0001"
    assert response.json()["pseudonym"] == pseudonym
    with session_scope(app.state.engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "patient.resolve")).all()
        screener = session.exec(select(User).where(User.role == "screener")).first()
    assert screener is not None
    assert [(e.actor_id, e.detail) for e in events] == [
        (screener.id, {"pseudonym": pseudonym, "reason": "invite to NCT00454792"})
    ]
    assert events[0].at is not None
    assert (
        clinic.client.post("/api/v1/patients/P-NOBODY/identifiers", json=body, headers=clinic.screener).status_code
        == 404
    )


def test_funnel_counts_the_seed_flow_steps(clinic: Clinic, auth: TokenFactory) -> None:
    # Jensen 2012 Results: "557 patients were screened with MRI and, of those, 244 (44%) had MCs with a
    # 'maximum height' extending beyond the endplate ... 100 were included ... 144 did not meet inclusion criteria".
    gradings = [
        {"L4_inf": {"type": "I", "size": "C"}},  # met -> eligible after screening
        {"L4_inf": {"type": "II", "size": "B"}},  # met -> ineligible (age)
        {"L5_inf": {"type": "I", "size": "D"}},  # met -> pending
        {"L5_inf": {"type": "I", "size": "A"}},  # not beyond the endplate
        {},  # no change
    ]
    pseudonyms = []
    for n, changes in enumerate(gradings):
        study = clinic.study(f"1.2.3.{n + 1}", f"HOSP-{n}")
        clinic.grade(study["id"], **changes)
        pseudonyms.append(study["patient"]["pseudonym"])
    clinic.screen(pseudonyms[0], "NCT00454792", PAPER_ELIGIBLE)
    clinic.screen(pseudonyms[1], "NCT00454792", {**PAPER_ELIGIBLE, "age_years": 64})
    response = clinic.client.get(f"{FEED}/funnel", params={"trial": "NCT00454792"}, headers=auth("researcher"))
    assert response.status_code == 200
    assert response.json() == {
        "trial": "NCT00454792",
        "version": "2012",
        "mri_graded": 5,
        "mri_criterion_met": 3,
        "mri_criterion_not_met": 2,
        "mri_criterion_unknown": 0,
        "pending": 1,
        "eligible": 1,
        "ineligible": 1,
        "ineligible_reasons": {"age": 1},
        "screened_without_mri": 0,
    }


def test_time_dependent_criterion_is_reevaluated_daily(clinic: Clinic, database_url: str, capsys: Any) -> None:
    # NCT03100266 record: "MRI verified type 1 Modic changes within the last 3 months".
    today = dt.datetime.now(dt.UTC).date()
    study = clinic.study("1.2.3.1", "HOSP-0001", study_date=today.isoformat())
    clinic.grade(study["id"], L4_inf={"type": "I", "size": "B"})
    page = clinic.feed("NCT03100266")
    assert page["items"][0]["criteria"][1]["met"] is True
    cursor = page["next_cursor"]
    url = f"{FEED}/reevaluate"
    assert clinic.client.post(url, json={}, headers=clinic.screener).status_code == 403
    response = clinic.client.post(url, json={"date": (today + dt.timedelta(days=30)).isoformat()}, headers=clinic.admin)
    assert response.json()["changed"] == 0  # still within 3 months
    assert clinic.feed("NCT03100266", since=cursor)["items"] == []
    later = today + dt.timedelta(days=100)
    assert main(["reevaluate", "--date", later.isoformat(), "--database-url", database_url]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["date"], summary["changed"]) == (later.isoformat(), 1)  # only the probiotics decision
    moved = clinic.feed("NCT03100266", since=cursor)["items"]
    assert [(i["status"], i["criteria"][1]["met"]) for i in moved] == [("ineligible", False)]
    assert main(["reevaluate", "--date", later.isoformat(), "--database-url", database_url]) == 0
    assert json.loads(capsys.readouterr().out.strip())["changed"] == 0  # nothing due any more
    response = clinic.client.post(url, json={"all": True}, headers=clinic.admin)
    assert response.status_code == 200
    assert response.json()["evaluated"] == 3  # every rule set for the one patient


def test_reevaluate_command_rejects_a_bad_date(database_url: str, capsys: Any) -> None:
    assert main(["reevaluate", "--date", "yesterday", "--database-url", database_url]) == 1
    assert capsys.readouterr().err.strip() == "modic: error: --date 'yesterday' is not a date; use YYYY-MM-DD"


def test_the_service_reevaluates_due_decisions_by_itself(clinic: Clinic, app: FastAPI) -> None:
    # NCT03100266 record "within the last 3 months": a decision made when the MRI was recent expires without any
    # new input; `modic serve` runs this re-evaluation at start and then hourly.
    today = dt.datetime.now(dt.UTC).date()
    study = clinic.study("1.2.3.1", "HOSP-0001", study_date=(today - dt.timedelta(days=95)).isoformat())
    clinic.grade(study["id"], L4_inf={"type": "I", "size": "B"})
    with session_scope(app.state.engine, write=True) as session:
        reevaluate_and_commit(session, today - dt.timedelta(days=30), due_only=False)
    assert clinic.feed("NCT03100266")["items"][0]["criteria"][1]["met"] is True  # as decided 30 days ago
    periodic = PeriodicReevaluation(app.state.engine, interval_s=3600).start()
    try:
        deadline = time.monotonic() + 30
        while clinic.feed("NCT03100266")["items"][0]["criteria"][1]["met"] is not False:
            assert time.monotonic() < deadline, "the due decision was not re-evaluated"
            time.sleep(0.05)
    finally:
        periodic.stop()
