"""A reliability study built over HTTP, end to end: the summary table, the GRRAS section, the raw reads
exported and re-analysed with scikit-learn, and each rater's order re-derived from the export."""

from __future__ import annotations

import csv
import hashlib
import io
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sklearn.metrics import cohen_kappa_score

from tests.api.helpers import endplates
from tests.api.test_reliability import API, Site, _backdate_read_1
from tests.conftest import TokenFactory

RATERS = ("rad-a", "rad-b", "rad-c")
SETUP = {
    "raters": [
        {"name": "rad-a", "role": "radiologist", "experience_years": 12},
        {"name": "rad-b", "role": "chiropractor", "experience_years": 4.5},
        {"name": "rad-c", "role": "radiology_resident", "experience_years": 1},
    ],
    "reads_per_rater": 2,
    "washout_days": 7,
    "sampling": "consecutive",
    "sampling_note": "the first four low-field studies of the autumn clinic",
    "blinded_to": ["study_aim"],
}


def _grading(rater: str, read: int, case: int) -> dict[str, Any]:
    """Gradings that disagree in places: rater b misses L5_sup on even cases, rater c types L4_inf I/II
    on read 2, and case 3 has no change for rater a on read 1."""
    changes: dict[str, dict[str, Any]] = {"L4_inf": {"type": "I", "size": "C", "extension_pct": 30.0 + case}}
    if not (rater == "rad-b" and case % 2 == 0):
        changes["L5_sup"] = {"type": "II", "size": "A" if case < 2 else "B"}
    if rater == "rad-c" and read == 2:
        changes["L4_inf"] = {"type": "I/II", "size": "C", "extension_pct": 33.0 + case}
    if rater == "rad-a" and read == 1 and case == 3:
        changes = {}
    return endplates(**changes)


def _rederived(seed: int, rater: str, read: int, labels: list[str]) -> list[str]:
    """The documented derivation: a read's labels sorted by SHA-256 of ``seed:rater:read:label``."""
    return sorted(labels, key=lambda label: hashlib.sha256(f"{seed}:{rater}:{read}:{label}".encode()).hexdigest())


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _read_everything(site: Site, app: FastAPI, study: dict[str, Any]) -> dict[tuple[str, int], list[str]]:
    """Every rater reads every case twice (read 2 after the washout); the worklist orders they saw."""
    index = {c["label"]: i for i, c in enumerate(study["cases"])}
    index |= {c["read2_label"]: i for i, c in enumerate(study["cases"])}
    seen: dict[tuple[str, int], list[str]] = {}
    for read in (1, 2):
        if read == 2:
            _backdate_read_1(app, study["id"], days=8)
        for rater in RATERS:
            worklist = site.worklist(rater, study["id"])
            assert (worklist["read"], worklist["status"]) == (read, "open")
            seen[(rater, read)] = [i["case"] for i in worklist["items"]]
            for label in seen[(rater, read)]:
                response = site.client.post(
                    f"{API}/reliability-studies/{study['id']}/worklist/{label}/grading",
                    json={
                        "endplates": _grading(rater, read, index[label]),
                        "series_viewed": "T2" if read == 1 else "T2+STIR",
                    },
                    headers=site.raters[rater],
                )
                assert response.status_code == 201, response.text
    return seen


@pytest.fixture
def site(client: TestClient, auth: TokenFactory) -> Site:
    return Site(client, auth)


def test_read_2_shows_labels_of_its_own(site: Site, app: FastAPI) -> None:
    created = site.create(**SETUP)
    first = {c["label"] for c in created["cases"]}
    second = {c["read2_label"] for c in created["cases"]}
    assert len(first | second) == 8 and all(label.startswith("C-") for label in second)
    site.read_all("rad-a", created["id"], endplates())
    _backdate_read_1(app, created["id"], days=8)
    worklist = site.worklist("rad-a", created["id"])
    assert worklist["read"] == 2 and {i["case"] for i in worklist["items"]} == second
    # a read-1 label does not open a case on read 2
    old = next(iter(first))
    url = f"{API}/reliability-studies/{created['id']}/worklist/{old}"
    assert site.client.get(url, headers=site.raters["rad-a"]).status_code == 404
    view = site.client.get(url.replace(old, worklist["items"][0]["case"]), headers=site.raters["rad-a"]).json()
    assert view["case"] == worklist["items"][0]["case"] and view["read"] == 2


