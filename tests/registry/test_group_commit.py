"""Group commit of first gradings: a batch is recorded as its gradings would be one by one.

Each grading of a batch gets its own version 1, audit event and eligibility decisions with their
own feed positions; refusals (an unknown study, a second clinical grading by the same rater, or a
write the database refuses) concern only the grading at fault. The writer answers each submitter.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, event, func, text
from sqlmodel import col, select

from grading.nordic import StudyGrading
from registry.db import session_scope
from registry.errors import AlreadyExists, NotFound
from registry.models import AuditEvent, EligibilityDecision, Grading, GradingKind, GradingVersion, User
from registry.repositories import gradings as gradings_repo
from registry.repositories import studies as studies_repo
from registry.repositories.batches import CHUNK
from registry.services.assignments import add_assignment, withdraw
from registry.services.grading_writer import GradingWriter
from registry.services.gradings import GradingView, NewGrading, create_gradings, history
from registry.services.studies import register_study
from registry.services.users import add_user
from tests.api.helpers import endplates

GRADED = StudyGrading.from_mapping(endplates(L4_inf={"type": "I/II", "size": "C"}))


def _users(engine: Engine, *roles: str) -> list[User]:
    with session_scope(engine, write=True) as session:
        return [add_user(session, f"{role}-{i}", role)[0] for i, role in enumerate(roles)]


def _studies(engine: Engine, admin: User, count: int) -> list[str]:
    """Studies registered by ``admin``, each assigned to every radiologist (batching is tested here)."""
    with session_scope(engine, write=True) as session:
        views = [
            register_study(session, admin, f"1.2.826.0.1.3680043.10.{i}", f"HOSP-{i}", None, 0.2)[0]
            for i in range(count)
        ]
        for rater in session.exec(select(User).where(User.role == "radiologist")):
            for view in views:
                add_assignment(session, view.study, rater, admin)
        session.commit()
        return [v.study.id for v in views]


def test_a_batch_records_each_grading_and_refuses_only_the_faulty_ones(app: FastAPI) -> None:
    engine = app.state.engine
    admin, rater, other = _users(engine, "admin", "radiologist", "radiologist")
    first, second = _studies(engine, admin, 2)
    batch = [
        NewGrading(rater, first, GRADED),
        NewGrading(rater, "no-such-study", GRADED),  # unknown study: 404
        NewGrading(other, first, GRADED),  # another rater may grade the same study
        NewGrading(rater, first, GRADED),  # the same rater twice in one batch: the second is refused
        NewGrading(rater, second, GRADED),
        NewGrading(rater, second, GRADED, GradingKind.reliability),  # not a clinical grading: no key
    ]
    with session_scope(engine, write=True) as session:
        outcomes = create_gradings(session, batch)
    assert [type(o) for o in outcomes] == [GradingView, NotFound, GradingView, AlreadyExists, GradingView, GradingView]
    views = [o for o in outcomes if isinstance(o, GradingView)]
    duplicate = outcomes[3]
    assert isinstance(duplicate, AlreadyExists) and duplicate.existing_id == views[0].id
    assert "no-such-study" in str(outcomes[1])
    with session_scope(engine) as session:
        for view in views:
            (entry,) = history(session, view.id, admin)
            assert entry.version.version == 1 and entry.version.endplates == GRADED.to_mapping()
        created = session.exec(select(AuditEvent.entity_id).where(AuditEvent.action == "grading.create")).all()
        assert sorted(created) == sorted(v.id for v in views)
        decisions = session.exec(select(EligibilityDecision)).all()
        # Both patients have decisions, each at its own feed position, from clinical gradings only
        # (the reliability read never counts).
        assert len({d.patient_id for d in decisions}) == 2 and len({d.seq for d in decisions}) == len(decisions)
        assert {d.grading_id for d in decisions} <= {views[0].id, views[1].id, views[2].id}
        assert {d.study_id for d in decisions} == {first, second}


def test_a_batch_sees_earlier_gradings_and_assignments_in_its_one_look_up(app: FastAPI) -> None:
    """The batch's checks (study, assignment, grading already recorded) are read in one statement."""
    engine = app.state.engine
    admin, rater, other = _users(engine, "admin", "radiologist", "radiologist")
    first, second = _studies(engine, admin, 2)
    with session_scope(engine, write=True) as session:
        (earlier,) = create_gradings(session, [NewGrading(rater, first, GRADED)])
        assert isinstance(earlier, GradingView)
        withdraw(session, admin, second, other.name)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", checks := lambda *a: statements.append(a[2]))
    try:
        with session_scope(engine, write=True) as session:
            outcomes = create_gradings(
                session,
                [
                    NewGrading(rater, first, GRADED),  # recorded in an earlier transaction
                    NewGrading(other, second, GRADED),  # no longer assigned: as if the study did not exist
                    NewGrading(other, first, GRADED),
                    NewGrading(admin, second, GRADED),  # an admin needs no assignment
                ],
            )
    finally:
        event.remove(engine, "before_cursor_execute", checks)
    assert [type(o) for o in outcomes] == [AlreadyExists, NotFound, GradingView, GradingView]
    assert isinstance(outcomes[0], AlreadyExists) and outcomes[0].existing_id == earlier.id
    lookups = [s for s in statements if "FROM assignments" in s or "FROM gradings" in s]
    assert len(lookups) == 1 and "FROM studies" in lookups[0]


