"""Grading ``POST`` throughput and latency through a real uvicorn server on SQLite, 16 concurrent
clients, against a bare FastAPI endpoint returning a constant JSON, served and loaded the same way."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ServerProcess, median, percentile, post_load, print_table, row
from grading.endplates import ENDPLATES
from registry.db import dispose_engine, get_engine, migrate, session_scope
from registry.services.assignments import add_assignment
from registry.services.studies import register_study
from registry.services.users import add_user

CLIENTS = 16
PER_CLIENT = 100
ROUNDS = 5
"""Rounds of ``CLIENTS x PER_CLIENT`` requests, the two servers in turn; throughputs are medians."""
BODY = {"endplates": {e.value: {"type": "none"} for e in ENDPLATES} | {"L4_inf": {"type": "I/II", "size": "C"}}}


async def _load(url: str, requests: list[list[tuple[str, dict[str, str]]]]) -> tuple[float, list[float]]:
    """Each client posts the grading body to its paths one after another (:func:`post_load`)."""
    return await post_load(url, [[(path, BODY, headers) for path, headers in mine] for mine in requests])


def _prepare(database_url: str) -> tuple[list[str], list[str]]:
    """Raters (tokens) and studies to grade: each rater grades studies of their own, as radiologists
    working through a worklist do (five sample studies first, to warm up)."""
    engine = get_engine(database_url)
    migrate(engine)
    tokens, raters, studies = [], [], []
    with session_scope(engine, write=True) as session:
        admin, _ = add_user(session, "bench-admin", "admin")
        for i in range(CLIENTS):
            rater, token = add_user(session, f"bench-rater-{i}", "radiologist")
            tokens.append(token)
            raters.append(rater)
        for i in range(ROUNDS * CLIENTS * PER_CLIENT + 5):
            view, _ = register_study(session, admin, f"1.2.826.0.1.3680043.9.{i + 1}", f"BENCH-{i}", None, 0.2)
            studies.append(view.study.id)
            # Each study is assigned to the rater who grades it in run() (the first five: rater 0).
            add_assignment(session, view.study, raters[0 if i < 5 else (i - 5) // PER_CLIENT % CLIENTS], admin)
        session.commit()
    dispose_engine(database_url)
    return tokens, studies


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{tmp}/bench.db"
        tokens, studies = _prepare(database_url)
        own = iter(studies[5:])
        rounds = [
            [
                [
                    (f"/api/v1/studies/{next(own)}/gradings", {"Authorization": f"Bearer {token}"})
                    for _ in range(PER_CLIENT)
                ]
                for token in tokens
            ]
            for _ in range(ROUNDS)
        ]
        warmup = [
            [(f"/api/v1/studies/{study}/gradings", {"Authorization": f"Bearer {tokens[0]}"})] for study in studies[:5]
        ]
        serve = ["-m", "api.cli", "serve", "--port", "{port}", "--database-url", database_url]
        bare = ["-m", "uvicorn", "bench.bare_app:app", "--port", "{port}", "--log-level", "warning"]
        bare_jobs = [[("/constant", {})] * PER_CLIENT for _ in range(CLIENTS)]
        grading_rps, bare_rps, grading_lat, bare_lat = [], [], [], []
        with ServerProcess(serve, env={"MODIC_DATA_DIR": f"{tmp}/data"}) as ours, ServerProcess(bare) as peer:
            asyncio.run(_load(ours.url, warmup))
            asyncio.run(_load(peer.url, [[("/constant", {})] * 5]))
            for jobs in rounds:
                wall, latencies = asyncio.run(_load(ours.url, jobs))
                grading_rps.append(CLIENTS * PER_CLIENT / wall)
                grading_lat += latencies
                wall, latencies = asyncio.run(_load(peer.url, bare_jobs))
                bare_rps.append(CLIENTS * PER_CLIENT / wall)
                bare_lat += latencies
    ratio = median([g / b for g, b in zip(grading_rps, bare_rps, strict=True)])
    p50, p99 = percentile(grading_lat, 50) * 1000, percentile(grading_lat, 99) * 1000
    label = f"grading POST throughput, SQLite, {CLIENTS} clients, median of {ROUNDS}"
    return [
        row(
            label,
            f"{median(grading_rps):.0f} req/s",
            ">= 0.3x bare endpoint",
            ratio >= 0.3,
            peer=f"bare FastAPI {median(bare_rps):.0f} req/s (p50 {percentile(bare_lat, 50) * 1000:.1f} ms)",
            ratio=f"{ratio:.2f}",
        ),
        row(
            f"grading POST latency, SQLite, {CLIENTS} clients, {ROUNDS * CLIENTS * PER_CLIENT} requests",
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms",
            "p99 < 50 ms",
            p99 < 50,
        ),
    ]


if __name__ == "__main__":
    print_table(run())
