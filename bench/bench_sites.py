"""A site on PostgreSQL: study registration (JSON ``POST /api/v1/studies``) against the grading ``POST``,
16 clients each, through ``modic serve``; and the grading ``POST`` with ``--workers 1`` against
``--workers 3``. Rounds alternate between the loads compared; figures are medians of the rounds.

Needs PostgreSQL: ``MODIC_BENCH_POSTGRES_URL`` (or ``MODIC_TEST_POSTGRES_URL``) names a server where a
database may be created; without it the rows say so and are not counted as met.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Job, ServerProcess, median, percentile, post_load, print_table, row
from grading.endplates import ENDPLATES
from registry.db import dispose_engine, get_engine, migrate, session_scope
from registry.services.studies import register_study
from registry.services.users import add_user

CLIENTS = 16
PER_CLIENT = 40
ROUNDS = 3
BODY = {"endplates": {e.value: {"type": "none"} for e in ENDPLATES} | {"L4_inf": {"type": "I/II", "size": "C"}}}


async def _load(url: str, jobs: list[list[Job]]) -> tuple[float, list[float]]:
    """Each client posts its jobs one after another on an open connection (:func:`post_load`)."""
    return await post_load(url, jobs, warm_path="/api/v1/health/live", timeout=120)


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


def _prepare(database_url: str, studies_needed: int) -> tuple[list[dict[str, str]], list[str]]:
    engine = get_engine(database_url)
    migrate(engine)
    with session_scope(engine, write=True) as session:
        admin, _ = add_user(session, "bench-admin", "admin")
        headers = [
            {"Authorization": f"Bearer {add_user(session, f'bench-rad-{i}', 'radiologist')[1]}"} for i in range(CLIENTS)
        ]
        studies = [
            register_study(session, admin, f"1.2.826.0.1.3680043.9.5.{i}", f"SITE-{i}", None, 0.2)[0].study.id
            for i in range(studies_needed)
        ]
    dispose_engine(database_url)
    return headers, studies


def _grading_jobs(headers: list[dict[str, str]], studies: Iterator[str]) -> list[list[Job]]:
    return [[(f"/api/v1/studies/{next(studies)}/gradings", BODY, h) for _ in range(PER_CLIENT)] for h in headers]


def _registration_jobs(headers: list[dict[str, str]], round_: int) -> list[list[Job]]:
    def body(c: int, k: int) -> dict[str, Any]:
        uid = f"1.2.826.0.1.3680043.9.6.{round_}.{c}.{k}"
        return {"study_instance_uid": uid, "patient_id": f"REG-{round_}-{c}-{k}", "study_date": "2026-10-01"}

    return [[("/api/v1/studies", body(c, k), h) for k in range(PER_CLIENT)] for c, h in enumerate(headers)]


def _rate(url: str, jobs: list[list[Job]], latencies: list[float]) -> float:
    wall, lat = asyncio.run(_load(url, jobs))
    latencies += lat
    return CLIENTS * PER_CLIENT / wall


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
        headers, studies = _prepare(database_url, 3 * ROUNDS * per_round + 5)
        headers3, studies3 = _prepare(second_url, ROUNDS * per_round + 5)
        own, own3 = iter(studies), iter(studies3)
        registration, grading, one, three = [], [], [], []
        lat: dict[str, list[float]] = {"registration": [], "grading": [], "one": [], "three": []}
        serve = ["-m", "api.cli", "serve", "--port", "{port}", "--database-url"]
        with ServerProcess([*serve, database_url]) as single:
            asyncio.run(_load(single.url, [[(f"/api/v1/studies/{next(own)}/gradings", BODY, headers[0])]]))
            for r in range(ROUNDS):
                registration.append(_rate(single.url, _registration_jobs(headers, r), lat["registration"]))
                grading.append(_rate(single.url, _grading_jobs(headers, own), lat["grading"]))
                one.append(_rate(single.url, _grading_jobs(headers, own), lat["one"]))
        with ServerProcess([*serve, second_url, "--workers", "3"]) as workers:
            warmup = [[(f"/api/v1/studies/{next(own3)}/gradings", BODY, headers3[0])] for _ in range(3)]
            asyncio.run(_load(workers.url, warmup))
            for _ in range(ROUNDS):
                three.append(_rate(workers.url, _grading_jobs(headers3, own3), lat["three"]))

    def p(name: str, q: float) -> float:
        return percentile(lat[name], q) * 1000

    reg_ratio = median(registration) / median(grading)
    scale = median(three) / median(one)
    return [
        row(
            f"study registration (JSON), PostgreSQL, {CLIENTS} clients, median of {ROUNDS}",
            f"{median(registration):.0f} req/s (p50 {p('registration', 50):.0f} ms, "
            f"p99 {p('registration', 99):.0f} ms)",
            ">= 0.5x grading POST",
            reg_ratio >= 0.5,
            peer=f"grading POST {median(grading):.0f} req/s (p99 {p('grading', 99):.0f} ms)",
            ratio=f"{reg_ratio:.2f}",
        ),
        row(
            f"grading POST, PostgreSQL, {CLIENTS} clients, --workers 3, median of {ROUNDS}",
            f"{median(three):.0f} req/s (p50 {p('three', 50):.0f} ms, p99 {p('three', 99):.0f} ms)",
            ">= 1.0x one process",
            scale >= 1.0,
            peer=f"--workers 1: {median(one):.0f} req/s (p99 {p('one', 99):.0f} ms)",
            ratio=f"{scale:.2f}",
        ),
    ]


if __name__ == "__main__":
    print_table(run())