def test_the_look_ups_of_a_batch_larger_than_one_statement_binds_are_all_answered(app: FastAPI) -> None:
    engine = app.state.engine
    admin, rater = _users(engine, "admin", "radiologist")
    studies = _studies(engine, admin, 3)
    missing = [f"0-missing-{i:04d}" for i in range(2 * CHUNK)]  # sorted before the real ids
    with session_scope(engine, write=True) as session:
        (graded,) = create_gradings(session, [NewGrading(rater, studies[2], GRADED)])
        assert isinstance(graded, GradingView)
        checks = gradings_repo.first_version_checks(
            session,
            {*missing, *studies},
            {(rater.id, s) for s in [*missing, *studies]},
            {f"{s}:{rater.id}" for s in [*missing, *studies]},
        )
        patients = studies_repo.patients_of_studies(session, set(studies))
    assert checks.patients == patients and len(patients) == 3
    assert checks.assigned == {(rater.id, s) for s in studies}
    assert checks.taken == {f"{studies[2]}:{rater.id}": graded.id}


def test_a_write_the_database_refuses_fails_alone(app: FastAPI) -> None:
    engine = app.state.engine
    admin, rater = _users(engine, "admin", "radiologist")
    (study,) = _studies(engine, admin, 1)
    ghost = User(id="no-such-user", name="ghost", role="radiologist")  # the foreign key refuses it
    with session_scope(engine, write=True) as session:
        outcomes = create_gradings(session, [NewGrading(ghost, study, GRADED), NewGrading(rater, study, GRADED)])
    assert isinstance(outcomes[0], Exception) and not isinstance(outcomes[0], GradingView)
    assert isinstance(outcomes[1], GradingView)
    with session_scope(engine) as session:
        assert session.exec(select(func.count()).select_from(GradingVersion)).one() == 1


def test_the_writer_answers_every_submitter_from_many_threads(app: FastAPI) -> None:
    engine = app.state.engine
    admin, *raters = _users(engine, "admin", *["radiologist"] * 8)
    studies = _studies(engine, admin, 40)
    writer = GradingWriter(engine, idle_seconds=0.05)
    futures: list[list[Future[GradingView]]] = [[] for _ in raters]
    start = threading.Barrier(len(raters))

    def submit(index: int) -> None:
        start.wait()
        for study in studies[index * 5 : index * 5 + 5]:
            futures[index].append(writer.submit(NewGrading(raters[index], study, GRADED)))
        futures[index].append(writer.submit(NewGrading(raters[index], studies[index * 5], GRADED)))  # again

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(raters))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert writer.drain(timeout=30)
    for rater, submitted in zip(raters, futures, strict=True):
        views = [f.result(timeout=0) for f in submitted[:-1]]
        assert all(v.rater == rater.name and v.version == 1 for v in views)
        with pytest.raises(AlreadyExists) as refused:
            submitted[-1].result(timeout=0)
        assert refused.value.existing_id == views[0].id
    with session_scope(engine) as session:
        assert session.exec(select(func.count()).select_from(GradingVersion)).one() == 40
        positions = session.exec(select(EligibilityDecision.seq).order_by(col(EligibilityDecision.seq))).all()
        assert len(positions) == len(set(positions))


def test_the_writer_thread_ends_when_idle_and_starts_again(app: FastAPI) -> None:
    engine = app.state.engine
    admin, rater = _users(engine, "admin", "radiologist")
    first, second = _studies(engine, admin, 2)
    writer = GradingWriter(engine, idle_seconds=0.01)

    assert writer.submit(NewGrading(rater, first, GRADED)).result(timeout=30).study_id == first
    assert writer.drain(timeout=30)
    pause = threading.Event()
    for _ in range(500):
        if not writer.active:
            break
        pause.wait(0.01)
    assert not writer.active
    assert writer.submit(NewGrading(rater, second, GRADED)).result(timeout=30).study_id == second


def test_a_request_abandoned_while_waiting_is_not_recorded_and_the_others_are(app: FastAPI) -> None:
    engine = app.state.engine
    admin, rater = _users(engine, "admin", "radiologist")
    first, abandoned, third = _studies(engine, admin, 3)
    writer = GradingWriter(engine)
    with session_scope(engine, write=True) as blocker:
        # Holds the write lock (SQLite) or the feed counter's row (PostgreSQL) until it ends, so that
        # the writer stops inside its first batch while the next requests queue.
        blocker.connection().execute(text("UPDATE eligibility_feed_counter SET value = value WHERE id = 1"))
        recorded = writer.submit(NewGrading(rater, first, GRADED))
        pause = threading.Event()
        for _ in range(500):
            if writer.queued == 0:
                break
            pause.wait(0.01)
        given_up = writer.submit(NewGrading(rater, abandoned, GRADED))
        waiting = writer.submit(NewGrading(rater, third, GRADED))
        assert given_up.cancel()
        blocker.rollback()
    assert recorded.result(timeout=30).study_id == first
    assert waiting.result(timeout=30).study_id == third
    assert given_up.cancelled()
    assert writer.drain(timeout=30)
    with session_scope(engine) as session:
        graded = session.exec(select(Grading.study_id)).all()
    assert sorted(graded) == sorted([first, third])


def test_a_failing_batch_answers_its_submitters_and_the_writer_goes_on(app: FastAPI) -> None:
    engine = app.state.engine
    admin, rater = _users(engine, "admin", "radiologist")
    first, second = _studies(engine, admin, 2)
    writer = GradingWriter(engine)
    broken = writer.submit(NewGrading(rater, first, None))  # type: ignore[arg-type]  # no grading: fails inside
    with pytest.raises(AttributeError):
        broken.result(timeout=30)
    assert writer.submit(NewGrading(rater, second, GRADED)).result(timeout=30).study_id == second
    assert writer.drain(timeout=30)
    with session_scope(engine) as session:
        assert session.exec(select(Grading.study_id)).all() == [second]
