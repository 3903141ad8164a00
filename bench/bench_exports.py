"""Exports at registry scale, on SQLite: 100,000 gradings (one per patient, as clinical series have
them: most endplates without change) exported through ``GET /api/v1/exports/gradings.{csv,dta}``
in both shapes (target: under 10 s each).

Peer: the hand-written script a statistician would otherwise write: ``pandas.read_sql`` of the same
join, the stored endplates JSON expanded row by row into one record per endplate (long) or one column
per endplate variable (wide), then ``DataFrame.to_csv`` / ``DataFrame.to_stata`` without value labels.

Run: ``python bench/bench_exports.py`` or ``python bench/run.py exports``.
"""

from __future__ import annotations

import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd
from fastapi.testclient import TestClient

from api.app import create_app
from bench.bench_eligibility import populate
from bench.common import print_table, row
from registry.db import dispose_engine, get_engine, session_scope
from registry.services.users import add_user
from registry.settings import Settings

GRADINGS = 100_000
REPEATS = 3
PEER_REPEATS = 1
"""The peer takes minutes at this size: measured once."""
TARGET_S = 10.0
_PEER_QUERY = """
SELECT p.pseudonym AS patient, s.id AS study_id, s.study_date, g.id AS grading_id, g.kind, g.rater_id AS rater,
       v.version, v.at AS recorded_at, v.endplates
FROM grading_versions v JOIN gradings g ON g.id = v.grading_id JOIN studies s ON s.id = g.study_id
JOIN patients p ON p.id = s.patient_id ORDER BY p.pseudonym, v.version
"""


def _peer(database_url: str, shape: str, extension: str) -> bytes:
    """The hand-written export: read_sql, expand the JSON per row, write with pandas."""
    frame = pd.read_sql(_PEER_QUERY, get_engine(database_url))
    records: list[dict[str, Any]] = []
    for values in frame.itertuples(index=False):
        base = values._asdict()
        stored = json.loads(base.pop("endplates"))
        if shape == "long":
            for endplate, entry in stored.items():
                records.append({**base, "endplate": endplate, **entry})
        else:
            wide = dict(base)
            for endplate, entry in stored.items():
                wide.update({f"{endplate.lower()}_{k}": v for k, v in entry.items()})
            records.append(wide)
    table = pd.DataFrame.from_records(records)
    sink = io.BytesIO()
    if extension == "csv":
        table.to_csv(sink, index=False)
    else:
        table = table.astype({c: str for c in table.columns if table[c].dtype == object})
        table.to_stata(sink, write_index=False, version=118)
    return sink.getvalue()


def _median_s(action: Callable[[], bytes], repeats: int = REPEATS) -> tuple[float, float, int]:
    """Median wall-clock and CPU seconds of ``action`` (CPU: this process, so a busy machine shows
    as wall time well above CPU time), and the size of its result."""
    walls, cpus, size = [], [], 0
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        size = len(action())
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
    return statistics.median(walls), statistics.median(cpus), size


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as folder:
        database_url = f"sqlite:///{Path(folder) / 'bench.db'}"
        populate(database_url, GRADINGS, seed=15)
        app = create_app(Settings(database_url=database_url, data_dir=Path(folder) / "data"))
        with session_scope(app.state.engine, write=True) as session:
            _, token = add_user(session, "bench-researcher", "researcher")
        headers = {"Authorization": f"Bearer {token}"}
        rows = []
        with TestClient(app) as client:

            def export(shape: str, extension: str) -> bytes:
                response = client.get(f"/api/v1/exports/gradings.{extension}?shape={shape}", headers=headers)
                response.raise_for_status()
                return response.content

            for shape in ("long", "wide"):
                for extension in ("csv", "dta"):
                    ours, ours_cpu, size = _median_s(lambda s=shape, e=extension: export(s, e))
                    peer, peer_cpu, _ = _median_s(lambda s=shape, e=extension: _peer(database_url, s, e), PEER_REPEATS)
                    rows.append(
                        row(
                            f"export {GRADINGS:,} gradings, {shape} .{extension} ({size / 1e6:.0f} MB)",
                            f"{ours:.2f} s (CPU {ours_cpu:.2f} s), median of {REPEATS}",
                            f"< {TARGET_S:.0f} s",
                            ours < TARGET_S,
                            peer=f"read_sql + JSON per row + pandas writer: {peer:.2f} s (CPU {peer_cpu:.2f} s), once",
                            ratio=f"{peer / ours:.1f}x faster" if ours < peer else f"{ours / peer:.1f}x slower",
                        )
                    )
        dispose_engine(database_url)
    return rows


if __name__ == "__main__":
    print_table(run())
