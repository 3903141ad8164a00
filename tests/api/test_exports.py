"""Analysis exports: roles, pseudonyms only, long/wide gradings, eligibility, Stata labels, Parquet,
the codebook and the REDCap instrument."""

from __future__ import annotations

import csv
import io
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from grading.endplates import ENDPLATES
from grading.nordic import TYPE_LABELS
from registry.exports.codebook import MODIC_SIZE, MODIC_TYPE, NOT_ASSESSABLE
from tests.api.helpers import endplates, study_body
from tests.conftest import TokenFactory

EXPORTS = [
    "gradings.csv",
    "gradings.dta?shape=wide",
    "gradings.parquet",
    "eligibility.csv?trial=NCT00454792",
    "eligibility.dta?trial=NCT03100266",
    "redcap/dictionary.csv",
    "redcap/records.csv",
    "codebook.json",
]


@pytest.fixture
def graded(client: TestClient, auth: TokenFactory) -> dict[str, Any]:
    """Two patients: one graded and amended (v2), one graded once and screened for NCT00454792."""
    rad = auth("radiologist", "dr-hansen")
    first = client.post("/api/v1/studies", json=study_body(), headers=rad).json()
    second = client.post(
        "/api/v1/studies", json=study_body("1.2.826.0.1.3680043.8.498.2", "HOSP-0002"), headers=rad
    ).json()
    body = {"endplates": endplates(L4_inf={"type": "I", "size": "B"})}
    one = client.post(f"/api/v1/studies/{first['id']}/gradings", json=body, headers=rad)
    amended = client.put(
        f"/api/v1/gradings/{one.json()['id']}",
        json={"endplates": endplates(L4_inf={"type": "II/I", "size": "C", "extension_pct": 40}), "reason": "re-read"},
        headers={**rad, "If-Match": one.headers["ETag"]},
    )
    assert amended.status_code == 200, amended.text
    two = client.post(
        f"/api/v1/studies/{second['id']}/gradings",
        json={"endplates": endplates(S1_sup={"type": "III", "size": "A"})},
        headers=rad,
    )
    assert two.status_code == 201, two.text
    pseudonyms = [first["patient"]["pseudonym"], second["patient"]["pseudonym"]]
    answers = {"age_years": 45, "nrs_back": 6, "nrs_leg": 2, "danish": True, "other_disorder": False}
    screened = client.patch(
        f"/api/v1/patients/{pseudonyms[1]}/screening/NCT00454792", json={"answers": answers}, headers=auth("screener")
    )
    assert screened.status_code == 200, screened.text
    return {"pseudonyms": pseudonyms, "gradings": [one.json()["id"], two.json()["id"]]}


def _get(client: TestClient, headers: dict[str, str], url: str) -> Any:
    response = client.get(f"/api/v1/exports/{url}", headers=headers)
    assert response.status_code == 200, response.text
    return response


@pytest.mark.parametrize("url", EXPORTS)
@pytest.mark.parametrize("role", ["radiologist", "screener"])
def test_other_roles_are_refused(client: TestClient, auth: TokenFactory, url: str, role: str) -> None:
    response = client.get(f"/api/v1/exports/{url}", headers=auth(role))
    assert response.status_code == 403 and "researcher" in response.json()["detail"]


@pytest.mark.parametrize("url", EXPORTS)
def test_exports_name_patients_by_pseudonym_only(
    client: TestClient, auth: TokenFactory, graded: dict[str, Any], url: str
) -> None:
    content = _get(client, auth("researcher"), url).content
    for identifying in (b"HOSP-0001", b"HOSP-0002", b"dr-hansen", b"1.2.826.0.1.3680043.8.498"):
        assert identifying not in content
    assert client.get(f"/api/v1/exports/{url}", headers=auth("admin")).status_code == 200
    assert client.get(f"/api/v1/exports/{url}").status_code == 401


