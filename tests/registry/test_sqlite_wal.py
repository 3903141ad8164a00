"""SQLite's write-ahead log is checkpointed in the background, not in the commits that grow it.

What the log holds and how much of it is already copied into the database file is read from the
WAL-index header in the ``-shm`` file (https://www.sqlite.org/walformat.html, "The WAL-Index
Header"): ``mxFrame`` at byte 16, ``nBackfill`` at byte 96, in native byte order.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path

from sqlalchemy import text

from registry.db import dispose_engine, get_engine


def _log_state(database: Path) -> tuple[int, int]:
    """(frames in the log, frames already copied into the database file)."""
    header = Path(f"{database}-shm").read_bytes()[:136]
    (frames,) = struct.unpack_from("=I", header, 16)
    (copied,) = struct.unpack_from("=I", header, 96)
    return frames, copied


def test_commits_are_checkpointed_in_the_background(tmp_path: Path) -> None:
    database = tmp_path / "wal.db"
    url = f"sqlite:///{database}"
    engine = get_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)"))
        for _ in range(50):  # far below the 10,000 pages at which a commit would checkpoint
            with engine.begin() as connection:
                connection.execute(text("INSERT INTO blobs (data) VALUES (randomblob(8000))"))
        deadline = time.monotonic() + 10
        while True:
            frames, copied = _log_state(database)
            if (frames and copied == frames) or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert frames > 50 and copied == frames, (frames, copied)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM blobs")).scalar_one() == 50
    finally:
        dispose_engine(url)
    assert not Path(f"{database}-wal").exists()  # the last connection closed: log folded in, removed
