"""Shared pieces of the benchmarks: timing summaries, a uvicorn server in a subprocess, the table."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
BENCH_PATIENT_KEY = "bW9kaWMtYmVuY2gtcGF0aWVudC1rZXktMzJieXRlcyE="
"""The patient key of benchmark runs (their patients are made up), unless MODIC_PATIENT_KEY is set;
servers the benchmarks start inherit it."""
os.environ.setdefault("MODIC_PATIENT_KEY", BENCH_PATIENT_KEY)

CHROMIUM = Path("/usr/bin/chromium")
"""Debian's Chromium: the browser the web tests and benchmark drive (never a downloaded one)."""
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Headless, as root, and without the background connections this machine's closed network refuses."""


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """``python -m <module> ...`` serving on a free port until the context ends."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._args = [a.replace("{port}", str(self.port)) for a in args]
        self._env = {**os.environ, **(env or {})}
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        self._process = subprocess.Popen(
            [sys.executable, *self._args], cwd=ROOT, env=self._env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{self.url}/api/v1/health", timeout=1)
                return self
            except httpx.TransportError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    if self._process.poll() is None:  # still starting after the deadline: stop it first,
                        self._process.kill()  # or reading its stderr would wait for ever
                        self._process.wait()
                    error = self._process.stderr.read().decode() if self._process.stderr else ""
                    raise RuntimeError(f"server {self._args} did not start: {error}") from None
                time.sleep(0.1)

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return None if self._process is None else self._process.pid

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=30)


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name; None when the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux ``/proc``), e.g. a ``serve --workers N`` parent and its workers."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))) is not None:
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending += parents.get(current, [])
    return tree


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds the processes have used so far (0 for those already gone).

    CPU time, unlike wall time, is hardly changed by other jobs sharing the machine, which makes it
    the figure to argue scaling from.
    """
    total = 0
    for pid in pids:
        if (fields := _stat_fields(pid)) is not None:
            total += int(fields[11]) + int(fields[12])
    return total / _TICKS


def give_studies_to(database_url: str, names: Sequence[str]) -> None:
    """Assign radiologists ``names`` to every study in the registry, as an admin's ``modic assign`` would:
    a radiologist reaches only the studies assigned to them (docs/security.md)."""
    from sqlmodel import select

    from registry.db import get_engine, session_scope
    from registry.models import Study, User
    from registry.services.assignments import add_assignment

    with session_scope(get_engine(database_url), write=True) as session:
        studies = session.exec(select(Study)).all()
        for user in session.exec(select(User).where(User.name.in_(names))).all():  # type: ignore[attr-defined]
            for study in studies:
                add_assignment(session, study, user, None)
        session.commit()