def test_long_csv_has_a_row_per_version_and_endplate(
    client: TestClient, auth: TokenFactory, graded: dict[str, Any]
) -> None:
    rows = list(csv.DictReader(io.StringIO(_get(client, auth("researcher"), "gradings.csv?shape=long").text)))
    assert len(rows) == 3 * 11  # grading 1 at versions 1 and 2, grading 2 at version 1
    first = [r for r in rows if r["grading_id"] == graded["gradings"][0]]
    assert [r["version"] for r in first] == ["1"] * 11 + ["2"] * 11
    assert [r["endplate"] for r in first[:11]] == [e.value for e in ENDPLATES]
    v1, v2 = (next(r for r in first if r["endplate"] == "L4_inf" and r["version"] == v) for v in ("1", "2"))
    assert (v1["type"], v1["size"], v1["ext"], v1["beyond"]) == ("I", "B", "", "yes")
    assert (v2["type"], v2["size"], v2["ext"], v2["na"]) == ("I/II", "C", "40", "assessed")
    none = next(r for r in first if r["endplate"] == "L1_sup")
    assert (none["type"], none["size"], none["mc"], none["beyond"]) == ("none", "none", "no", "no")
    history = client.get(f"/api/v1/gradings/{graded['gradings'][0]}/history", headers=auth("admin")).json()["items"]
    assert pd.Timestamp(v2["recorded_at"]) == pd.Timestamp(history[1]["at"])  # UTC, to the microsecond
    assert v2["study_date"] == "2026-10-01"
    assert {r["rater"] for r in rows} == {rows[0]["rater"]} and rows[0]["rater"].startswith("R-")
    assert {r["patient"] for r in rows} == set(graded["pseudonyms"])


def test_dta_reads_back_with_the_vocabulary_as_value_labels(
    client: TestClient, auth: TokenFactory, graded: dict[str, Any]
) -> None:
    content = _get(client, auth("researcher"), "gradings.dta?shape=long").content
    frame = pd.read_stata(io.BytesIO(content))
    assert len(frame) == 33
    amended = frame[(frame["version"] == 2) & (frame["endplate"] == "L4_inf")].iloc[0]
    assert (amended["type"], amended["size"], amended["ext"]) == ("I/II", "C", 40.0)
    with pd.io.stata.StataReader(io.BytesIO(content)) as reader:
        reader.read()
        value_labels = reader.value_labels()
        variable_labels = reader.variable_labels()
    assert value_labels["type"] == {i: label for i, label in enumerate(TYPE_LABELS)}
    assert value_labels["type"] == MODIC_TYPE.labels
    assert value_labels["size"] == {0: "none", 1: "A", 2: "B", 3: "C", 4: "D"} == MODIC_SIZE.labels
    assert value_labels["na"] == NOT_ASSESSABLE.labels
    assert value_labels["endplate"] == {i: e.value for i, e in enumerate(ENDPLATES, start=1)}
    assert variable_labels["type"] == "Modic type" and variable_labels["patient"] == "Patient pseudonym"
    codes = pd.read_stata(io.BytesIO(content), convert_categoricals=False)
    assert str(codes["type"].dtype) == "int8"  # labelled integers
    assert codes.loc[(codes["version"] == 2) & (codes["endplate"] == 8), "type"].tolist() == [MODIC_TYPE.code("I/II")]


def test_wide_form_has_one_row_per_patient_at_the_current_version(
    client: TestClient, auth: TokenFactory, graded: dict[str, Any]
) -> None:
    headers = auth("researcher")
    frame = pd.read_stata(io.BytesIO(_get(client, headers, "gradings.dta?shape=wide").content))
    assert sorted(frame["patient"]) == sorted(graded["pseudonyms"])
    assert all(f"{e.value.lower()}_{v}" in frame.columns for e in ENDPLATES for v in ("type", "size", "ext", "na"))
    first = frame.set_index("patient").loc[graded["pseudonyms"][0]]
    assert (first["version"], first["l4_inf_type"], first["l4_inf_size"]) == (2, "I/II", "C")
    table = pq.read_table(io.BytesIO(_get(client, headers, "gradings.parquet?shape=wide").content))
    assert table.num_rows == 2 and pa.types.is_dictionary(table.schema.field("l4_inf_type").type)
    assert table.schema.field("l4_inf_type").metadata[b"label"] == b"L4 inferior: Modic type"
    assert table.column("l4_inf_type").to_pylist() in (["I/II", "none"], ["none", "I/II"])
    from_csv = pd.read_csv(io.StringIO(_get(client, headers, "gradings.csv?shape=wide").text))
    assert from_csv.set_index("patient").loc[graded["pseudonyms"][1], "s1_sup_type"] == "III"


