"""Eligibility at registry scale, on SQLite.

1. Re-evaluating 100,000 stored gradings for a new rule-set version (target < 20 s), against the
   peer: the same evaluations in memory with :func:`grading.eligibility.evaluate`, no database.
2. Feed page latency (``GET /eligibility`` service call and response serialisation, 100 items per
   page, random cursors) at 10,000 and at 100,000 decisions (target: p99 grows by less than 2x);
   the 10,000-decision database is the peer of the 100,000-decision one (whose table also holds the
   decisions of the two other versions re-evaluated in step 1). Before the pages are timed, what the
   process holds is frozen out of the garbage collector (``gc.freeze()``), as ``modic serve`` does
   after start-up (``api/app.py``): otherwise a page's p99 is a full collection pass over every object
   the benchmark process made (60-90 ms here), which measures the benchmark, not the feed.

Run: ``python bench/bench_eligibility.py`` or ``python bench/run.py eligibility``.
"""

from __future__ import annotations

import datetime as dt
import gc
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

from api.schemas.eligibility import FeedPagePublic
from bench.common import percentile, print_table, row
from grading.eligibility import RuleSet, default_catalog, evaluate, parse_rule_set
from grading.endplates import ENDPLATES
from grading.nordic import TYPE_LABELS
from registry import crypto
from registry.db import dispose_engine, get_engine, migrate, session_scope
from registry.models import Grading, GradingVersion, Patient, Study, User
from registry.models.base import utcnow
from registry.repositories.eligibility import grading_from_stored
from registry.services.eligibility import decisions
from registry.services.eligibility.feed import feed

LARGE = 100_000
SMALL = 10_000
PAGE = 100
PAGE_SAMPLES = 400
CHUNK = 5_000
EVALUATED_ON = dt.date(2026, 11, 22)


def new_version(name: str) -> RuleSet:
    """A new, non-default version of NCT00454792 (the paper's rules with size C or D only)."""
    data = default_catalog().get("NCT00454792").to_mapping()
    data.update(version=name, default=False)
    data["criteria"][0]["test"]["sizes"] = ["C", "D"]
    return parse_rule_set(data, f"NCT00454792_{name}.json")


def random_endplates(rng: random.Random) -> dict[str, Any]:
    """A canonical grading mapping: most endplates without change, as in clinical series."""
    mapping: dict[str, Any] = {}
    for endplate in ENDPLATES:
        if rng.random() < 0.85:
            mapping[endplate.value] = {"type": "none", "size": None, "extension_pct": None}
        else:
            mapping[endplate.value] = {
                "type": rng.choice(TYPE_LABELS[1:]),
                "size": rng.choice("ABCD"),
                "extension_pct": None,
            }
    return mapping