def test_a_study_built_over_http_reports_and_exports_its_reads(site: Site, app: FastAPI) -> None:
    """The acceptance test: set up with the GRRAS fields, read twice by three raters, then the summary
    table, the GRRAS section, the raw reads (one kappa re-computed by scikit-learn) and the orders."""
    created = site.create(**SETUP)
    seen = _read_everything(site, app, created)
    report = site.client.get(f"{API}/reliability-studies/{created['id']}/report?n_boot=20", headers=site.researcher)
    assert report.status_code == 200, report.text
    _check_summary(site, created, report.json())
    _check_grras(site, created, report.json()["grras"])
    _check_reads_and_orders(site, created, report.json(), seen)


def _check_summary(site: Site, created: dict[str, Any], report: dict[str, Any]) -> None:
    base = f"{API}/reliability-studies/{created['id']}"
    rows = {r["variable"]: r for r in report["summary"]["pooled"]}
    assert {"presence", "type", "size", "beyond_endplate", "contains_I", "type|changed"} <= set(rows)
    presence = rows["presence"]
    # inter: the 3 rater pairs of read 1; the range is theirs, the pooled value Conger's kappa
    inter_variable = next(v for v in report["inter_rater"]["variables"] if v["variable"] == "presence")
    pair_kappas = [
        next(s["value"] for s in c["statistics"] if s["name"] == "cohen_kappa")
        for c in inter_variable["comparisons"]
        if c["kind"] == "pair"
    ]
    inter = presence["inter"]
    assert inter["n_comparisons"] == 3 and inter["statistic"] == "cohen_kappa"
    assert inter["range"] == [pytest.approx(min(pair_kappas)), pytest.approx(max(pair_kappas))]
    assert inter["pooled_statistic"] == "conger_kappa" and inter["ci_method"] == "bootstrap-patients"
    assert (inter["n_units"], inter["n_patients"]) == (44, 4)
    # intra: each rater's two reads, pooled over the 3 raters (3 x 44 units, 4 patients)
    intra = presence["intra"]
    assert intra["n_comparisons"] == 3 and intra["pooled_statistic"] == "cohen_kappa"
    assert (intra["n_units"], intra["n_patients"]) == (132, 4) and intra["ci_method"] == "analytic-clustered"
    assert intra["range"][0] < intra["range"][1] == 1.0 and intra["ci"][0] < intra["pooled"] < intra["ci"][1]
    assert rows["size"]["inter"]["statistic"] == "weighted_kappa_quadratic"
    assert rows["size"]["inter"]["pooled_statistic"] == "conger_kappa_quadratic"
    per_endplate = report["summary"]["per_endplate"]
    assert [r["endplate"] for r in per_endplate if r["variable"] == "presence"][:3] == ["L1_sup", "L1_inf", "L2_sup"]
    l4 = next(r for r in per_endplate if r["variable"] == "type" and r["endplate"] == "L4_inf")
    assert l4["inter"]["n_units"] == 4 and l4["intra"]["n_units"] == 12

    as_csv = _rows(site.client.get(f"{base}/report.csv?n_boot=20&table=summary", headers=site.researcher).text)
    presence_inter = next(r for r in as_csv if r["variable"] == "presence" and r["analysis"] == "inter-rater")
    assert float(presence_inter["pooled"]) == pytest.approx(inter["pooled"])
    assert presence_inter["ci_method"] == "bootstrap-patients" and presence_inter["n_units"] == "44"
    endplate_csv = _rows(site.client.get(f"{base}/report.csv?n_boot=20&table=endplates", headers=site.researcher).text)
    assert {r["endplate"] for r in endplate_csv} >= {"L4_inf", "S1_sup"}
    page = site.client.get(f"{base}/report.html?n_boot=20", headers=site.researcher).text
    assert "<table class='summary'>" in page and "<table class='endplates'>" in page
    assert "conger_kappa" in page and "analytic-clustered" in page
    assert "Design and conduct (GRRAS)" in page and "consecutive" in page and "Standard errors and weights" in page