def run_in_namespace(module: str, what: str, *, own_mounts: bool = False) -> dict[str, Any]:
    """Run ``python -m <module> --inside WORK`` in a network namespace of its own (Orthanc on its own
    loopback, as the Orthanc tests run it) and return the JSON of its last output line. With
    ``own_mounts`` (as root), in a mount namespace of its own too, where :func:`journaled_folder` can mount
    a file system that nobody else sees and that goes away with the run."""
    import json
    import shutil
    import tempfile

    from tests.orthanc_support import namespace_prefix, run_group

    work = Path(tempfile.mkdtemp(prefix=f"modic-bench-{what}-"))
    try:
        mounts = ["--mount"] if own_mounts and os.geteuid() == 0 else []
        command = [*namespace_prefix(), *mounts, sys.executable, "-m", module, "--inside", str(work)]
        done = run_group(command, timeout=3600, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if done.returncode != 0:
            raise RuntimeError(f"the {what} benchmark failed: {done.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


JOURNALED_FOLDER_BYTES = 4 << 30
"""The size of the file system :func:`journaled_folder` makes (a sparse file: it takes what is written)."""


@contextlib.contextmanager
def journaled_folder(work: Path) -> Iterator[tuple[Path, str]]:
    """A folder on a new ext4 file system with its journal (as ``mkfs.ext4`` makes one), kept in a sparse
    file under ``work`` and mounted through a loop device; yields the folder and what it is.

    Why: the file system of this project's benchmark machines is ext4 without a journal, and there the
    kernel's inode allocator skips every inode freed in the last 60 to 360 seconds. The benchmarks delete
    their folders (tens of thousands of files), so a benchmark that writes a file per image right after
    measured that instead: writing 1,650 files of 52 KB took 0.7 to 2.5 s there, mostly system time, and
    0.17 to 0.19 s on a journaled ext4 (docs/pacs.md#speed). A site's data directory is on a journaled
    file system and sees few deletions. It needs root in a mount namespace of its own (:func:`run_in_namespace` with
    ``own_mounts``), ``mkfs.ext4`` and a loop device; without them the folder is ``work`` itself, and the
    description says so.
    """
    from tests.orthanc_support import tool

    mkfs, mount, umount = (tool(name) for name in ("mkfs.ext4", "mount", "umount"))
    folder = work / "ext4"
    image = work / "ext4.img"
    mounted = False
    if os.geteuid() == 0 and mkfs and mount and umount and _own_mount_namespace():
        folder.mkdir()
        with image.open("wb") as handle:
            handle.truncate(JOURNALED_FOLDER_BYTES)
        # Inode tables and journal written now, not by a kernel thread while the benchmark runs.
        made = subprocess.run(
            [mkfs, "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", str(image)],
            capture_output=True,
            text=True,
        )
        mounted = (
            made.returncode == 0
            and subprocess.run([mount, "-o", "loop", str(image), str(folder)], capture_output=True).returncode == 0
        )
    if not mounted:
        yield work, "files in a temporary folder of the machine's own file system"
        return
    try:
        yield folder, "files on a new journaled ext4 (loop device)"
    finally:
        subprocess.run([str(umount), str(folder)], capture_output=True)
        image.unlink(missing_ok=True)


def _own_mount_namespace() -> bool:
    """Whether this process's mount namespace is not its parent's (``unshare --mount`` then ran this
    process, so a mount here stays here)."""
    try:
        return os.readlink("/proc/self/ns/mnt") != os.readlink(f"/proc/{os.getppid()}/ns/mnt")
    except OSError:
        return False


def row(name: str, value: str, target: str, met: bool, peer: str = "", ratio: str = "") -> dict[str, Any]:
    """One line of the results table."""
    return {"benchmark": name, "result": value, "peer": peer, "ratio": ratio, "target": target, "met": met}


def print_table(rows: Sequence[dict[str, Any]]) -> None:
    """The rows as a Markdown table."""
    headers = ["benchmark", "result", "peer (same run)", "ratio", "target", "met"]
    keys = ["benchmark", "result", "peer", "ratio", "target", "met"]
    cells = [[("yes" if r[k] else "NO") if k == "met" else str(r[k]) for k in keys] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for c in cells:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)) + " |")


Job = tuple[str, Any, dict[str, str]]
"""One request of a load: path, JSON body, headers."""


async def post_load(
    url: str,
    jobs: list[list[Job]],
    *,
    warm_path: str = "/api/v1/health",
    timeout: float = 60.0,
    steady: list[float] | None = None,
) -> tuple[float, list[float]]:
    """Each client POSTs its jobs one after another; returns wall time and every latency.

    ``steady`` receives the rate while every client was still posting: the requests answered before
    the first client finished, per second. Each client is bound to its connection and so to the one
    server process that accepted it; when processes hold unequal shares of the connections, the
    clients of the lighter ones finish first and the whole run's rate then counts the idle tail as
    lost capacity, while this one measures what the processes serve together under the full load.

    Each client is built and connected (one ``GET warm_path``) before the clock starts, so that the
    figures are those of requests on open connections, as a worklist session makes them. Building
    a client costs about 20 ms of CPU (its TLS context), and this process's own garbage collector
    is kept out of the timed window: both used to stall the load generator and were counted as
    server latency.
    """
    latencies: list[float] = []
    answered: list[float] = []
    """When each response came, in order."""
    finished: list[float] = []
    """When each client had its last response."""

    async def client(http: httpx.AsyncClient, mine: list[Job]) -> None:
        for path, body, headers in mine:
            start = time.perf_counter()
            response = await http.post(path, json=body, headers=headers)
            answered.append(time.perf_counter())
            latencies.append(answered[-1] - start)
            if response.status_code not in (200, 201):
                raise RuntimeError(f"{path}: {response.status_code} {response.text}")
        finished.append(time.perf_counter())

    clients = [httpx.AsyncClient(base_url=url, timeout=timeout) for _ in jobs]
    await asyncio.gather(*(http.get(warm_path) for http in clients))
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        await asyncio.gather(*(client(http, mine) for http, mine in zip(clients, jobs, strict=True)))
        wall = time.perf_counter() - start
        if steady is not None:
            first_done = min(finished)
            steady.append(sum(1 for t in answered if t <= first_done) / (first_done - start))
    finally:
        gc.enable()
        for http in clients:
            await http.aclose()
    return wall, latencies
