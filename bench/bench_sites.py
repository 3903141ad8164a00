"""A site on PostgreSQL: study registration (JSON ``POST /api/v1/studies``) against the grading ``POST``,
16 clients each, through ``modic serve``; and the grading ``POST`` with ``--workers 1`` against
``--workers 3``. Rounds alternate between the loads compared; figures are medians of the rounds.

The processes of ``--workers 3`` share one listening socket, and the first to wake accepts every
connection then waiting: the 16 clients' connections, opened together, were seen spread 16/0/0,
14/2/0, 10/4/2 and 8/8/0. Each client keeps its connection, so the clients of a lighter process finish
early and the run ends with the others alone. The scaling figure is therefore the rate while every
client still posts (:func:`bench.common.post_load`); the whole run's rate is shown beside it.

A last row measures what the scaling depends on: the CPU of one batch of first gradings
(:func:`registry.services.gradings.create_gradings`, in this process, no HTTP) by batch size, in
Python and in the PostgreSQL backend.

Needs PostgreSQL: ``MODIC_BENCH_POSTGRES_URL`` (or ``MODIC_TEST_POSTGRES_URL``) names a server where a
database may be created; without it the rows say so and are not counted as met.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Job, ServerProcess, cpu_seconds, median, percentile, post_load, print_table, process_tree, row
from grading.endplates import ENDPLATES
from registry.db import dispose_engine, get_engine, migrate, session_scope
from registry.models import User
from registry.services.assignments import add_assignment
from registry.services.gradings import create_gradings, parse_grading
from registry.services.studies import register_study
from registry.services.users import add_user, set_registrar

CLIENTS = 16
PER_CLIENT = 40
ROUNDS = 5
"""Rounds of the alternating loads. Five, not three: on this 2-core machine one round of the scaling
pair moves by up to a tenth, and with three rounds one run in six fell below the target."""
BATCH_SIZES = (1, 4, 16)
BATCHES = 60
"""Batches of each size whose CPU is measured, alternating sizes."""
BODY = {"endplates": {e.value: {"type": "none"} for e in ENDPLATES} | {"L4_inf": {"type": "I/II", "size": "C"}}}


async def _load(url: str, jobs: list[list[Job]], steady: list[float] | None = None) -> tuple[float, list[float]]:
    """Each client posts its jobs one after another on an open connection (:func:`post_load`)."""
    return await post_load(url, jobs, warm_path="/api/v1/health/live", timeout=120, steady=steady)


@contextmanager
def _database(server_url: str) -> Iterator[str]:
    admin_url = make_url(server_url).set(drivername="postgresql+psycopg")
    name = f"modic_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        dispose_engine(url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _rater_of(study: int, warmup: int) -> int:
    """The rater :func:`_prepare` assigns the ``study``-th study to (and whose client grades it)."""
    return 0 if study < warmup else (study - warmup) // PER_CLIENT % CLIENTS


def _prepare(database_url: str, studies_needed: int, warmup: int) -> tuple[list[dict[str, str]], list[str]]:
    """Raters who may register studies, and studies to grade: the first ``warmup`` assigned to rater 0,
    then each run of ``PER_CLIENT`` to the rater whose client grades it in :func:`_grading_jobs`."""
    engine = get_engine(database_url)
    migrate(engine)
    with session_scope(engine, write=True) as session:
        admin, _ = add_user(session, "bench-admin", "admin")
        raters, headers = [], []
        for i in range(CLIENTS):
            rater, token = add_user(session, f"bench-rad-{i}", "radiologist")
            set_registrar(session, rater.name, True, admin)
            raters.append(rater)
            headers.append({"Authorization": f"Bearer {token}"})
        studies = []
        for i in range(studies_needed):
            view, _ = register_study(session, admin, f"1.2.826.0.1.3680043.9.5.{i}", f"SITE-{i}", None, 0.2)
            studies.append(view.study.id)
            add_assignment(session, view.study, raters[_rater_of(i, warmup)], admin)
        session.commit()
    dispose_engine(database_url)
    return headers, studies


def _grading_jobs(headers: list[dict[str, str]], studies: Iterator[str]) -> list[list[Job]]:
    return [[(f"/api/v1/studies/{next(studies)}/gradings", BODY, h) for _ in range(PER_CLIENT)] for h in headers]


def _registration_jobs(headers: list[dict[str, str]], round_: int) -> list[list[Job]]:
    def body(c: int, k: int) -> dict[str, Any]:
        uid = f"1.2.826.0.1.3680043.9.6.{round_}.{c}.{k}"
        return {"study_instance_uid": uid, "patient_id": f"REG-{round_}-{c}-{k}", "study_date": "2026-10-01"}

    return [[("/api/v1/studies", body(c, k), h) for k in range(PER_CLIENT)] for c, h in enumerate(headers)]


def _backends(database_url: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving ``database_url``'s database."""
    name = make_url(database_url).database
    admin = create_engine(make_url(database_url).set(database="postgres"))
    try:
        with admin.connect() as conn:
            pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :d"), {"d": name}).scalars()
            return {pid: cpu_seconds([pid]) for pid in pids}
    finally:
        admin.dispose()