def _check_grras(site: Site, created: dict[str, Any], grras: dict[str, Any]) -> None:
    base = f"{API}/reliability-studies/{created['id']}"
    assert grras["sampling"] == {
        "method": "consecutive",
        "note": "the first four low-field studies of the autumn clinic",
        "cases": 4,
        "patients": 4,
    }
    raters = {r["rater"]: r for r in grras["raters"]}
    assert (raters["rad-b"]["role"], raters["rad-b"]["experience_years"]) == ("chiropractor", 4.5)
    assert raters["rad-a"]["pseudonym"].startswith("R-")
    for rater in raters.values():
        assert [(r["read"], r["planned"], r["done"], r["missing"]) for r in rater["reads"]] == [
            (1, 4, 4, 0),
            (2, 4, 4, 0),
        ]
        assert rater["reads"][0]["series_viewed"]["T2"] == 4 and rater["reads"][1]["series_viewed"]["T2+STIR"] == 4
        interval = rater["interval_days"]
        assert interval["n"] == 4 and 7.9 < interval["min"] <= interval["median"] <= interval["max"] < 8.1
    blinded = {b["item"]: b["enforced_by_service"] for b in grras["blinded_to"]}
    assert blinded["study_aim"] is False and blinded["other_raters"] is True and blinded["own_earlier_read"] is True
    assert grras["washout_days_planned"] == 7 and grras["missing_reads"]["count"] == 0
    assert "available-case" in grras["missing_reads"]["handling"]
    assert "unrelated to its read-1 label" in grras["read_2_labels"]
    assert grras["order"]["seed"] == created["seed"] and grras["order"]["scheme"] == "sha256"
    methods = {m["statistic"]: m for m in grras["methods"]}
    assert "Fleiss, Cohen & Everitt" in methods["cohen_kappa"]["standard_error"]
    assert "quadratic" in methods["weighted_kappa_quadratic"]["weights"]
    raters_csv = _rows(site.client.get(f"{base}/report.csv?n_boot=20&table=raters", headers=site.researcher).text)
    assert len(raters_csv) == 6 and {r["role"] for r in raters_csv} == {
        "radiologist",
        "chiropractor",
        "radiology_resident",
    }


def _check_reads_and_orders(
    site: Site, created: dict[str, Any], report: dict[str, Any], seen: dict[tuple[str, int], list[str]]
) -> None:
    base = f"{API}/reliability-studies/{created['id']}"
    response = site.client.get(f"{base}/reads.csv", headers=site.researcher)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    text = response.text
    for secret in [
        *site.hospital_ids,
        *(s["id"] for s in site.studies),
        *(s["study_instance_uid"] for s in site.studies),
    ]:
        assert secret not in text
    reads = _rows(text)
    assert len(reads) == 3 * 2 * 4 * 11
    assert set(reads[0]) >= {"case", "read_label", "patient", "rater", "read", "endplate", "type", "size",
                             "extension_pct", "series_viewed", "read_at"}  # fmt: skip
    assert all(r["patient"].startswith("P-") and r["rater"].startswith("R-") for r in reads)
    assert {r["read_at"][-1] for r in reads} == {"Z"}
    first_reads = [r for r in reads if r["read"] == "1"]
    assert all(r["read_label"] == r["case"] for r in first_reads)
    assert all(r["read_label"] != r["case"] for r in reads if r["read"] == "2")

    # one kappa re-computed with scikit-learn from the export equals the report's
    pseudonym = {r["rater"]: r["pseudonym"] for r in report["grras"]["raters"]}
    by_rater: dict[str, dict[tuple[str, str], str]] = {}
    for r in first_reads:
        by_rater.setdefault(r["rater"], {})[(r["case"], r["endplate"])] = r["type"]
    keys = sorted(by_rater[pseudonym["rad-a"]])
    expected = cohen_kappa_score(
        [by_rater[pseudonym["rad-a"]][k] for k in keys], [by_rater[pseudonym["rad-b"]][k] for k in keys]
    )
    type_report = next(v for v in report["inter_rater"]["variables"] if v["variable"] == "type")
    pair = next(c for c in type_report["comparisons"] if c["label"] == "rad-a vs rad-b")
    assert next(s["value"] for s in pair["statistics"] if s["name"] == "cohen_kappa") == pytest.approx(
        expected, abs=1e-12
    )
    assert 0 < expected < 1

    wide = _rows(site.client.get(f"{base}/reads.csv?shape=wide", headers=site.researcher).text)
    assert len(wide) == 4 * 11
    column = f"type_{pseudonym['rad-a'].replace('-', '')}_r2"
    assert column in wide[0] and {w[column] for w in wide} >= {"none", "I", "II"}

    # the orders re-derived from the export: sort a read's labels by SHA-256 of seed:rater:read:label
    orders = _rows(site.client.get(f"{base}/orders.csv", headers=site.researcher).text)
    assert {o["seed"] for o in orders} == {str(created["seed"])} and {o["order_scheme"] for o in orders} == {"sha256"}
    for name in RATERS:
        for read in (1, 2):
            mine = sorted(
                (o for o in orders if o["rater"] == pseudonym[name] and o["read"] == str(read)),
                key=lambda o: int(o["position"]),
            )
            exported = [o["read_label"] for o in mine]
            assert _rederived(created["seed"], pseudonym[name], read, exported) == exported == seen[(name, read)]


