"""Reliability studies over HTTP: set-up, blinded seeded worklists, washout, reads, progress and reports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import col

from registry import report_processes
from registry.db import session_scope
from registry.exports.raters import rater_pseudonym
from registry.imaging.store import FileStore
from registry.models import Grading, GradingKind, WorklistItem
from registry.repositories import users as users_repo
from registry.services.reliability import build_study_report, rater_order
from registry.services.sample_studies import ingest_sample_studies
from tests.api.helpers import assign, endplates, study_body
from tests.conftest import TokenFactory

API = "/api/v1"


class Site:
    """A registry with 4 studies of 4 patients, a researcher and three radiologists."""

    def __init__(self, client: TestClient, auth: TokenFactory):
        self.client = client
        self.researcher = auth("researcher", "res")
        self.raters = {name: auth("radiologist", name) for name in ("rad-a", "rad-b", "rad-c")}
        self.hospital_ids = [f"HOSP-SECRET-{i}" for i in range(4)]
        self.studies: list[dict[str, Any]] = []
        for i, hospital_id in enumerate(self.hospital_ids):
            body = study_body(uid=f"1.2.826.0.1.3680043.8.498.{100 + i}", patient_id=hospital_id)
            response = client.post(f"{API}/studies", json=body, headers=self.raters["rad-c"])
            assert response.status_code == 201, response.text
            self.studies.append(response.json())

    def create(self, **overrides: Any) -> dict[str, Any]:
        body = {
            "name": "Nordic reproducibility 2026",
            "study_ids": [s["id"] for s in self.studies],
            "raters": ["rad-a", "rad-b"],
            "reads_per_rater": 1,
            "washout_days": 0,
            "seed": 20261122,
        } | overrides
        response = self.client.post(f"{API}/reliability-studies", json=body, headers=self.researcher)
        assert response.status_code == 201, response.text
        study: dict[str, Any] = response.json()
        return study

    def worklist(self, rater: str, study_id: str) -> dict[str, Any]:
        response = self.client.get(f"{API}/reliability-studies/{study_id}/worklist", headers=self.raters[rater])
        assert response.status_code == 200, response.text
        worklist: dict[str, Any] = response.json()
        return worklist

    def read(self, rater: str, study_id: str, case: str, body: dict[str, Any]) -> Any:
        return self.client.post(
            f"{API}/reliability-studies/{study_id}/worklist/{case}/grading",
            json={"endplates": body},
            headers=self.raters[rater],
        )

    def read_all(self, rater: str, study_id: str, body: dict[str, Any]) -> None:
        for item in self.worklist(rater, study_id)["items"]:
            response = self.read(rater, study_id, item["case"], body)
            assert response.status_code == 201, response.text


@pytest.fixture
def site(client: TestClient, auth: TokenFactory) -> Site:
    return Site(client, auth)


def _user_id(app: FastAPI, name: str) -> str:
    with session_scope(app.state.engine) as session:
        user = users_repo.user_by_name(session, name)
        assert user is not None
        return user.id


def _backdate_read_1(app: FastAPI, study_id: str, days: int) -> None:
    """Move every completed read-1 item ``days`` into the past (the washout test's clock)."""
    with session_scope(app.state.engine, write=True) as session:
        session.execute(
            update(WorklistItem)
            .where(col(WorklistItem.reliability_study_id) == study_id, col(WorklistItem.read) == 1)
            .values(completed_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=days))
        )
        session.commit()


# --- set-up --------------------------------------------------------------------------------------


