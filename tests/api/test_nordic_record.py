"""The grading API carries not-assessable endplates, the numbering reference and the protocol;
GET /protocols lists the versions; a reliability study under nordic-2007-full reports every variable
and the not-assessable endplates per rater."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import assigning, endplates, study_body
from tests.conftest import TokenFactory

API = "/api/v1"
NUMBERING = {"reference": "last_rib", "transitional": "sacralised_l5"}


@pytest.fixture
def auth(auth: TokenFactory, client: TestClient) -> TokenFactory:
    return assigning(auth, client)


@pytest.fixture
def study_id(client: TestClient, auth: TokenFactory) -> str:
    response = client.post(f"{API}/studies", json=study_body(), headers=auth("radiologist"))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_not_assessable_and_numbering_round_trip_through_entry_read_and_history(
    client: TestClient, auth: TokenFactory, study_id: str
) -> None:
    headers = auth("radiologist", "rad-a")
    body = {
        "endplates": endplates(
            S1_sup={"not_assessable": "transitional", "note": "six lumbar-type vertebrae"},
            L4_inf={"type": "I", "size": "C"},
        ),
        "numbering": NUMBERING,
    }
    created = client.post(f"{API}/studies/{study_id}/gradings", json=body, headers=headers)
    assert created.status_code == 201, created.text
    grading = created.json()
    assert grading["endplates"]["S1_sup"] == {"not_assessable": "transitional", "note": "six lumbar-type vertebrae"}
    assert grading["endplates"]["L4_inf"] == {"type": "I", "size": "C", "extension_pct": None}
    assert grading["numbering"] == NUMBERING and grading["protocol"] == "nordic-2007"
    assert client.get(f"{API}/gradings/{grading['id']}", headers=headers).json() == grading
    amended = {
        "endplates": endplates(S1_sup={"type": "II", "size": "A"}, L5_inf={"not_assessable": "artefact"}),
        "numbering": {"reference": "sacrum", "transitional": "none"},
        "reason": "S1 identified on the localiser",
    }
    response = client.put(
        f"{API}/gradings/{grading['id']}", json=amended, headers={**headers, "If-Match": created.headers["ETag"]}
    )
    assert response.status_code == 200, response.text
    history = client.get(f"{API}/gradings/{grading['id']}/history", headers=headers).json()["items"]
    assert [h["endplates"]["S1_sup"] for h in history] == [
        {"not_assessable": "transitional", "note": "six lumbar-type vertebrae"},
        {"type": "II", "size": "A", "extension_pct": None},
    ]
    assert history[1]["endplates"]["L5_inf"] == {"not_assessable": "artefact", "note": None}
    assert [h["numbering"]["reference"] for h in history] == ["last_rib", "sacrum"]
    assert [h["protocol"] for h in history] == ["nordic-2007", "nordic-2007"]


def test_a_grading_without_the_new_fields_behaves_as_before(
    client: TestClient, auth: TokenFactory, study_id: str
) -> None:
    body = {"endplates": endplates(L4_inf={"type": "I", "extension_pct": 2})}
    grading = client.post(f"{API}/studies/{study_id}/gradings", json=body, headers=auth("radiologist")).json()
    assert grading["protocol"] == "nordic-2007" and grading["numbering"] is None
    # extension_pct is measured beyond the endplate: 2 % is "B: > endplate to 25%" (Figure 1)
    assert grading["endplates"]["L4_inf"] == {"type": "I", "size": "B", "extension_pct": 2.0}


@pytest.mark.parametrize(
    ("body", "endplate", "field", "message"),
    [
        (
            {"endplates": endplates(L5_inf={"not_assessable": "blurry"})},
            "L5_inf",
            "not_assessable",
            "allowed: artefact, outside_fov, transitional, other",
        ),
        (
            {"endplates": endplates(L5_inf={"not_assessable": "other"})},
            "L5_inf",
            "note",
            "needs a note",
        ),
        (
            {
                "endplates": endplates(L4_inf={"type": "I", "size": "B", "location": "left"}),
                "protocol": "nordic-2007-full",
            },
            "L4_inf",
            "location",
            "location 'left' is not allowed; allowed: anterior, middle, posterior",
        ),
        (
            {"endplates": endplates(L4_inf={"type": "I", "size": "B", "location": "anterior"})},
            "L4_inf",
            "location",
            "unknown field 'location'",
        ),
        (
            {"endplates": endplates(), "protocol": "nordic-1999"},
            None,
            "protocol",
            "allowed: nordic-2007, nordic-2007-full",
        ),
        (
            {"endplates": endplates(), "numbering": {"reference": "sacrum", "transitional": "lumbar"}},
            None,
            "numbering.transitional",
            "allowed: none, lumbarised_s1, sacralised_l5",
        ),
    ],
)
def test_bad_input_is_422_naming_endplate_field_and_allowed_values(
    client: TestClient,
    auth: TokenFactory,
    study_id: str,
    body: dict[str, Any],
    endplate: str | None,
    field: str,
    message: str,
) -> None:
    response = client.post(f"{API}/studies/{study_id}/gradings", json=body, headers=auth("radiologist"))
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert (error["endplate"], error["field"]) == (endplate, field) and message in error["message"]


def test_full_protocol_grading_carries_its_variables(client: TestClient, auth: TokenFactory, study_id: str) -> None:
    entry = {"type": "I/II", "size": "D", "location": "entire", "volume": "gt50", "endplate_area": "gt50"}
    body = {
        "endplates": endplates(L5_inf=entry, S1_sup={"type": "none", "osteophytes": "yes"}),
        "protocol": "nordic-2007-full",
    }
    grading = client.post(f"{API}/studies/{study_id}/gradings", json=body, headers=auth("radiologist")).json()
    assert grading["protocol"] == "nordic-2007-full"
    assert grading["endplates"]["L5_inf"] == {**entry, "extension_pct": None}
    assert grading["endplates"]["S1_sup"] == {"type": "none", "size": None, "extension_pct": None, "osteophytes": "yes"}


def test_protocols_lists_versions_variables_and_categories(client: TestClient, auth: TokenFactory) -> None:
    assert client.get(f"{API}/protocols").status_code == 401
    listing = client.get(f"{API}/protocols", headers=auth("screener")).json()
    assert listing["default"] == "nordic-2007"
    by_id = {p["id"]: p for p in listing["items"]}
    assert [v["name"] for v in by_id["nordic-2007"]["variables"]] == ["type", "size"]
    full = {v["name"]: v for v in by_id["nordic-2007-full"]["variables"]}
    assert full["size"]["level"] == "ordinal" and "A: Endplate only" in full["size"]["quote"]
    assert [c["value"] for c in full["osteophytes"]["categories"]] == ["no", "yes"]
    assert full["development"]["requires_prior"] is True


def _reliability(
    client: TestClient, auth: TokenFactory, protocol: str | None
) -> tuple[str, list[str], dict[str, dict[str, str]]]:
    studies = [
        client.post(f"{API}/studies", json=study_body(f"1.2.3.{i}", f"H-{i}"), headers=auth("admin")).json()["id"]
        for i in range(4)
    ]
    raters = {name: auth("radiologist", name) for name in ("rad-a", "rad-b")}
    body = {"name": "full", "study_ids": studies, "raters": ["rad-a", "rad-b"], "seed": 7, "protocol": protocol}
    created = client.post(f"{API}/reliability-studies", json=body, headers=auth("researcher"))
    assert created.status_code == 201, created.text
    return created.json()["id"], [c["label"] for c in created.json()["cases"]], raters


def test_reliability_study_under_the_full_protocol_reports_every_variable(
    client: TestClient, auth: TokenFactory
) -> None:
    study, labels, raters = _reliability(client, auth, "nordic-2007-full")
    change = {"type": "I", "size": "C", "location": "anterior", "volume": "lt25", "endplate_area": "25to50"}
    for rater in ("rad-a", "rad-b"):
        headers = raters[rater]
        for i, label in enumerate(labels):
            unread = {"S1_sup": {"not_assessable": "artefact"}} if rater == "rad-b" and i < 2 else {}
            body = {"endplates": endplates(L4_inf={**change, "osteophytes": "yes", "irregular_endplate": "no",
                                                    "endplate_defect": "no"}, **unread)}  # fmt: skip
            case = client.get(f"{API}/reliability-studies/{study}/worklist/{label}", headers=headers).json()
            assert case["protocol"] == "nordic-2007-full"
            response = client.post(
                f"{API}/reliability-studies/{study}/worklist/{label}/grading", json=body, headers=headers
            )
            assert response.status_code == 201, response.text
    report = client.get(f"{API}/reliability-studies/{study}/report?n_boot=20", headers=auth("researcher")).json()
    assert report["study"]["protocol"] == "nordic-2007-full"
    assert report["not_assessable"] == {"rad-a": 0, "rad-b": 2}
    variables = {v["variable"]: v for v in report["inter_rater"]["variables"]}
    levels = {
        "type": "nominal", "size": "ordinal", "location": "nominal", "volume": "ordinal",
        "endplate_area": "ordinal", "osteophytes": "nominal", "endplate_defect": "nominal",
        "irregular_endplate": "nominal", "development": "nominal",
    }  # fmt: skip
    for name, level in levels.items():
        assert variables[name]["level"] == level, name
        assert f"{name}@L4_inf" in variables
    # S1_sup of two cases is missing for rad-b: only the two other cases are units with two ratings
    s1 = variables["type@S1_sup"]["comparisons"][0]["statistics"][0]
    assert s1["n_units"] == 2


def test_reliability_read_is_validated_against_the_study_protocol(client: TestClient, auth: TokenFactory) -> None:
    study, labels, raters = _reliability(client, auth, None)
    body = {"endplates": endplates(L4_inf={"type": "I", "size": "B", "location": "anterior"})}
    response = client.post(
        f"{API}/reliability-studies/{study}/worklist/{labels[0]}/grading",
        json=body,
        headers=raters["rad-a"],
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "location"


def test_development_over_time_needs_the_patients_prior_graded_study(client: TestClient, auth: TokenFactory) -> None:
    headers = auth("radiologist", "rad-a")
    first = {**study_body("1.2.3.40", "H-PRIOR"), "study_date": "2024-01-10"}
    second = {**study_body("1.2.3.41", "H-PRIOR"), "study_date": "2026-01-10"}
    baseline = client.post(f"{API}/studies", json=first, headers=headers).json()["id"]
    follow_up = client.post(f"{API}/studies", json=second, headers=headers).json()["id"]
    developed = {
        "endplates": endplates(L4_inf={"type": "I", "size": "B", "development": "new"}),
        "protocol": "nordic-2007-full",
    }
    prior = f"{API}/studies/{follow_up}/prior"
    assert client.get(prior, headers=headers).json()["prior_graded_study"] is None
    refused = client.post(f"{API}/studies/{follow_up}/gradings", json=developed, headers=headers)
    assert refused.status_code == 422, refused.text
    (error,) = refused.json()["errors"]
    assert (error["endplate"], error["field"]) == ("L4_inf", "development") and "prior graded study" in error["message"]
    assert (
        client.post(f"{API}/studies/{baseline}/gradings", json={"endplates": endplates()}, headers=headers).status_code
        == 201
    )
    assert client.get(prior, headers=headers).json()["prior_graded_study"] == baseline
    accepted = client.post(f"{API}/studies/{follow_up}/gradings", json=developed, headers=headers)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["endplates"]["L4_inf"]["development"] == "new"
    # the baseline has no earlier study: nothing to compare with
    assert client.get(f"{API}/studies/{baseline}/prior", headers=headers).json()["prior_graded_study"] is None
    assert client.get(f"{API}/studies/nope/prior", headers=headers).status_code == 404
    # the old address of the same answer is gone (one endpoint for the prior study)
    assert client.get(f"{API}/studies/{follow_up}/prior-graded-study", headers=headers).status_code == 404
    assert client.get(prior, headers=auth("screener")).status_code == 403
