"""The long gradings export's order, on SQLite and PostgreSQL: by patient, study (date, unknown first;
then id), grading (creation time, then id) and version. The rows are sorted in Python from the
database's text of the times, so times with and without a fraction of a second are mixed here."""

from __future__ import annotations

import datetime as dt

from fastapi import FastAPI
from sqlalchemy import update
from sqlmodel import col

from registry.db import session_scope
from registry.models import Grading
from registry.repositories.exports import grading_versions
from registry.services.assignments import add_assignment
from registry.services.gradings import amend_grading, create_grading, etag_of
from registry.services.studies import register_study
from registry.services.users import add_user
from tests.api.helpers import endplates


def test_versions_are_ordered_by_patient_study_grading_and_version(app: FastAPI) -> None:
    engine = app.state.engine
    with session_scope(engine, write=True) as session:
        admin, _ = add_user(session, "admin", "admin")
        first, _ = add_user(session, "rad-1", "radiologist")
        second, _ = add_user(session, "rad-2", "radiologist")
        dated, _ = register_study(session, admin, "1.2.826.0.1.3680043.11.1", "HOSP-A", dt.date(2026, 3, 1), 0.2)
        undated, _ = register_study(session, admin, "1.2.826.0.1.3680043.11.2", "HOSP-A", None, 0.2)
        for view in (dated, undated):
            for rater in (first, second):
                add_assignment(session, view.study, rater, admin)
        session.commit()
        created = {
            (study, rater.name): create_grading(session, rater, study, endplates()).id
            for study in (dated.study.id, undated.study.id)
            for rater in (second, first)
        }
        later = created[(dated.study.id, "rad-2")]
        amend_grading(session, second, later, etag_of(later, 1), endplates(L4_inf={"type": "I", "size": "A"}), "seen")
        # Creation times that only their fraction of a second tells apart, one of them without one.
        whole = dt.datetime(2026, 11, 30, 12, 0, 0, tzinfo=dt.UTC)
        times = {
            created[(dated.study.id, "rad-1")]: whole + dt.timedelta(microseconds=500_000),
            created[(dated.study.id, "rad-2")]: whole + dt.timedelta(microseconds=120_000),
            created[(undated.study.id, "rad-2")]: whole,
            created[(undated.study.id, "rad-1")]: whole + dt.timedelta(microseconds=5),
        }
        for grading_id, at in times.items():
            session.execute(update(Grading).where(col(Grading.id) == grading_id).values(created_at=at))
        session.commit()
        rows = grading_versions(session)
    expected = [
        (created[(undated.study.id, "rad-2")], 1),
        (created[(undated.study.id, "rad-1")], 1),
        (created[(dated.study.id, "rad-2")], 1),
        (created[(dated.study.id, "rad-2")], 2),
        (created[(dated.study.id, "rad-1")], 1),
    ]
    assert [(row[3], row[6]) for row in rows] == expected
