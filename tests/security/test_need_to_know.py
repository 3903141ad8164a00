"""Need to know: a radiologist reaches the studies assigned to them and their own gradings only,
their open blinded reliability cases are not in their clinical worklist, and registering a study
(a registrar's or an admin's privilege) neither confirms nor denies a hospital id to anyone else."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from api.cli import main
from registry.db import session_scope
from registry.models import AuditEvent
from tests.api.helpers import endplates, study_body
from tests.api.test_imaging_upload import parts, study_files, upload
from tests.conftest import TokenFactory

API = "/api/v1"
UNKNOWN = "00000000-0000-0000-0000-000000000000"


def assign(client: TestClient, admin: dict[str, str], study_id: str, *users: str) -> None:
    """An admin assigns each of ``users`` to the study."""
    for user in users:
        done = client.post(f"{API}/studies/{study_id}/assignments", json={"user": user}, headers=admin)
        assert done.status_code == 201, done.text


def same_as_unknown(client: TestClient, headers: dict[str, str], path: str, study_id: str, **kw: Any) -> None:
    """``path`` answers for ``study_id`` exactly as for a study id that does not exist."""
    method = kw.pop("method", "get")
    hidden = getattr(client, method)(path.format(study_id), headers=headers, **kw)
    unknown = getattr(client, method)(path.format(UNKNOWN), headers=headers, **kw)
    assert hidden.status_code == unknown.status_code == 404, (path, hidden.text)
    assert hidden.json()["detail"].replace(study_id, UNKNOWN) == unknown.json()["detail"]


def test_another_radiologists_grading_does_not_exist_for_me(client: TestClient, auth: TokenFactory) -> None:
    alice, bob, admin = auth("radiologist", "alice"), auth("radiologist", "bob"), auth("admin")
    study = client.post(f"{API}/studies", json=study_body(), headers=admin).json()
    assign(client, admin, study["id"], "alice")
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
    for study_id in ids:
        assign(client, admin, study_id, "rater", "other")
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


def test_registering_neither_confirms_nor_denies_a_hospital_id(client: TestClient, auth: TokenFactory) -> None:
    alice, admin = auth("radiologist", "alice"), auth("admin")
    bob = auth("radiologist", "bob", registrar=False)
    first = client.post(f"{API}/studies", json=study_body(patient_id="HOSP-REAL"), headers=alice)
    assert first.status_code == 201
    pseudonym = first.json()["patient"]["pseudonym"]
    answers = [
        client.post(f"{API}/studies", json=study_body(uid, patient), headers=bob)
        for uid in ("1.2.826.0.1.3680043.8.498.1", "1.2.826.0.1.3680043.8.498.2")
        for patient in ("HOSP-REAL", "HOSP-GUESS")
    ]
    answers.append(upload(client, bob, parts(study_files()[:2])))
    assert {a.status_code for a in answers} == {403}
    assert len({a.text for a in answers}) == 1 and pseudonym not in answers[0].text
    assert client.post(f"{API}/studies", json=study_body(patient_id="HOSP-REAL"), headers=alice).status_code == 200
    # An admin grants the privilege; a registrar may link any hospital id, and each match is audited.
    granted = client.put(f"{API}/users/bob/registrar", json={"registrar": True}, headers=admin)
    assert granted.status_code == 200 and granted.json()["registrar"] is True
    again = client.post(f"{API}/studies", json=study_body("1.2.826.0.1.3680043.8.498.3", "HOSP-REAL"), headers=bob)
    assert again.status_code == 201 and again.json()["patient"]["pseudonym"] == pseudonym
    with session_scope(client.app.state.engine) as session:  # type: ignore[attr-defined]
        actions = list(session.exec(select(AuditEvent.action).where(AuditEvent.action == "patient.match")))
    assert len(actions) == 2  # alice's second registration and bob's


def test_a_radiologist_reaches_only_the_studies_assigned_to_them(client: TestClient, auth: TokenFactory) -> None:
    admin, alice = auth("admin"), auth("radiologist", "alice", registrar=False)
    mine, other = (
        client.post(f"{API}/studies", json=study_body(f"1.2.3.{i}", f"HOSP-{i}"), headers=admin).json()["id"]
        for i in range(2)
    )
    assign(client, admin, mine, "alice")

    def listed(**params: str) -> list[str]:
        return [s["id"] for s in client.get(f"{API}/studies", params=params, headers=alice).json()["items"]]

    assert listed() == [mine] and listed(graded_by_me="false") == [mine]
    nxt = client.get(f"{API}/studies/awaiting/next", headers=alice).json()["study"]
    assert nxt is not None and nxt["id"] == mine
    assert client.get(f"{API}/studies/{mine}", headers=alice).status_code == 200
    for path in ("/studies/{}", "/studies/{}/gradings", "/studies/{}/prior", "/studies/{}/prior-graded-study"):
        same_as_unknown(client, alice, API + path, other)
    body = {"endplates": endplates()}
    same_as_unknown(client, alice, API + "/studies/{}/gradings", other, method="post", json=body)
    same_as_unknown(client, alice, API + "/studies/awaiting/next?after={}", other)
    grading = client.post(f"{API}/studies/{mine}/gradings", json=body, headers=alice)
    assert grading.status_code == 201
    listing = client.get(f"{API}/studies/{mine}/assignments", headers=admin).json()["items"]
    assert [a["user"] for a in listing] == ["alice"]
    assert client.get(f"{API}/studies/{mine}/assignments", headers=alice).status_code == 403
    assert client.delete(f"{API}/studies/{mine}/assignments/alice", headers=admin).status_code == 204
    assert listed() == []
    same_as_unknown(client, alice, API + "/studies/{}", mine)
    # Their own grading stays theirs.
    assert client.get(f"{API}/gradings/{grading.json()['id']}", headers=alice).status_code == 200


def test_series_and_slices_of_an_unassigned_study_do_not_exist(client: TestClient, auth: TokenFactory) -> None:
    admin, alice = auth("admin"), auth("radiologist", "alice", registrar=False)
    study = upload(client, admin, parts(study_files())).json()
    t1 = study["grading_series"]["t1"]
    for path in (f"{API}/series/{t1}", f"{API}/series/{t1}/slices/0.png"):
        hidden = client.get(path, headers=alice)
        assert hidden.status_code == 404 and hidden.json()["detail"] == f"series {t1!r} does not exist"
    assign(client, admin, study["id"], "alice")
    assert client.get(f"{API}/series/{t1}", headers=alice).status_code == 200
    png = client.get(f"{API}/series/{t1}/slices/0.png", headers=alice)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"


def test_the_assign_command_assigns_and_withdraws(
    client: TestClient, auth: TokenFactory, database_url: str, capsys: Any
) -> None:
    admin, alice = auth("admin"), auth("radiologist", "alice", registrar=False)
    uid = "1.2.826.0.1.3680043.8.498.77"
    study_id = client.post(f"{API}/studies", json=study_body(uid, "HOSP-77"), headers=admin).json()["id"]
    assert main(["assign", uid, "--to", "alice", "--database-url", database_url]) == 0
    assert capsys.readouterr().out.strip() == f"study {study_id}: 'alice' assigned"
    assert client.get(f"{API}/studies/{study_id}", headers=alice).status_code == 200
    assert main(["assign", study_id, "--to", "alice", "--withdraw", "--database-url", database_url]) == 0
    assert client.get(f"{API}/studies/{study_id}", headers=alice).status_code == 404
    assert main(["assign", study_id, "--to", "nobody", "--database-url", database_url]) == 1
    assert capsys.readouterr().err.strip() == "modic: error: user 'nobody' does not exist"