def test_researcher_creates_a_study_and_sees_its_key_and_progress(site: Site) -> None:
    study = site.create(reads_per_rater=2, washout_days=14)
    assert study["reads_per_rater"] == 2 and study["washout_days"] == 14 and study["seed"] == 20261122
    assert sorted(c["study_id"] for c in study["cases"]) == sorted(s["id"] for s in site.studies)
    assert all(c["label"].startswith("C-") for c in study["cases"])
    assert study["raters"] == ["rad-a", "rad-b"]
    assert [(p["rater"], p["read"], p["done"], p["total"]) for p in study["progress"]] == [
        ("rad-a", 1, 0, 4),
        ("rad-a", 2, 0, 4),
        ("rad-b", 1, 0, 4),
        ("rad-b", 2, 0, 4),
    ]
    listed = site.client.get(f"{API}/reliability-studies", headers=site.researcher).json()["items"]
    assert [s["id"] for s in listed] == [study["id"]]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"reads_per_rater": 3}, "reads_per_rater 3 is not allowed; allowed: 1, 2"),  # reads 1 or 2 only
        ({"washout_days": -1}, "washout_days -1 is out of range"),  # negative washout
        ({"study_ids": ["nope", "nada"]}, "study_ids: study 'nope' does not exist"),  # unknown case
        ({"raters": ["rad-a", "ghost"]}, "raters: user 'ghost' does not exist"),  # unknown rater
        ({"raters": ["rad-a", "res"]}, "raters: user 'res' has role 'researcher'"),  # raters are radiologists
        ({"raters": ["rad-a"]}, "one rater with one read measures nothing"),  # nothing to compare
        ({"raters": ["rad-a", "rad-a"]}, "raters: give distinct rater names"),  # duplicate rater
        ({"seed": -5}, "seed -5 is out of range"),  # seeds are 31-bit
    ],
)
def test_bad_set_up_is_422(site: Site, overrides: dict[str, Any], message: str) -> None:
    body = {
        "name": "x",
        "study_ids": [s["id"] for s in site.studies],
        "raters": ["rad-a", "rad-b"],
    } | overrides
    response = site.client.post(f"{API}/reliability-studies", json=body, headers=site.researcher)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_only_researchers_and_admins_set_up_and_report(site: Site, auth: TokenFactory) -> None:
    study = site.create()
    body = {"name": "x", "study_ids": [s["id"] for s in site.studies], "raters": ["rad-a", "rad-b"]}
    for role in ("radiologist", "screener"):
        headers = auth(role)
        assert site.client.post(f"{API}/reliability-studies", json=body, headers=headers).status_code == 403
        for suffix in ("", "/report", "/report.csv", "/report.html"):
            assert (
                site.client.get(f"{API}/reliability-studies/{study['id']}{suffix}", headers=headers).status_code == 403
            )
    admin = auth("admin")
    assert site.client.get(f"{API}/reliability-studies/{study['id']}", headers=admin).status_code == 200
    assert site.client.get(f"{API}/reliability-studies/{study['id']}").status_code == 401


# --- worklists -----------------------------------------------------------------------------------


def test_each_rater_has_an_own_seeded_recorded_order(site: Site, app: FastAPI) -> None:
    study = site.create(raters=["rad-a", "rad-b", "rad-c"])
    labels = [c["label"] for c in study["cases"]]
    orders = {}
    for rater in ("rad-a", "rad-b", "rad-c"):
        worklist = site.worklist(rater, study["id"])
        assert worklist["read"] == 1 and worklist["status"] == "open"
        assert [i["position"] for i in worklist["items"]] == [1, 2, 3, 4]
        order = [i["case"] for i in worklist["items"]]
        assert sorted(order) == sorted(labels)
        # the recorded order is the documented seeded shuffle of this rater and read
        assert order == rater_order(study["seed"], rater_pseudonym(_user_id(app, rater)), 1, labels)
        orders[rater] = order
    assert len({tuple(o) for o in orders.values()}) > 1
    # the order is stored: asking again gives the same list
    assert [i["case"] for i in site.worklist("rad-a", study["id"])["items"]] == orders["rad-a"]


def test_a_radiologist_outside_the_study_sees_nothing(site: Site, auth: TokenFactory) -> None:
    study = site.create()
    outsider = auth("radiologist", "rad-z")
    response = site.client.get(f"{API}/reliability-studies/{study['id']}/worklist", headers=outsider)
    assert response.status_code == 404
    assert site.client.get(f"{API}/reliability-studies", headers=outsider).json() == {"items": []}
    mine = site.client.get(f"{API}/reliability-studies", headers=site.raters["rad-a"]).json()["items"]
    assert mine == [{"id": study["id"], "name": study["name"], "reads_per_rater": 1, "washout_days": 0}]


