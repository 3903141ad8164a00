"""What the workstation needs of the API: level labels and measurements kept with each grading
version, one 422 shape, the next study awaiting my grading, a patient's prior graded studies and
the slice geometry of a series."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pydicom
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from grading.series import Plane, Weighting
from registry.db import session_scope
from registry.models import Series
from registry.services.studies import stir_to_show
from registry.settings import Settings
from tests.api.helpers import assign, assign_every_study, endplates, study_body
from tests.conftest import TokenFactory
from tests.imaging_support import SAMPLE_STUDIES, ground_truth, series_dir

LEVELS = {"L1": [0.0, -20.0, 60.0], "L4": [0.0, -14.0, -35.0], "S1": [0.0, -4.0, -110.0]}
MEASUREMENT = {
    "endplate": "L4_inf",
    "endplate_point": [0.0, -12.0, -48.5],
    "opposite_point": [0.0, -12.0, -21.5],
    "depth_point": [0.0, -12.0, -37.7],
}


def register(
    client: TestClient, headers: dict[str, str], n: int, patient: str = "HOSP-WS", date: str = "2026-10-01"
) -> str:
    body = {**study_body(f"1.2.826.0.1.3680043.8.498.9{n}", patient), "study_date": date}
    answer = client.post("/api/v1/studies", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def grade(client: TestClient, headers: dict[str, str], study_id: str, **extra: Any) -> Any:
    answer = client.post(
        f"/api/v1/studies/{study_id}/gradings", json={"endplates": endplates(), **extra}, headers=headers
    )
    assert answer.status_code == 201, answer.text
    return answer


def test_levels_and_measurements_are_kept_with_each_version(client: TestClient, auth: TokenFactory) -> None:
    headers = auth("radiologist", "rad-ws")
    study_id = register(client, headers, 1)
    created = grade(client, headers, study_id, levels=LEVELS, measurements=[{**MEASUREMENT, "extension_pct": 3}])
    grading = created.json()
    assert grading["levels"] == LEVELS
    (measured,) = grading["measurements"]
    assert measured["extension_pct"] == 40.0 and measured["height_mm"] == 27.0 and measured["depth_mm"] == 10.8
    url = f"/api/v1/gradings/{grading['id']}"
    assert client.get(url, headers=headers).json()["levels"] == LEVELS

    # an amendment that does not mention them carries them over; an empty value clears them
    body = {"endplates": endplates(L4_inf={"type": "I", "size": "C"}), "reason": "re-read"}
    kept = client.put(url, json=body, headers={**headers, "If-Match": created.headers["ETag"]})
    assert kept.status_code == 200, kept.text
    assert kept.json()["levels"] == LEVELS and kept.json()["measurements"] == grading["measurements"]
    cleared = client.put(
        url, json={**body, "levels": {}, "measurements": []}, headers={**headers, "If-Match": kept.headers["ETag"]}
    )
    assert cleared.json()["levels"] == {} and cleared.json()["measurements"] == []
    history = client.get(f"{url}/history", headers=headers).json()["items"]
    assert [(h["version"], h["levels"] == LEVELS, len(h["measurements"])) for h in history] == [
        (1, True, 1),
        (2, True, 1),
        (3, False, 0),
    ]


def test_bad_levels_and_measurements_are_refused_naming_the_field(client: TestClient, auth: TokenFactory) -> None:
    headers = auth("radiologist")
    study_id = register(client, headers, 2)
    body = {"endplates": endplates(), "levels": {"L9": [0, 0, 0]}, "measurements": [{"endplate": "L4_inf"}]}
    answer = client.post(f"/api/v1/studies/{study_id}/gradings", json=body, headers=headers)
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert [(e["field"], e["endplate"]) for e in errors] == [("levels", None), ("measurements", "L4_inf")]
    assert "level 'L9' is unknown" in errors[0]["message"]
    assert client.get(f"/api/v1/studies/{study_id}/gradings", headers=headers).json()["items"] == []


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_missing_reason_always_gets_the_same_422(client: TestClient, auth: TokenFactory, reason: str | None) -> None:
    headers = auth("radiologist")
    created = grade(client, headers, register(client, headers, 3))
    body: dict[str, Any] = {"endplates": endplates()}
    if reason is not None:
        body["reason"] = reason
    answer = client.put(
        f"/api/v1/gradings/{created.json()['id']}", json=body, headers={**headers, "If-Match": created.headers["ETag"]}
    )
    assert answer.status_code == 422
    assert answer.json() == {
        "detail": "an amendment needs a reason (why the grading changes)",
        "errors": [{"field": "reason", "message": "an amendment needs a reason (why the grading changes)"}],
    }


def test_every_422_has_a_detail_and_errors_naming_the_field(client: TestClient, auth: TokenFactory) -> None:
    headers = auth("radiologist")
    answers = [
        client.get("/api/v1/studies", params={"cursor": "not-a-cursor"}, headers=headers),  # registry rule
        client.get("/api/v1/studies", params={"limit": 0}, headers=headers),  # request validation
        client.post(
            f"/api/v1/studies/{register(client, headers, 4)}/gradings", json={"endplates": {}}, headers=headers
        ),
    ]
    for answer in answers:
        assert answer.status_code == 422, answer.text
        body = answer.json()
        assert isinstance(body["detail"], str) and body["errors"], body
        assert all(isinstance(e["field"], str) and e["field"] and e["message"] for e in body["errors"]), body
    assert answers[0].json()["errors"][0]["field"] == "query.cursor"


def test_the_next_study_awaiting_my_grading(client: TestClient, auth: TokenFactory) -> None:
    me, other = auth("radiologist", "rad-next"), auth("radiologist", "rad-other")
    ids = [register(client, me, n) for n in (5, 6, 7)]
    assign(client, ids[2], "rad-other")
    nxt = "/api/v1/studies/awaiting/next"
    assert client.get(nxt, headers=me).json()["study"]["id"] == ids[0]
    grade(client, me, ids[1])
    grade(client, other, ids[2])  # another rater's grading does not count
    assert client.get(nxt, params={"after": ids[0]}, headers=me).json()["study"]["id"] == ids[2]
    # after the last, from the start again, never the study itself
    assert client.get(nxt, params={"after": ids[2]}, headers=me).json()["study"]["id"] == ids[0]
    grade(client, me, ids[0])
    assert client.get(nxt, params={"after": ids[2]}, headers=me).json() == {"study": None}
    missing = client.get(nxt, params={"after": "no-such-study"}, headers=me)
    assert missing.status_code == 404
    assert client.get(nxt, headers=auth("screener")).status_code == 403


def test_prior_studies_are_the_patients_earlier_graded_ones(client: TestClient, auth: TokenFactory) -> None:
    me, other, admin = auth("radiologist", "rad-p"), auth("radiologist", "rad-q"), auth("admin", "adm")
    older = register(client, me, 8, "HOSP-PRIOR", "2024-03-01")
    oldest = register(client, me, 9, "HOSP-PRIOR", "2022-03-01")
    current = register(client, me, 10, "HOSP-PRIOR", "2026-03-01")
    register(client, me, 11, "HOSP-ELSE", "2020-01-01")  # another patient
    assign(client, older, "rad-q")
    assign(client, current, "rad-q")
    grade(client, me, oldest)
    grade(client, other, older)

    def prior(headers: dict[str, str]) -> list[str]:
        answer = client.get(f"/api/v1/studies/{current}/prior", headers=headers)
        assert answer.status_code == 200, answer.text
        return [s["id"] for s in answer.json()["items"]]

    assert prior(me) == [oldest]  # my own gradings only: raters stay blind to each other
    assert prior(other) == [older]
    assert prior(admin) == [older, oldest]  # newest first
    # what development over time is graded against: the latest earlier graded study, whoever graded it
    assert client.get(f"/api/v1/studies/{current}/prior", headers=me).json()["prior_graded_study"] == older
    assert client.get(f"/api/v1/studies/{oldest}/prior", headers=admin).json()["items"] == []
    assert client.get("/api/v1/studies/nope/prior", headers=me).status_code == 404


def test_series_geometry_maps_pixels_to_patient_space(
    client: TestClient, app: FastAPI, settings: Settings, auth: TokenFactory
) -> None:
    imaging = importlib.import_module("registry.services.sample_studies")
    store = importlib.import_module("registry.imaging.store").FileStore(settings.data_dir)
    study_dir = SAMPLE_STUDIES[0]
    with session_scope(app.state.engine, write=True) as session:
        imaging.ingest_sample_studies(session, store, folder=study_dir)
    headers = auth("radiologist", "rad-geometry")
    assign(client, client.get("/api/v1/studies", headers=auth("admin")).json()["items"][0]["id"], "rad-geometry")
    (study,) = client.get("/api/v1/studies", headers=headers).json()["items"]
    info = client.get(f"/api/v1/series/{study['grading_series']['t1']}", headers=headers).json()
    geometry = info["geometry"]
    assert (geometry["width"], geometry["height"], len(geometry["slices"])) == (192, 192, 11)
    # slices go along the slice normal row × column = (-1, 0, 0): slice 0 is the leftmost, x = +24 mm
    first = pydicom.dcmread(sorted(series_dir(study_dir, "t1").glob("*.dcm"))[0])
    assert ground_truth(study_dir)["grading_series"]["t1"] == first.SeriesInstanceUID
    slice0 = geometry["slices"][0]
    assert np.allclose(slice0["origin"], [float(v) for v in first.ImagePositionPatient])
    spacing = float(first.PixelSpacing[0])
    assert np.allclose(slice0["x_step"], [0, spacing, 0]) and np.allclose(slice0["y_step"], [0, 0, -spacing])
    xs = [s["origin"][0] for s in geometry["slices"]]
    assert xs == sorted(xs, reverse=True) and xs[0] == pytest.approx(24.0)


def _series(weighting: Weighting, plane: Plane, slices: int) -> Series:
    return Series(study_id="s", series_instance_uid="1.2.3", plane=plane, weighting=weighting, slices=slices)


def test_the_stir_to_show_is_the_sagittal_stir_with_most_slices() -> None:
    stir, sagittal = Weighting.STIR, Plane.SAGITTAL
    axial, empty = _series(stir, Plane.AXIAL, 20), _series(stir, sagittal, 0)
    small, large, tie = _series(stir, sagittal, 9), _series(stir, sagittal, 11), _series(stir, sagittal, 11)
    assert stir_to_show([axial, empty, small, large, tie]) is large
    assert stir_to_show([axial, empty, _series(Weighting.T2, sagittal, 11)]) is None


def test_the_study_answer_names_the_stir_to_show(
    client: TestClient, app: FastAPI, settings: Settings, auth: TokenFactory
) -> None:
    """The service chooses the STIR series once; the workstation and the worklist read it from the answer."""
    sample_studies = importlib.import_module("registry.services.sample_studies")
    store = importlib.import_module("registry.imaging.store").FileStore(settings.data_dir)
    with session_scope(app.state.engine, write=True) as session:
        sample_studies.ingest_sample_studies(session, store, folder=SAMPLE_STUDIES[0])
    radiologist = auth("radiologist")
    assign_every_study(app.state.engine)  # it arrived without a registrant: an admin assigns it
    (study,) = client.get("/api/v1/studies", headers=radiologist).json()["items"]
    (stir,) = [s for s in study["series"] if s["weighting"] == "STIR" and s["plane"] == "sagittal"]
    assert study["grading_series"]["stir"] == stir["id"]
    assert stir["id"] not in (study["grading_series"]["t1"], study["grading_series"]["t2"])