class CpuMeter:
    """CPU seconds per request of the server's processes, its PostgreSQL backends and the load generator."""

    def __init__(self, server_pid: int | None, database_url: str) -> None:
        self._server = process_tree(server_pid) if server_pid is not None else []
        self._database_url = database_url
        self.per_request: dict[str, list[float]] = {"server": [], "postgres": [], "client": []}

    def rate(self, url: str, jobs: list[list[Job]], latencies: list[float], steady: list[float] | None = None) -> float:
        server, backends, client = cpu_seconds(self._server), _backends(self._database_url), time.process_time()
        result = _rate(url, jobs, latencies, steady)
        after = _backends(self._database_url)
        n = sum(len(j) for j in jobs)
        self.per_request["server"].append((cpu_seconds(self._server) - server) / n)
        self.per_request["postgres"].append(sum(cpu - backends.get(pid, 0.0) for pid, cpu in after.items()) / n)
        self.per_request["client"].append((time.process_time() - client) / n)
        return result

    def summary(self) -> str:
        parts = [f"{who} {median(values) * 1000:.1f} ms" for who, values in self.per_request.items()]
        return "CPU per request: " + ", ".join(parts)


def _rate(url: str, jobs: list[list[Job]], latencies: list[float], steady: list[float] | None = None) -> float:
    wall, lat = asyncio.run(_load(url, jobs, steady))
    latencies += lat
    return CLIENTS * PER_CLIENT / wall


def _batch_cpu(server_url: str) -> dict[int, tuple[float, float]]:
    """Per batch size: the CPU seconds of one ``create_gradings`` batch in this process (median) and in
    its PostgreSQL backend (mean), over :data:`BATCHES` batches of each size taken in turn."""
    warmup = 5
    needed = warmup + BATCHES * sum(BATCH_SIZES)
    python: dict[int, list[float]] = {size: [] for size in BATCH_SIZES}
    postgres: dict[int, list[float]] = {size: [] for size in BATCH_SIZES}
    with _database(server_url) as database_url:
        _, studies = _prepare(database_url, needed, warmup=warmup)
        engine = get_engine(database_url)
        with session_scope(engine) as session:
            raters = {user.name: user for user in session.execute(select(User)).scalars()}
        graded = iter(
            parse_grading(
                raters[f"bench-rad-{_rater_of(i, warmup)}"],
                study,
                BODY["endplates"],
            )
            for i, study in enumerate(studies)
        )
        for _ in range(warmup):
            with session_scope(engine, write=True) as session:
                create_gradings(session, [next(graded)])
        for _ in range(BATCHES):
            for size in BATCH_SIZES:
                batch = [next(graded) for _ in range(size)]
                with session_scope(engine, write=True) as session:
                    backends, started = _backends(database_url), time.process_time()
                    outcomes = create_gradings(session, batch)
                    python[size].append(time.process_time() - started)
                    after = _backends(database_url)
                if any(isinstance(outcome, Exception) for outcome in outcomes):
                    raise RuntimeError(f"a benchmark grading was refused: {outcomes}")
                postgres[size].append(sum(cpu - backends.get(pid, 0.0) for pid, cpu in after.items()))
        dispose_engine(database_url)
    # A process's CPU is counted in clock ticks (10 ms), far coarser than one batch in the backend:
    # its share is the mean over the batches of a size, whose ticks add up without bias.
    return {size: (median(python[size]), sum(postgres[size]) / BATCHES) for size in BATCH_SIZES}


def _batch_row(costs: dict[int, tuple[float, float]]) -> dict[str, Any]:
    smallest, largest = min(costs), max(costs)
    total = {size: (python + postgres) * 1000 for size, (python, postgres) in costs.items()}
    per_grading = (total[largest] - total[smallest]) / (largest - smallest)
    fixed = total[smallest] - smallest * per_grading
    return row(
        f"CPU of one batch of first gradings by size, PostgreSQL (create_gradings in process, no HTTP; {BATCHES} "
        "batches each: Python median, backend mean)",
        "; ".join(
            f"{size}: {python * 1000:.1f} ms + postgres {postgres * 1000:.1f} ms"
            for size, (python, postgres) in costs.items()
        ),
        "measured, no target",
        True,
        peer=f"so about {fixed:.1f} ms fixed per batch and {per_grading:.1f} ms per grading (both sides)",
    )