def test_reads_are_final_reliability_gradings_outside_the_clinical_rule(site: Site, app: FastAPI) -> None:
    study = site.create()
    case = site.worklist("rad-a", study["id"])["items"][0]["case"]
    body = endplates(L4_inf={"type": "I", "size": "C"})
    first = site.read("rad-a", study["id"], case, body)
    assert first.status_code == 201, first.text
    assert first.json()["endplates"]["L4_inf"] == {"type": "I", "size": "C", "extension_pct": None}
    again = site.read("rad-a", study["id"], case, body)
    assert again.status_code == 409 and "already graded" in again.json()["detail"]
    bad = site.read(
        "rad-a", study["id"], site.worklist("rad-a", study["id"])["items"][1]["case"], endplates(L4_inf={"type": "I"})
    )
    assert bad.status_code == 422 and "L4_inf" in bad.json()["detail"]
    # the read is a grading of kind reliability; the rater may still record the clinical grading
    with session_scope(app.state.engine) as session:
        kinds = {g.kind for g in session.query(Grading).all()}
    assert kinds == {GradingKind.reliability.value}
    case_study = next(c["study_id"] for c in study["cases"] if c["label"] == case)
    assign(site.client, case_study, "rad-a")  # the clinical grading needs an assignment; the read did not
    clinical = site.client.post(
        f"{API}/studies/{case_study}/gradings", json={"endplates": endplates()}, headers=site.raters["rad-a"]
    )
    assert clinical.status_code == 201, clinical.text
    assert site.worklist("rad-a", study["id"])["items"][0]["done"] is True


def test_case_view_shows_the_series_and_only_the_own_current_read(site: Site) -> None:
    study = site.create()
    case = site.worklist("rad-a", study["id"])["items"][0]["case"]
    url = f"{API}/reliability-studies/{study['id']}/worklist/{case}"
    before = site.client.get(url, headers=site.raters["rad-a"]).json()
    assert before["endplates"] is None and before["read"] == 1 and before["images"] == {}  # registered without images
    assert site.read("rad-a", study["id"], case, endplates(S1_sup={"type": "II", "size": "B"})).status_code == 201
    assert site.client.get(url, headers=site.raters["rad-a"]).json()["endplates"]["S1_sup"]["type"] == "II"
    # the other rater sees the same case without anyone's grading
    assert site.client.get(url, headers=site.raters["rad-b"]).json()["endplates"] is None
    assert (
        site.client.get(
            f"{API}/reliability-studies/{study['id']}/worklist/C-NOPE", headers=site.raters["rad-a"]
        ).status_code
        == 404
    )


def test_read_2_opens_only_after_the_washout_and_hides_read_1(site: Site, app: FastAPI) -> None:
    study = site.create(reads_per_rater=2, washout_days=14)
    site.read_all("rad-a", study["id"], endplates(L5_inf={"type": "II", "size": "C"}))
    waiting = site.worklist("rad-a", study["id"])
    assert (waiting["read"], waiting["status"], waiting["items"]) == (2, "washout", [])
    opens_at = dt.datetime.fromisoformat(waiting["opens_at"])
    assert dt.timedelta(days=13, hours=23) < opens_at - dt.datetime.now(dt.UTC) <= dt.timedelta(days=14)
    case = study["cases"][0]["label"]
    early = site.read("rad-a", study["id"], case, endplates())
    assert early.status_code == 403 and "opens at" in early.json()["detail"]
    assert (
        site.client.get(
            f"{API}/reliability-studies/{study['id']}/worklist/{case}", headers=site.raters["rad-a"]
        ).status_code
        == 403
    )
    # rad-b has not finished read 1 and is unaffected
    assert site.worklist("rad-b", study["id"])["status"] == "open"

    _backdate_read_1(app, study["id"], days=15)
    second = site.worklist("rad-a", study["id"])
    assert (second["read"], second["status"]) == (2, "open")
    order = [i["case"] for i in second["items"]]
    second_labels = [c["read2_label"] for c in study["cases"]]
    assert order == rater_order(study["seed"], rater_pseudonym(_user_id(app, "rad-a")), 2, second_labels)
    view = site.client.get(f"{API}/reliability-studies/{study['id']}/worklist/{order[0]}", headers=site.raters["rad-a"])
    assert view.status_code == 200 and view.json()["read"] == 2 and view.json()["endplates"] is None
    progress = site.client.get(f"{API}/reliability-studies/{study['id']}", headers=site.researcher).json()["progress"]
    assert [(p["rater"], p["read"], p["done"]) for p in progress] == [
        ("rad-a", 1, 4),
        ("rad-a", 2, 0),
        ("rad-b", 1, 0),
        ("rad-b", 2, 0),
    ]