def populate(database_url: str, patients: int, seed: int) -> list[dict[str, Any]]:
    """``patients`` patients, each with one study and one clinical grading; returns the gradings."""
    rng = random.Random(seed)
    engine = get_engine(database_url)
    migrate(engine)
    now = utcnow()
    rater_id = str(uuid.uuid4())
    gradings = [random_endplates(rng) for _ in range(patients)]
    patient_cipher = crypto.cipher()  # patients are found by the blind index of their hospital id
    with session_scope(engine, write=True) as session:
        session.execute(
            insert(User),
            [{"id": rater_id, "name": "bench-rater", "role": "radiologist", "active": True, "created_at": now}],
        )
        for start in range(0, patients, CHUNK):
            block = range(start, min(start + CHUNK, patients))
            ids = {i: (str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())) for i in block}
            session.execute(
                insert(Patient),
                [
                    {
                        "id": ids[i][0],
                        "hospital_id_index": patient_cipher.blind_index(f"B{i}"),
                        "hospital_id": f"B{i}",
                        "pseudonym": f"P-B{i:09d}",
                        "created_at": now,
                    }
                    for i in block
                ],
            )
            session.execute(
                insert(Study),
                [
                    {
                        "id": ids[i][1],
                        "study_instance_uid": f"1.2.826.0.1.3680043.10.{i + 1}",
                        "patient_id": ids[i][0],
                        "study_date": EVALUATED_ON - dt.timedelta(days=i % 200),
                        "warnings": [],
                        "created_at": now,
                    }
                    for i in block
                ],
            )
            session.execute(
                insert(Grading),
                [
                    {
                        "id": ids[i][2],
                        "study_id": ids[i][1],
                        "rater_id": rater_id,
                        "kind": "clinical",
                        "clinical_key": f"{ids[i][1]}:{rater_id}",
                        "current_version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in block
                ],
            )
            session.execute(
                insert(GradingVersion),
                [
                    {"grading_id": ids[i][2], "version": 1, "endplates": gradings[i], "author_id": rater_id, "at": now}
                    for i in block
                ],
            )
        session.commit()
    return gradings


def reevaluate_new_version(database_url: str, rule_set: RuleSet) -> tuple[float, int]:
    """Seconds to evaluate every patient for ``rule_set`` and store the decisions; decisions created."""
    engine = get_engine(database_url)
    start = time.perf_counter()
    with session_scope(engine, write=True) as session:
        report = decisions.reevaluate(session, None, EVALUATED_ON, [rule_set])
        session.commit()
    return time.perf_counter() - start, report.created


def evaluate_in_memory(gradings: list[dict[str, Any]], rule_set: RuleSet) -> float:
    """Seconds to parse and evaluate the same gradings one by one without a database (the peer)."""
    start = time.perf_counter()
    for mapping in gradings:
        evaluate(rule_set, grading_from_stored(mapping), EVALUATED_ON, {}, EVALUATED_ON)
    return time.perf_counter() - start


def page_latencies(database_url: str, rule_set: RuleSet, seed: int) -> list[float]:
    """Latency of fetching and serialising feed pages from random cursors of the whole feed."""
    rng = random.Random(seed)
    engine = get_engine(database_url)
    with session_scope(engine) as session:
        cursors = ["0"]
        while True:
            page = feed(session, rule_set, cursors[-1], 1000)
            if not page.items:
                break
            cursors += [str(item.decision.seq) for item in page.items]
        latencies = []
        for n in range(PAGE_SAMPLES + 20):
            start = time.perf_counter()
            page = feed(session, rule_set, rng.choice(cursors[:-PAGE]), PAGE)
            FeedPagePublic.of(page).model_dump_json()
            if n >= 20:  # the first pages warm the caches
                latencies.append(time.perf_counter() - start)
    return latencies


def run() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        large_url, small_url = f"sqlite:///{tmp}/large.db", f"sqlite:///{tmp}/small.db"
        gradings = populate(large_url, LARGE, seed=1)
        populate(small_url, SMALL, seed=2)
        version = new_version("bench-1")
        runs = [reevaluate_new_version(large_url, new_version(f"bench-{n}")) for n in (1, 2, 3)]
        seconds = statistics.median(r[0] for r in runs)
        peer = statistics.median(evaluate_in_memory(gradings, version) for _ in range(3))
        rows.append(
            row(
                f"re-evaluate {LARGE:,} stored gradings for a new rule-set version (SQLite)",
                f"median {seconds:.1f} s of 3 ({runs[0][1]:,} decisions stored each)",
                "< 20 s",
                seconds < 20,
                peer=f"in-memory evaluation only: {peer:.1f} s",
                ratio=f"{seconds / peer:.2f}",
            )
        )
        del gradings
        gc.collect()  # the 100,000 generated gradings are not part of the feed's working set
        gc.freeze()  # what is alive now stays alive, as in a server after start-up
        reevaluate_new_version(small_url, version)
        small = page_latencies(small_url, version, seed=3)
        large = page_latencies(large_url, version, seed=3)
        dispose_engine(large_url)
        dispose_engine(small_url)
    small_p99, large_p99 = percentile(small, 99) * 1000, percentile(large, 99) * 1000
    rows.append(
        row(
            f"feed page ({PAGE} items) at {LARGE:,} decisions",
            f"p50 {percentile(large, 50) * 1000:.2f} ms, p99 {large_p99:.2f} ms",
            "p99 grows < 2x",
            large_p99 / small_p99 < 2,
            peer=f"at {SMALL:,} decisions: p50 {percentile(small, 50) * 1000:.2f} ms, p99 {small_p99:.2f} ms",
            ratio=f"{large_p99 / small_p99:.2f}",
        )
    )
    return rows


if __name__ == "__main__":
    print_table(run())