def test_eligibility_export_has_each_criterion_and_the_answers(
    client: TestClient, auth: TokenFactory, graded: dict[str, Any]
) -> None:
    headers = auth("researcher")
    rows = {
        r["patient"]: r
        for r in csv.DictReader(io.StringIO(_get(client, headers, "eligibility.csv?trial=NCT00454792").text))
    }
    first, second = (rows[p] for p in graded["pseudonyms"])
    assert first["status"] == "pending" and first["c_mri_mc_beyond_endplate"] == "met"
    assert second["status"] == "ineligible" and second["c_mri_mc_beyond_endplate"] == "not_met"
    assert (second["a_age_years"], second["a_danish"], second["c_age"], second["c_willing"]) == (
        "45",
        "yes",
        "met",
        "unknown",
    )
    assert first["a_age_years"] == "" and first["grading_version"] == "2"
    frame = pd.read_stata(
        io.BytesIO(_get(client, headers, "eligibility.dta?trial=NCT00454792&version=2007-registry").content)
    )
    assert set(frame["rule_version"]) == {"2007-registry"} and "c_mri_any_mc" in frame.columns
    assert set(frame["c_mri_any_mc"]) == {"met"}


@pytest.mark.parametrize(
    ("url", "status", "fragment"),
    [
        ("gradings.xlsx", 404, "allowed: csv, dta, parquet"),  # a format not offered
        ("eligibility.parquet?trial=NCT00454792", 404, "allowed: csv, dta"),
        ("gradings.csv?shape=tall", 422, "shape"),  # an unknown shape
        ("eligibility.csv", 422, "trial"),  # the trial is required
        ("eligibility.csv?trial=NCT00454792&version=1999", 422, "allowed: 2012, 2007-registry"),
    ],
)
def test_bad_export_requests_are_4xx(
    client: TestClient, auth: TokenFactory, url: str, status: int, fragment: str
) -> None:
    response = client.get(f"/api/v1/exports/{url}", headers=auth("researcher"))
    assert response.status_code == status and fragment in response.json()["detail"]


def test_codebook_lists_variables_categories_and_nordic_definitions(client: TestClient, auth: TokenFactory) -> None:
    book = _get(client, auth("admin"), "codebook.json").json()
    long = {v["name"]: v for v in book["datasets"]["gradings_long"]["variables"]}
    assert [c["label"] for c in long["type"]["categories"]] == list(TYPE_LABELS)
    assert [c["code"] for c in long["size"]["categories"]] == [0, 1, 2, 3, 4]
    # 7 identifying the grading, protocol and numbering (3), then per endplate 6 core + 7 protocol variables
    assert len(book["datasets"]["gradings_wide"]["variables"]) == 7 + 3 + 11 * (6 + 7)
    assert [p["id"] for p in book["nordic"]["protocols"]] == ["nordic-2007", "nordic-2007-full"]
    assert [c["label"] for c in long["numbering_ref"]["categories"]] == ["not_recorded", "sacrum", "last_rib", "other"]
    assert {"eligibility_NCT00454792_2012", "eligibility_NCT03100266_2018-registry"} <= set(book["datasets"])
    sizes = {c["label"]: c["definition"] for c in book["nordic"]["sizes"]}
    assert "25 %" in sizes["B"] and "50 %" in sizes["D"]
    assert [c["label"] for c in book["nordic"]["not_assessable"]][1:] == [
        "artefact",
        "outside_fov",
        "transitional",
        "other",
    ]
    eligibility = {v["name"]: v for v in book["datasets"]["eligibility_NCT03100266_2018-registry"]["variables"]}
    assert eligibility["a_antibiotics_over_2_weeks_3_months"]["stata_name"] == "a_antibiotics_over_2_weeks_3_mon"