def test_reliability_gradings_are_hidden_from_the_gradings_endpoints(
    site: Site, app: FastAPI, auth: TokenFactory
) -> None:
    study = site.create()
    case = site.worklist("rad-b", study["id"])["items"][0]["case"]
    assert site.read("rad-b", study["id"], case, endplates()).status_code == 201
    with session_scope(app.state.engine) as session:
        grading_id = session.query(Grading).one().id
    for rater in ("rad-a", "rad-b"):
        for suffix in ("", "/history"):
            response = site.client.get(f"{API}/gradings/{grading_id}{suffix}", headers=site.raters[rater])
            assert response.status_code == 404
    amend = site.client.put(
        f"{API}/gradings/{grading_id}",
        json={"endplates": endplates(), "reason": "change"},
        headers={**site.raters["rad-b"], "If-Match": f'"{grading_id}.v1"'},
    )
    assert amend.status_code == 404
    assert site.client.get(f"{API}/gradings/{grading_id}", headers=auth("admin")).status_code == 200


# --- the report ----------------------------------------------------------------------------------


def _complete_study(site: Site, app: FastAPI) -> dict[str, Any]:
    study = site.create(reads_per_rater=2, washout_days=7)
    sick = endplates(L4_inf={"type": "I", "size": "C"}, L5_sup={"type": "II", "size": "A"})
    for rater, body in (("rad-a", sick), ("rad-b", endplates(L4_inf={"type": "I", "size": "B"}))):
        site.read_all(rater, study["id"], body)
    _backdate_read_1(app, study["id"], days=8)
    site.read_all("rad-a", study["id"], sick)
    site.read_all("rad-b", study["id"], endplates(L4_inf={"type": "I/II", "size": "B"}))
    return study


def test_report_json_inter_and_intra(site: Site, app: FastAPI) -> None:
    study = _complete_study(site, app)
    response = site.client.get(f"{API}/reliability-studies/{study['id']}/report?n_boot=50", headers=site.researcher)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["cases"] == 4 and report["complete_reads"] == 16
    inter = {v["variable"]: v for v in report["inter_rater"]["variables"]}
    presence = inter["presence"]
    assert presence["n_units"] == 44 and presence["n_clusters"] == 4
    assert [c["label"] for c in presence["comparisons"]] == ["rad-a vs rad-b", "all raters"]
    pair = presence["comparisons"][0]
    # rad-a marks L4_inf and L5_sup, rad-b only L4_inf, on all 4 cases
    assert pair["confusion"] == [[36, 0], [4, 4]]
    assert {s["name"] for s in pair["statistics"]} >= {"percent_agreement", "cohen_kappa", "gwet_ac1", "pabak"}
    kappa = next(s for s in pair["statistics"] if s["name"] == "cohen_kappa")
    assert kappa["ci_analytic"][0] is not None and kappa["landis_koch"] in {"moderate", "substantial"}
    assert inter["mri:NCT00454792/2012"]["comparisons"][0]["confusion"] == [[0, 0], [0, 4]]
    intra = {v["variable"]: v for v in report["intra_rater"]["variables"]}
    labels = [c["label"] for c in intra["type"]["comparisons"]]
    assert labels == [
        "rad-a read 1 vs rad-a read 2",
        "rad-b read 1 vs rad-b read 2",
        "all raters read 1 vs all raters read 2",
    ]
    a_type = intra["type"]["comparisons"][0]
    assert next(s for s in a_type["statistics"] if s["name"] == "percent_agreement")["value"] == 1.0
    # pooled intra-rater: 2 raters x 4 cases x 11 endplates, clustered by the 4 patients; rad-b's type
    # changes from I to I/II at L4_inf on all 4 cases
    pooled = intra["type"]["comparisons"][2]
    pooled_pa = next(s for s in pooled["statistics"] if s["name"] == "percent_agreement")
    assert (pooled_pa["n_units"], pooled_pa["n_patients"]) == (88, 4)
    assert pooled_pa["value"] == pytest.approx(84 / 88)
    assert pooled_pa["ci_method"] == "wilson-clustered" and pooled_pa["boot_method"] == "bootstrap-patients"