def run() -> list[dict[str, Any]]:
    server_url = os.environ.get("MODIC_BENCH_POSTGRES_URL") or os.environ.get("MODIC_TEST_POSTGRES_URL")
    if not server_url:
        reason = "not run: set MODIC_BENCH_POSTGRES_URL"
        return [
            row("registration vs grading POST, PostgreSQL", reason, ">= 0.5x grading POST", False),
            row("grading POST, --workers 3 vs 1, PostgreSQL", reason, ">= 1.0x one process", False),
        ]
    per_round = CLIENTS * PER_CLIENT
    with _database(server_url) as database_url, _database(server_url) as second_url:
        headers, studies = _prepare(database_url, 2 * ROUNDS * per_round + 1, warmup=1)
        headers3, studies3 = _prepare(second_url, ROUNDS * per_round + 3, warmup=3)
        own, own3 = iter(studies), iter(studies3)
        registration, grading, one, three = [], [], [], []
        steady: dict[str, list[float]] = {"one": [], "three": []}
        lat: dict[str, list[float]] = {"registration": [], "grading": [], "one": [], "three": []}
        serve = ["-m", "api.cli", "serve", "--port", "{port}", "--database-url"]
        # Both servers run throughout and the loads alternate, round by round; an idle server costs
        # nothing measurable.
        three_workers = [*serve, second_url, "--workers", "3"]
        with ServerProcess([*serve, database_url]) as single, ServerProcess(three_workers) as workers:
            asyncio.run(_load(single.url, [[(f"/api/v1/studies/{next(own)}/gradings", BODY, headers[0])]]))
            warmup = [[(f"/api/v1/studies/{next(own3)}/gradings", BODY, headers3[0])] for _ in range(3)]
            asyncio.run(_load(workers.url, warmup))
            meter_one = CpuMeter(single.pid, database_url)
            meter_registration = CpuMeter(single.pid, database_url)
            meter_three = CpuMeter(workers.pid, second_url)
            for r in range(ROUNDS):
                registration.append(
                    meter_registration.rate(single.url, _registration_jobs(headers, r), lat["registration"])
                )
                grading.append(_rate(single.url, _grading_jobs(headers, own), lat["grading"]))
                one.append(meter_one.rate(single.url, _grading_jobs(headers, own), lat["one"], steady["one"]))
                jobs3 = _grading_jobs(headers3, own3)
                three.append(meter_three.rate(workers.url, jobs3, lat["three"], steady["three"]))

    def p(name: str, q: float) -> float:
        return percentile(lat[name], q) * 1000

    reg_ratio = median(registration) / median(grading)
    scale = median(steady["three"]) / median(steady["one"])
    paired = sorted(t / o for t, o in zip(steady["three"], steady["one"], strict=True))
    return [
        row(
            f"study registration (JSON), PostgreSQL, {CLIENTS} clients, median of {ROUNDS}",
            f"{median(registration):.0f} req/s (p50 {p('registration', 50):.0f} ms, "
            f"p99 {p('registration', 99):.0f} ms)",
            ">= 0.5x grading POST",
            reg_ratio >= 0.5,
            peer=f"grading POST {median(grading):.0f} req/s (p99 {p('grading', 99):.0f} ms); registration's "
            + meter_registration.summary(),
            ratio=f"{reg_ratio:.2f}",
        ),
        row(
            f"grading POST, PostgreSQL, {CLIENTS} clients, --workers 3, median of {ROUNDS} "
            "(rate while all clients post; whole run in brackets)",
            f"{median(steady['three']):.0f} req/s ({median(three):.0f}; p50 {p('three', 50):.0f} ms, "
            f"p99 {p('three', 99):.0f} ms)",
            ">= 1.0x one process",
            scale >= 1.0,
            peer=f"--workers 1: {median(steady['one']):.0f} req/s ({median(one):.0f}; p99 {p('one', 99):.0f} ms)",
            ratio=f"{scale:.2f} (rounds {paired[0]:.2f}-{paired[-1]:.2f})",
        ),
        row(
            f"CPU per grading POST, PostgreSQL, {CLIENTS} clients (same rounds; the scaling argument's input)",
            f"--workers 3: {meter_three.summary()}",
            "measured, no target",
            True,
            peer=f"--workers 1: {meter_one.summary()}",
        ),
        _batch_row(_batch_cpu(server_url)),
    ]


if __name__ == "__main__":
    print_table(run())
