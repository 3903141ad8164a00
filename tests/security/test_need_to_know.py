"""Need to know: a radiologist reaches their own gradings only, and their open blinded reliability
cases are not in their clinical worklist."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.helpers import endplates, study_body
from tests.conftest import TokenFactory

API = "/api/v1"


def test_another_radiologists_grading_does_not_exist_for_me(client: TestClient, auth: TokenFactory) -> None:
    alice, bob, admin = auth("radiologist", "alice"), auth("radiologist", "bob"), auth("admin")
    study = client.post(f"{API}/studies", json=study_body(), headers=admin).json()
    grading = client.post(f"{API}/studies/{study['id']}/gradings", json={"endplates": endplates()}, headers=alice)
    grading_id = grading.json()["id"]
    for path in (f"{API}/gradings/{grading_id}", f"{API}/gradings/{grading_id}/history"):
        assert client.get(path, headers=alice).status_code == 200
        assert client.get(path, headers=admin).status_code == 200
        refused = client.get(path, headers=bob)
        assert refused.status_code == 404 and "endplates" not in refused.text
    unknown = client.get(f"{API}/gradings/00000000-0000-0000-0000-000000000000", headers=bob)
    assert unknown.json()["detail"].replace("00000000-0000-0000-0000-000000000000", grading_id) == refused.json()[
        "detail"
    ].replace("/history", "")  # the same answer as for an id that does not exist


def test_my_open_blinded_cases_are_not_in_my_clinical_worklist(client: TestClient, auth: TokenFactory) -> None:
    admin, researcher = auth("admin"), auth("researcher")
    rater, other = auth("radiologist", "rater"), auth("radiologist", "other")
    ids = [
        client.post(f"{API}/studies", json=study_body(f"1.2.3.{i}", f"HOSP-{i}"), headers=admin).json()["id"]
        for i in range(3)
    ]
    study = client.post(
        f"{API}/reliability-studies",
        json={"name": "r", "study_ids": ids[:2], "raters": ["rater"], "reads_per_rater": 2, "washout_days": 0},
        headers=researcher,
    )
    assert study.status_code == 201, study.text

    def listed(headers: dict[str, str], **params: str) -> list[str]:
        return [s["id"] for s in client.get(f"{API}/studies", params=params, headers=headers).json()["items"]]

    assert listed(rater) == [ids[2]] and listed(rater, graded_by_me="false") == [ids[2]]
    assert listed(other) == ids and listed(admin) == ids  # not their cases
    base = f"{API}/reliability-studies/{study.json()['id']}"
    for read in (1, 2):
        assert listed(rater) == [ids[2]], f"hidden while read {read} is open"
        for case in study.json()["cases"]:
            body = {"endplates": endplates()}
            label = case["label"] if read == 1 else case["read2_label"]  # read 2 has labels of its own
            done = client.post(f"{base}/worklist/{label}/grading", json=body, headers=rater)
            assert done.status_code == 201, done.text
    assert listed(rater) == ids  # the reads are done: the studies are ordinary studies again


def test_registering_a_known_study_neither_confirms_nor_denies_the_patient(
    client: TestClient, auth: TokenFactory
) -> None:
    alice, bob = auth("radiologist", "alice"), auth("radiologist", "bob")
    first = client.post(f"{API}/studies", json=study_body(patient_id="HOSP-REAL"), headers=alice)
    assert first.status_code == 201
    right = client.post(f"{API}/studies", json=study_body(patient_id="HOSP-REAL"), headers=bob)
    wrong = client.post(f"{API}/studies", json=study_body(patient_id="HOSP-GUESS"), headers=bob)
    assert right.status_code == wrong.status_code == 409
    assert right.json() == wrong.json() and first.json()["patient"]["pseudonym"] not in right.text
    assert client.post(f"{API}/studies", json=study_body(patient_id="HOSP-REAL"), headers=alice).status_code == 200