_FORKS: list[int] = []
os.register_at_fork(before=lambda: _FORKS.append(os.getpid()))


def test_a_large_report_is_computed_over_processes_and_is_the_same_report(
    site: Site, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = _complete_study(site, app)
    monkeypatch.setattr(report_processes, "SMALL_REPORT", 0)  # this small study counts as large
    with session_scope(app.state.engine) as session:
        alone = build_study_report(session, study["id"], n_boot=100, processes=1).to_mapping()
        forks = len(_FORKS)
        spread = build_study_report(session, study["id"], n_boot=100, processes=2).to_mapping()
    assert len(_FORKS) - forks >= 1  # its variables were computed in forked workers
    assert json.dumps(spread, sort_keys=True) == json.dumps(alone, sort_keys=True)
    assert {v["variable"] for v in spread["inter_rater"]["variables"]} >= {"presence", "type", "presence@L4_inf"}


def test_report_csv_and_html(site: Site, app: FastAPI) -> None:
    study = _complete_study(site, app)
    base = f"{API}/reliability-studies/{study['id']}"
    as_csv = site.client.get(f"{base}/report.csv?n_boot=20&per_endplate=false", headers=site.researcher)
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert {r["analysis"] for r in rows} == {"inter-rater", "intra-rater"}
    assert any(r["variable"] == "size" and r["statistic"] == "weighted_kappa_quadratic" for r in rows)
    page = site.client.get(f"{base}/report.html?n_boot=20&per_endplate=false", headers=site.researcher)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.count("data:image/png;base64,") >= 4
    assert "confusion matrix of presence, rad-a vs rad-b" in page.text


def test_a_case_shows_its_images_only_through_the_case(app: FastAPI, client: TestClient, auth: TokenFactory) -> None:
    """The blinded slice route renders the case's stacks; no registry id of the study or its series leaks."""
    with session_scope(app.state.engine, write=True) as session:
        lines = ingest_sample_studies(session, FileStore(app.state.settings.data_dir))
    assert len(lines) == 4, lines
    rad = auth("radiologist", "rad-img")
    studies = client.get(f"{API}/studies", headers=auth("admin")).json()["items"]
    body = {
        "name": "blinded images",
        "study_ids": [s["id"] for s in studies],
        "raters": ["rad-img"],
        "reads_per_rater": 2,
        "washout_days": 0,
    }
    created = client.post(f"{API}/reliability-studies", json=body, headers=auth("researcher"))
    assert created.status_code == 201, created.text
    rs = created.json()
    case = client.get(f"{API}/reliability-studies/{rs['id']}/worklist", headers=rad).json()["items"][0]["case"]
    response = client.get(f"{API}/reliability-studies/{rs['id']}/worklist/{case}", headers=rad)
    view = response.json()
    assert set(view["images"]) == {"t1", "t2", "stir"} and view["images"]["t1"]["slices"] == 11
    for study in studies:  # nothing in the case view names a registry study or series
        assert study["id"] not in response.text and study["patient"]["pseudonym"] not in response.text
        assert all(series["id"] not in response.text for series in study["series"])
    png = client.get(view["images"]["t2"]["slice_url"].format(n=5), params={"wc": 500, "ww": 1000}, headers=rad)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    slice_url = view["images"]["t1"]["slice_url"]
    assert client.get(slice_url.format(n=99), headers=rad).status_code == 404  # no such slice
    unknown_role = slice_url.replace("/t1/", "/pd/").format(n=0)
    assert client.get(unknown_role, headers=rad).status_code == 422
    assert client.get(slice_url.format(n=0), headers=auth("radiologist")).status_code == 404  # not on their worklist
    assert client.get(slice_url.format(n=0), headers=auth("screener")).status_code == 403