@pytest.mark.parametrize("url", [u for u in EXPORTS if not u.startswith("codebook")])
def test_an_empty_registry_exports_headers_only(client: TestClient, auth: TokenFactory, url: str) -> None:
    response = _get(client, auth("researcher"), url)
    if url.endswith(".csv") or ".csv?" in url:
        lines = response.text.splitlines()
        assert len(lines) == (1 + 5 + 3 + 11 * (4 + 7) if "dictionary" in url else 1)  # the dictionary is never empty
    elif ".dta" in url:
        assert len(pd.read_stata(io.BytesIO(response.content))) == 0
    else:
        assert pq.read_table(io.BytesIO(response.content)).num_rows == 0


def test_full_protocol_variables_and_numbering_are_exported(client: TestClient, auth: TokenFactory) -> None:
    """A grading under nordic-2007-full with a numbering reference: its protocol, numbering and extra
    variables reach the long and wide CSV, the .dta value labels and the REDCap records."""
    rad = auth("radiologist", "dr-hansen")
    study = client.post("/api/v1/studies", json=study_body(), headers=rad).json()
    entry = {"type": "I/II", "size": "D", "location": "entire", "volume": "gt50", "endplate_area": "gt50"}
    body = {
        "endplates": endplates(L5_inf=entry, S1_sup={"type": "none", "osteophytes": "yes"}),
        "protocol": "nordic-2007-full",
        "numbering": {"reference": "last_rib", "transitional": "sacralised_l5"},
    }
    created = client.post(f"/api/v1/studies/{study['id']}/gradings", json=body, headers=rad)
    assert created.status_code == 201, created.text
    researcher = auth("researcher")

    long = list(csv.DictReader(io.StringIO(_get(client, researcher, "gradings.csv?shape=long").text)))
    l5 = next(r for r in long if r["endplate"] == "L5_inf")
    assert (l5["protocol"], l5["numbering_ref"], l5["numbering_tv"]) == (
        "nordic-2007-full",
        "last_rib",
        "sacralised_l5",
    )
    assert (l5["location"], l5["volume"], l5["endplate_area"], l5["osteophytes"]) == ("entire", "gt50", "gt50", "")
    s1 = next(r for r in long if r["endplate"] == "S1_sup")
    assert (s1["type"], s1["osteophytes"], s1["location"]) == ("none", "yes", "")

    (wide,) = list(csv.DictReader(io.StringIO(_get(client, researcher, "gradings.csv?shape=wide").text)))
    assert (wide["protocol"], wide["l5_inf_location"], wide["s1_sup_osteophytes"]) == (
        "nordic-2007-full",
        "entire",
        "yes",
    )

    dta = pd.read_stata(io.BytesIO(_get(client, researcher, "gradings.dta?shape=wide").content))
    assert dta.loc[0, "l5_inf_volume"] == "gt50" and dta.loc[0, "numbering_tv"] == "sacralised_l5"

    (record,) = list(csv.DictReader(io.StringIO(_get(client, researcher, "redcap/records.csv").text)))
    dictionary = list(csv.DictReader(io.StringIO(_get(client, researcher, "redcap/dictionary.csv").text)))
    choices = {
        row["Variable / Field Name"]: dict(
            reversed(c.strip().split(", ", 1)) for c in row["Choices, Calculations, OR Slider Labels"].split("|")
        )
        for row in dictionary
        if row["Field Type"] in {"dropdown", "radio"}
    }
    assert record["l5_inf_location"] == choices["l5_inf_location"]["entire"]
    assert record["numbering_ref"] == choices["numbering_ref"]["last_rib"]
    assert record["protocol"] == choices["protocol"]["nordic-2007-full"]
    assert record["l4_inf_location"] == ""  # no change at L4: the variable does not apply
