"""Blinding: nothing a rater can reach with their token leaks identifiers or another rater's data.

Every operation of the app (its OpenAPI paths) is called with the rater's token, with every method
it allows and with each id the rater might try (the reliability study, the registry studies behind the cases, the case
labels, the other rater's and the rater's own read-1 grading ids), while the rater is on read 2.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select

from grading.nordic import TYPE_LABELS
from registry.db import session_scope
from registry.models import Grading, WorklistItem
from tests.api.helpers import endplates, study_body
from tests.conftest import TokenFactory

API = "/api/v1"
OTHER_RATER_MARK = {"type": "I/III", "size": "D"}  # only rad-b ever records I/III
OWN_READ_1_MARK = {"type": "II/III", "size": "C"}  # only rad-a's read 1 records II/III


def test_no_identifier_or_other_rater_data_reaches_the_rater(
    client: TestClient, app: FastAPI, auth: TokenFactory
) -> None:
    researcher = auth("researcher", "res")
    rater = auth("radiologist", "rad-a")
    other = auth("radiologist", "rad-b")
    hospital_ids = [f"HOSP-SECRET-{i}" for i in range(3)]
    studies = [
        client.post(
            f"{API}/studies", json=study_body(f"1.2.826.0.1.3680043.8.498.{200 + i}", hid), headers=other
        ).json()
        for i, hid in enumerate(hospital_ids)
    ]
    study = client.post(
        f"{API}/reliability-studies",
        json={
            "name": "blinding",
            "study_ids": [s["id"] for s in studies],
            "raters": ["rad-a", "rad-b"],
            "reads_per_rater": 2,
            "washout_days": 0,
        },
        headers=researcher,
    ).json()
    base = f"{API}/reliability-studies/{study['id']}"
    labels = [c["label"] for c in study["cases"]]
    for headers, mark in ((other, OTHER_RATER_MARK), (rater, OWN_READ_1_MARK)):
        for label in labels:
            body = {"endplates": endplates(**{e: mark for e in ("L1_sup", "L3_inf", "S1_sup")})}
            assert client.post(f"{base}/worklist/{label}/grading", json=body, headers=headers).status_code == 201
    assert client.get(f"{base}/worklist", headers=rater).json()["read"] == 2  # washout 0: read 2 is open

    with session_scope(app.state.engine) as session:
        items = session.exec(select(WorklistItem).where(WorklistItem.reliability_study_id == study["id"])).all()
        gradings = {g.id: g for g in session.exec(select(Grading)).all()}
    own_read_1 = [
        i.grading_id for i in items if i.read == 1 and gradings[i.grading_id or ""].rater_id == _id(app, "rad-a")
    ]
    others = [g.id for g in gradings.values() if g.rater_id == _id(app, "rad-b")]
    assert len(own_read_1) == 3 and len(others) == 3

    never = [*hospital_ids, "rad-b", *others, *own_read_1, '"I/III"', '"II/III"']
    registry = [s["pseudonym"] for s in (x["patient"] for x in studies)]
    registry += [s["study_instance_uid"] for s in studies] + [s["id"] for s in studies]

    candidates: dict[str, list[str]] = {
        "study_id": [study["id"], *(s["id"] for s in studies)],
        "case": [*labels, *(c["read2_label"] for c in study["cases"])],  # read 2 has labels of its own
        "grading_id": [*others, *own_read_1],
    }
    every_id = [v for values in candidates.values() for v in values]
    grading_body: dict[str, Any] = {"endplates": endplates(), "reason": "probe"}
    exercised: list[tuple[str, str, int]] = []
    # Every operation the app publishes (its OpenAPI document lists each route and method).
    operations = {path: sorted(m.upper() for m in ops) for path, ops in app.openapi()["paths"].items()}
    assert f"{API}/reliability-studies/{{study_id}}/worklist/{{case}}" in operations
    for path, methods in operations.items():
        names = re.findall(r"{(\w+)(?::\w+)?}", path)
        pools = [candidates.get(name, every_id) for name in names]
        for method, values in itertools.product(methods, itertools.product(*pools)):
            url = path
            for name, value in zip(names, values, strict=True):
                url = re.sub(r"{" + name + r"(?::\w+)?}", value, url)
            headers = dict(rater)
            if method == "PUT" and "grading_id" in names:
                headers["If-Match"] = f'"{values[names.index("grading_id")]}.v1"'
            kwargs: dict[str, Any] = {"json": grading_body} if method in ("POST", "PUT", "PATCH") else {}
            response = client.request(method, url, headers=headers, **kwargs)
            exercised.append((method, path, response.status_code))
            text = response.text + " " + " ".join(f"{k}: {v}" for k, v in response.headers.items())
            # an id the rater put in the URL may be echoed in an error message: that reveals nothing
            # the protocol listing is the fixed vocabulary (every type label), the same for everyone
            vocabulary = set(TYPE_LABELS) if path == f"{API}/protocols" else set()
            leaked = [s for s in never if s in text and s not in url and s.strip('"') not in vocabulary]
            assert leaked == [], f"{method} {url} -> {response.status_code} leaks {leaked}"
            if path.startswith(f"{API}/reliability-studies"):
                linked = [secret for secret in registry if secret in text and secret not in url]
                assert linked == [], f"{method} {url} -> {response.status_code} reveals {linked}"

    reliability_routes = {(m, p) for m, p, _ in exercised if p.startswith(f"{API}/reliability-studies")}
    assert len(reliability_routes) >= 9
    # the rater really reached the worklist and did read 2 through it
    assert (("GET", f"{API}/reliability-studies/{{study_id}}/worklist", 200)) in exercised
    assert any(m == "POST" and p.endswith("/grading") and s == 201 for m, p, s in exercised)
    assert all(s == 404 for m, p, s in exercised if p == f"{API}/gradings/{{grading_id}}")


def _id(app: FastAPI, name: str) -> str:
    from registry.repositories.users import user_by_name

    with session_scope(app.state.engine) as session:
        user = user_by_name(session, name)
        assert user is not None
        return user.id
