"""Migration ``i12_nordic_record`` on a database made with the previous schema (``0004_imaging``):
every existing grading reads back and evaluates exactly as before."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import select

from grading.endplates import ENDPLATES
from registry.db import MIGRATIONS, dispose_engine, get_engine, migrate, session_scope, write_engine
from registry.models import EligibilityDecision, User
from registry.repositories.eligibility import grading_from_stored
from registry.services import gradings as gradings_service
from registry.services.eligibility.decisions import reevaluate_and_commit
from tests.conftest import POSTGRES_URL, _admin_url

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)

# Gradings as the previous code stored them (canonical: every key present). extension_pct values sit
# on each side of the Figure 1 boundaries ("A: Endplate only, B: > endplate to 25%, C: 25 to 50%,
# and D: > 50%"), with the sizes the previous code derived from them.
OLD_ENTRIES: list[dict[str, Any]] = [
    {"type": "I", "size": "A", "extension_pct": None},
    {"type": "I", "size": "A", "extension_pct": 0.0},
    {"type": "II", "size": "B", "extension_pct": 0.5},
    {"type": "I/II", "size": "B", "extension_pct": 25.0},
    {"type": "III", "size": "C", "extension_pct": 25.5},
    {"type": "II/III", "size": "C", "extension_pct": 50.0},
    {"type": "I", "size": "D", "extension_pct": 50.5},
    {"type": "I/II/III", "size": "D", "extension_pct": 100.0},
    {"type": "II", "size": "A", "extension_pct": None},
    {"type": "none", "size": None, "extension_pct": None},
]


def _old_endplates(entry: dict[str, Any]) -> dict[str, Any]:
    data = {e.value: {"type": "none", "size": None, "extension_pct": None} for e in ENDPLATES}
    data["L4_inf"] = entry
    return data


def expected_2012(data: dict[str, Any]) -> bool:
    """The 2012 paper's MRI criterion over the stored labels: a change of size B, C or D."""
    return any(e["type"] != "none" and e["size"] in ("B", "C", "D") for e in data.values())


def expected_probiotics(data: dict[str, Any]) -> bool:
    """NCT03100266: a change with a type I component."""
    return any("I" in e["type"].split("/") for e in data.values())


@pytest.fixture
def empty_url(tmp_path: Path) -> Iterator[str]:
    if POSTGRES_URL is None:
        url = f"sqlite:///{tmp_path / 'previous.db'}"
        yield url
        dispose_engine(url)
        return
    name = f"modic_prev_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_admin_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(_admin_url(POSTGRES_URL)).set(database=name).render_as_string(hide_password=False)
    yield url
    dispose_engine(url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _upgrade_to(engine: Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with write_engine(engine).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _insert(engine: Engine, table: str, row: dict[str, Any]) -> None:
    columns = ", ".join(row)
    values = ", ".join(f":{k}" for k in row)
    with write_engine(engine).begin() as connection:
        connection.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({values})"), row)


def test_existing_gradings_read_back_and_evaluate_as_before(empty_url: str) -> None:
    engine = get_engine(empty_url)
    _upgrade_to(engine, "0004_imaging")
    _insert(engine, "users", {"id": "u-admin", "name": "admin", "role": "admin", "active": True, "created_at": NOW})
    _insert(engine, "users", {"id": "u-rad", "name": "rad", "role": "radiologist", "active": True, "created_at": NOW})
    stored: dict[str, list[dict[str, Any]]] = {}
    patients: dict[str, str] = {}
    for i, entry in enumerate(OLD_ENTRIES):
        patient, study, grading = f"p-{i}", f"s-{i}", f"00000000-0000-4000-8000-{i:012d}"
        _insert(engine, "patients", {"id": patient, "hospital_id": f"H{i}", "pseudonym": f"PS{i}", "created_at": NOW})
        _insert(
            engine,
            "studies",
            {
                "id": study,
                "study_instance_uid": f"1.2.3.{i}",
                "patient_id": patient,
                "study_date": dt.date(2026, 10, 1),
                "warnings": "[]",
                "created_at": NOW,
            },
        )
        versions = [_old_endplates(entry)]
        if i == 0:  # an amended grading: two versions
            versions.append(_old_endplates(OLD_ENTRIES[3]))
        _insert(
            engine,
            "gradings",
            {
                "id": grading,
                "study_id": study,
                "rater_id": "u-rad",
                "kind": "clinical",
                "clinical_key": f"{study}:u-rad",
                "current_version": len(versions),
                "created_at": NOW,
                "updated_at": NOW,
            },
        )
        for number, data in enumerate(versions, start=1):
            row = {"grading_id": grading, "version": number, "endplates": json.dumps(data), "author_id": "u-rad"}
            _insert(engine, "grading_versions", {**row, "at": NOW, "reason": None if number == 1 else "re-read"})
        stored[grading] = versions
        patients[grading] = patient

    migrate(engine)

    with session_scope(engine, write=True) as session:
        admin = session.get(User, "u-admin")
        assert admin is not None
        for grading, versions in stored.items():
            view = gradings_service.get_grading(session, grading, admin)
            assert view.endplates == versions[-1] and view.protocol == "nordic-2007" and view.numbering is None
            history = gradings_service.history(session, grading, admin)
            assert [h.version.endplates for h in history] == versions
            assert [h.version.protocol for h in history] == ["nordic-2007"] * len(versions)
            # Parsing the stored version gives back exactly what is stored.
            assert grading_from_stored(versions[-1]).to_mapping() == versions[-1]
        reevaluate_and_commit(session, dt.date(2026, 11, 1), due_only=False)
        decisions = session.exec(select(EligibilityDecision)).all()
    by_key = {(d.patient_id, d.trial, d.rule_version): d for d in decisions}
    for grading, versions in stored.items():
        current = versions[-1]
        paper = by_key[(patients[grading], "NCT00454792", "2012")]
        assert paper.grading_id == grading and paper.grading_version == len(versions)
        assert paper.criteria[0]["met"] is expected_2012(current), current["L4_inf"]
        assert paper.status == ("pending" if expected_2012(current) else "ineligible")
        probiotics = by_key[(patients[grading], "NCT03100266", "2018-registry")]
        assert probiotics.criteria[0]["met"] is expected_probiotics(current)
