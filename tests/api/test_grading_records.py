"""One path for a grading's version 1 and one read of current versions: a reliability read is
written like a clinical grading, and the reliability report reads every current version at once."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import event
from sqlmodel import select

from registry.db import session_scope
from registry.models import AuditEvent, Grading, GradingKind, GradingVersion
from registry.services.reliability import build_study_report
from tests.api.helpers import endplates
from tests.api.test_reliability import Site, site

__all__ = ["site"]


def test_a_reliability_read_is_version_1_written_like_a_clinical_grading(site: Site, app: FastAPI) -> None:
    study = site.create()
    case = site.worklist("rad-a", study["id"])["items"][0]["case"]
    assert site.read("rad-a", study["id"], case, endplates(L4_inf={"type": "I", "size": "C"})).status_code == 201
    with session_scope(app.state.engine) as session:
        (grading,) = session.exec(select(Grading).where(Grading.kind == GradingKind.reliability.value)).all()
        (version,) = session.exec(select(GradingVersion).where(GradingVersion.grading_id == grading.id)).all()
        assert (grading.current_version, grading.clinical_key, version.version) == (1, None, 1)
        assert (version.author_id, version.at, version.protocol) == (
            grading.rater_id,
            grading.created_at,
            "nordic-2007",
        )
        assert (version.endplates["L4_inf"]["type"], version.endplates["L4_inf"]["size"]) == ("I", "C")
        # audited as every first version is, and by its worklist as the read
        (created,) = session.exec(select(AuditEvent).where(AuditEvent.entity_id == grading.id)).all()
        assert (created.action, created.detail) == ("grading.create", {"study_id": grading.study_id, "version": 1})
        (read,) = session.exec(select(AuditEvent).where(AuditEvent.action == "reliability.read")).all()
        assert read.detail["grading"] == grading.id


def test_the_report_reads_every_current_version_in_one_query(site: Site, app: FastAPI) -> None:
    study = site.create(raters=["rad-a", "rad-b", "rad-c"])
    for rater in ("rad-a", "rad-b", "rad-c"):
        site.read_all(rater, study["id"], endplates(L4_inf={"type": "I", "size": "B"}))
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = app.state.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        with session_scope(engine) as session:
            report = build_study_report(session, study["id"], n_boot=10)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert report.complete_reads == 12
    assert sum("FROM grading_versions" in s for s in statements) == 1
