"""Patient identifiers at rest: encrypted with ``MODIC_PATIENT_KEY`` (found by a keyed blind index),
migrated from plain text, a clear error without the key, and every read of them audited."""

from __future__ import annotations

import base64
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import select

from api.app import create_app
from registry import crypto
from registry.db import get_engine, migrate, session_scope
from registry.models import Assignment, AuditEvent, Patient, User
from registry.services.studies import ensure_patient
from registry.settings import Settings, SrIdentity
from tests.api.helpers import endplates, study_body
from tests.conftest import TEST_PATIENT_KEY, TokenFactory
from tests.registry.test_nordic_record_migration import _insert, _upgrade_to, empty_url  # noqa: F401 (fixture)

API = "/api/v1"
NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
PLAIN = ("HOSP-AT-REST-1", "Jensen^Rikke", "1961-07-04")


def _raw_patients(engine: Any) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM patients")).mappings().all()
    return [dict(r) for r in rows]


def test_identifiers_are_encrypted_at_rest_and_found_by_blind_index(app: Any, client: TestClient) -> None:
    with session_scope(app.state.engine, write=True) as session:
        patient = ensure_patient(session, PLAIN[0], None)
        patient.name, patient.birth_date, patient.sex = PLAIN[1], dt.date.fromisoformat(PLAIN[2]), "F"
        session.add(patient)
        session.commit()
        patient_id = patient.id
    stored = " ".join(str(v) for row in _raw_patients(app.state.engine) for v in row.values())
    for plain in (*PLAIN, "19610704"):
        assert plain not in stored
    (row,) = _raw_patients(app.state.engine)
    assert row["hospital_id"].startswith("v1:") and row["name"].startswith("v1:")
    assert row["hospital_id_index"] == crypto.PatientCipher(TEST_PATIENT_KEY).blind_index(PLAIN[0])
    with session_scope(app.state.engine, write=True) as session:
        again = ensure_patient(session, f"  {PLAIN[0]} ", None)  # found by its index, not created again
        assert again.id == patient_id and again.hospital_id == PLAIN[0] and again.name == PLAIN[1]
        assert again.birth_date == dt.date(1961, 7, 4) and again.sex == "F"
    # A ciphertext moved into another column does not decrypt.
    with pytest.raises(crypto.PatientKeyError, match="does not decrypt"):
        crypto.cipher().decrypt(row["hospital_id"], "name")


def test_the_migration_encrypts_existing_rows_and_keeps_what_radiologists_had(empty_url: str) -> None:  # noqa: F811
    engine = get_engine(empty_url)
    _upgrade_to(engine, "i11_security")
    for user, role in (("u-rad", "radiologist"), ("u-rad2", "radiologist"), ("u-admin", "admin")):
        _insert(engine, "users", {"id": user, "name": user, "role": role, "active": True, "created_at": NOW})
    patient = {"id": "p-1", "hospital_id": PLAIN[0], "pseudonym": "P-OLD", "created_at": NOW}
    _insert(engine, "patients", {**patient, "name": PLAIN[1], "birth_date": dt.date(1961, 7, 4), "sex": "F"})
    _insert(engine, "patients", {"id": "p-2", "hospital_id": "HOSP-AT-REST-2", "pseudonym": "P-TWO", "created_at": NOW})
    for study, patient_id, by in (("s-1", "p-1", "u-rad"), ("s-2", "p-2", "u-admin"), ("s-3", "p-2", None)):
        row = {"id": study, "study_instance_uid": f"1.2.3.{study[-1]}", "patient_id": patient_id}
        _insert(engine, "studies", {**row, "warnings": "[]", "created_by": by, "created_at": NOW})
    grading = {"id": "g-1", "study_id": "s-2", "rater_id": "u-rad2", "kind": "clinical", "clinical_key": "s-2:u-rad2"}
    _insert(engine, "gradings", {**grading, "current_version": 1, "created_at": NOW, "updated_at": NOW})

    migrate(engine)

    stored = " ".join(str(v) for row in _raw_patients(engine) for v in row.values())
    assert not any(plain in stored for plain in (*PLAIN, "HOSP-AT-REST-2"))
    with session_scope(engine, write=True) as session:
        first = session.get(Patient, "p-1")
        assert first is not None and (first.hospital_id, first.name, first.birth_date, first.sex) == (
            PLAIN[0],
            PLAIN[1],
            dt.date(1961, 7, 4),
            "F",
        )
        assert ensure_patient(session, "HOSP-AT-REST-2", None).id == "p-2"  # the blind index was filled
        pairs = {(a.user_id, a.study_id) for a in session.exec(select(Assignment))}
        registrar = session.get(User, "u-rad")
    assert pairs == {("u-rad", "s-1"), ("u-rad2", "s-2")}  # what each radiologist registered or graded
    assert registrar is not None and registrar.registrar is False  # an admin grants the privilege