def test_raw_reads_are_for_researchers_and_admins(site: Site, auth: TokenFactory) -> None:
    created = site.create(**SETUP)
    for suffix in ("/reads.csv", "/reads.csv?shape=wide", "/orders.csv"):
        url = f"{API}/reliability-studies/{created['id']}{suffix}"
        for role in ("radiologist", "screener", "allocation_manager"):
            assert site.client.get(url, headers=auth(role)).status_code == 403
        assert site.client.get(url, headers=site.raters["rad-a"]).status_code == 403
        assert site.client.get(url, headers=auth("admin")).status_code == 200
        assert site.client.get(url).status_code == 401
    bad = site.client.get(f"{API}/reliability-studies/{created['id']}/reads.csv?shape=tall", headers=site.researcher)
    assert bad.status_code == 422 and "shape" in bad.text


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"sampling": "haphazard"}, "sampling"),
        ({"blinded_to": ["everything"]}, "blinded_to"),
        ({"raters": [{"name": "rad-a", "role": "wizard"}, "rad-b"]}, "role"),
    ],
)
def test_bad_grras_set_up_is_422_naming_the_field(site: Site, overrides: dict[str, Any], field: str) -> None:
    body = {"name": "x", "study_ids": [s["id"] for s in site.studies], "raters": ["rad-a", "rad-b"]} | overrides
    response = site.client.post(f"{API}/reliability-studies", json=body, headers=site.researcher)
    assert response.status_code == 422 and field in response.text


def test_experience_out_of_range_is_422(site: Site) -> None:
    body = {
        "name": "x",
        "study_ids": [s["id"] for s in site.studies],
        "raters": [{"name": "rad-a", "experience_years": 90}, "rad-b"],
    }
    response = site.client.post(f"{API}/reliability-studies", json=body, headers=site.researcher)
    assert response.status_code == 422
    assert "experience_years 90.0 of 'rad-a' is out of range; allowed: 0 to 70" in response.json()["detail"]


def test_a_full_protocol_study_reports_and_exports_its_own_variables(site: Site) -> None:
    created = site.create(raters=["rad-a"], reads_per_rater=2, protocol="nordic-2007-full")
    change = {"type": "I", "size": "C", "location": "anterior", "volume": "lt25", "endplate_area": "25to50"}
    site.read_all("rad-a", created["id"], endplates(L4_inf=change))
    site.read_all("rad-a", created["id"], endplates(L4_inf={**change, "location": "posterior"}))
    base = f"{API}/reliability-studies/{created['id']}"
    report = site.client.get(f"{base}/report?n_boot=20&per_endplate=false", headers=site.researcher).json()
    location = next(r for r in report["summary"]["pooled"] if r["variable"] == "location")
    # the pooled intra-rater comparison carries the protocol's own variables too
    assert location["inter"] is None and location["intra"]["n_units"] == 44
    assert location["intra"]["pooled"] == location["intra"]["range"][0] < 1
    reads = _rows(site.client.get(f"{base}/reads.csv", headers=site.researcher).text)
    assert {(r["read"], r["location"]) for r in reads if r["endplate"] == "L4_inf"} == {
        ("1", "anterior"),
        ("2", "posterior"),
    }