def _without_key() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "MODIC_PATIENT_KEY"}


def test_a_missing_or_malformed_key_stops_the_start(settings: Settings, database_url: str) -> None:
    with pytest.raises(crypto.PatientKeyError, match="MODIC_PATIENT_KEY is not set"):
        create_app(settings.model_copy(update={"patient_key": None}))
    short = base64.urlsafe_b64encode(b"too short").decode()
    with pytest.raises(crypto.PatientKeyError, match="must be 32 bytes"):
        create_app(Settings(database_url=database_url, patient_key=short))
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "user", "add", "x", "--role", "admin", "--database-url", database_url],
        capture_output=True,
        text=True,
        env=_without_key(),
        timeout=120,
    )
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("modic: error: MODIC_PATIENT_KEY is not set") and result.stderr.count("\n") == 1
    crypto.configure(TEST_PATIENT_KEY)


def test_another_key_does_not_read_the_data(app: Any, settings: Settings) -> None:
    with session_scope(app.state.engine, write=True) as session:
        ensure_patient(session, PLAIN[0], None)
        session.commit()
    crypto.configure(crypto.new_key())
    try:
        with session_scope(app.state.engine) as session, pytest.raises(crypto.PatientKeyError, match="not the one"):
            session.exec(select(Patient)).all()
    finally:
        crypto.configure(TEST_PATIENT_KEY)


def test_the_demo_keeps_a_key_of_its_own(tmp_path: Path) -> None:
    key = crypto.demo_key(tmp_path / "data")
    assert crypto.demo_key(tmp_path / "data") == key and crypto.PatientCipher(key)
    assert (tmp_path / "data" / "demo-patient.key").stat().st_mode & 0o077 == 0


def test_every_read_of_identifying_data_is_audited(client: TestClient, auth: TokenFactory, app: Any) -> None:
    rad, screener = auth("radiologist", "rad"), auth("screener")
    # The SR goes back to the hospital's own PACS: it names the patient as the hospital does.
    app.state.settings = app.state.settings.model_copy(update={"sr_identity": SrIdentity.hospital})
    study = client.post(f"{API}/studies", json=study_body(patient_id=PLAIN[0]), headers=rad).json()
    grading = client.post(f"{API}/studies/{study['id']}/gradings", json={"endplates": endplates()}, headers=rad)
    sr = client.get(f"{API}/gradings/{grading.json()['id']}/sr.dcm", headers=rad)
    assert sr.status_code == 200 and PLAIN[0].encode() in sr.content  # the SR files with the hospital's images
    pseudonym = study["patient"]["pseudonym"]
    body = {"reason": "invite to NCT00454792"}
    assert client.post(f"{API}/patients/{pseudonym}/identifiers", json=body, headers=screener).status_code == 200
    with session_scope(app.state.engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.entity == "patient")).all()
        users = {u.id: u.name for u in session.exec(select(User))}
    reads = [
        (e.action, users[e.actor_id or ""], e.detail.get("purpose")) for e in events if e.action != "patient.create"
    ]
    assert reads == [("patient.read", "rad", "grading SR"), ("patient.resolve", users[events[-1].actor_id or ""], None)]
