"""Several sites, one registry: three ``modic serve`` processes on one PostgreSQL database, images in Orthanc.

The scenario runs in a private network namespace (Orthanc 1.10 binds every interface, see
tests/orthanc_support.py) and reaches the test's PostgreSQL through a Unix socket that ``socat`` forwards
from outside. Orthanc keeps its index in its own PostgreSQL database (Debian ``orthanc-postgresql``)
and serves DICOMweb. One sample study reaches Orthanc through ``modic store migrate`` from a data
directory (run twice: the second run copies nothing), the others through ``modic ingest`` with
``MODIC_IMAGE_STORE=dicomweb`` (STOW-RS). Then 30 raters post their first gradings to the three
processes at once (each also races a duplicate of one of them across two processes), a screener reads
the eligibility feed by its cursor meanwhile, pairs of raters race amendments of one grading through
two processes, every process renders slices of every image series (WADO-RS through its cache), and
the three processes are restarted together with decisions due for re-evaluation.

Checked afterwards: every first grading stored once, every duplicate refused; one winner per amendment
race (the loser 412) and no version lost; the feed reader saw no change twice and ends with the decision
the database holds for every grading; the same PNG from every process; the re-evaluation's runs.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.common import free_port
from tests.api.helpers import endplates, study_body
from tests.conftest import POSTGRES_URL, _admin_url
from tests.orthanc_support import (
    ORTHANC_DICOMWEB_PLUGIN,
    missing_orthanc,
    namespace_prefix,
    run_group,
    tool,
)

ROOT = Path(__file__).resolve().parents[2]
ORTHANC_POSTGRESQL_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancPostgreSQLIndex.so")
SAMPLES = sorted(p for p in (ROOT / "sample_dicom").iterdir() if p.is_dir())
RATERS = 30
STUDIES = 20
GRADINGS_PER_RATER = 10
AMENDMENT_RACES = 15
PROCESSES = 3
TRIAL = "NCT00454792"
SCENARIO_TIMEOUT_S = 1500
REEVALUATIONS = text("SELECT count(*) FROM audit_events WHERE action = 'eligibility.reevaluate'")
STILL_DUE = text("SELECT count(*) FROM eligibility_decisions WHERE next_change <= '2000-01-01'")
JOBS_TABLE = text("SELECT to_regclass('public.background_jobs') IS NOT NULL")
JOB_RUNS = text("SELECT coalesce(sum(runs), 0) FROM background_jobs WHERE name = 'eligibility-reevaluation'")


# ------------------------------------------------------------------------------------ inside the namespace


def _env(config: dict[str, Any], **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MODIC_DATABASE_URL": config["database_url"],
        "MODIC_DATA_DIR": str(Path(config["workdir"]) / "data"),
        **extra,
    }


def _dicom_files(folders: list[Path]) -> list[str]:
    return [str(path) for folder in folders for path in sorted(folder.rglob("*.dcm"))]


def _modic(config: dict[str, Any], *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args], env=_env(config, **env), capture_output=True, text=True, timeout=600
    )


class Processes:
    """``modic serve`` processes on free ports, all on the archive store."""

    def __init__(self, config: dict[str, Any], archive: str):
        self.config, self.archive = config, archive
        self.servers: list[subprocess.Popen[str]] = []
        self.urls: list[str] = []

    def start(self) -> list[str]:
        workdir = Path(self.config["workdir"])
        env = _env(self.config, MODIC_IMAGE_STORE="dicomweb", MODIC_IMAGE_STORE_URL=self.archive)
        ports = [free_port() for _ in range(PROCESSES)]
        for n, port in enumerate(ports):
            log = (workdir / f"serve-{n}.log").open("a")
            command = [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]
            self.servers.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True))
        self.urls = [f"http://127.0.0.1:{port}" for port in ports]
        deadline = time.monotonic() + 600  # three processes importing the service at once on a busy 2-core machine
        for url, server in zip(self.urls, self.servers, strict=True):
            while True:
                assert server.poll() is None, f"modic serve on {url} exited with {server.returncode}"
                try:
                    if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    log = (Path(self.config["workdir"]) / f"serve-{self.urls.index(url)}.log").read_text()[-2000:]
                    assert time.monotonic() < deadline, f"modic serve on {url} did not answer: {log}"
                time.sleep(0.2)
        return self.urls

    def stop(self) -> None:
        for server in self.servers:
            server.terminate()
        for server in self.servers:
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        self.servers, self.urls = [], []


def _users(database_url: str) -> dict[str, Any]:
    from registry.db import get_engine, session_scope
    from registry.services.users import add_user

    tokens: dict[str, Any] = {"raters": []}
    with session_scope(get_engine(database_url), write=True) as session:
        for n in range(RATERS):
            tokens["raters"].append(add_user(session, f"rater-{n:02d}", "radiologist")[1])
        tokens["screener"] = add_user(session, "screener-1", "screener")[1]
        tokens["admin"] = add_user(session, "admin-1", "admin")[1]
    tokens["database_url"] = database_url
    return tokens


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _grade(urls: list[str], token: str, rater: int, studies: list[str]) -> dict[str, Any]:
    """A rater's first gradings, spread over the processes; one of them is also posted to a second process
    at the same moment (a duplicate race)."""
    out: dict[str, Any] = {"created": {}, "statuses": [], "duplicate": []}
    mine = [studies[(rater + k) % len(studies)] for k in range(GRADINGS_PER_RATER)]
    clients = [httpx.Client(base_url=url, headers=_bearer(token), timeout=120) for url in urls]
    try:
        for k, study in enumerate(mine):
            change = {"type": "I", "size": "B"} if (rater + k) % 3 == 0 else {"type": "none"}
            body = {"endplates": endplates(L4_inf=change)}
            if k == 0:
                pair = (clients[rater % PROCESSES], clients[(rater + 1) % PROCESSES])
                with ThreadPoolExecutor(2) as pool:
                    path = f"/api/v1/studies/{study}/gradings"
                    answers = list(pool.map(lambda c, p=path, b=body: c.post(p, json=b), pair))
                out["duplicate"] = [a.status_code for a in answers]
                created = [a for a in answers if a.status_code == 201]
            else:
                answer = clients[(rater + k) % PROCESSES].post(f"/api/v1/studies/{study}/gradings", json=body)
                out["statuses"].append(answer.status_code)
                created = [answer] if answer.status_code == 201 else []
            for a in created:
                out["created"][study] = a.json()["id"]
    finally:
        for client in clients:
            client.close()
    return out


def _race(urls: list[str], grading_id: str, owner: str, n: int) -> list[int]:
    """Two amendments of one grading with the same ETag through two processes at once."""
    with httpx.Client(base_url=urls[n % PROCESSES], headers=_bearer(owner), timeout=120) as api:
        etag = api.get(f"/api/v1/gradings/{grading_id}").headers["ETag"]
    body = {"endplates": endplates(L5_sup={"type": "II", "size": "A"}), "reason": f"race {n}"}

    def put(url: str) -> int:
        with httpx.Client(base_url=url, headers=_bearer(owner), timeout=120) as api:
            return api.put(f"/api/v1/gradings/{grading_id}", json=body, headers={"If-Match": etag}).status_code

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(put, (urls[n % PROCESSES], urls[(n + 1) % PROCESSES])))


class FeedReader(threading.Thread):
    """Follows the eligibility feed by its cursor, on the processes in turn, until told to stop and drained."""

    def __init__(self, urls: list[str], token: str):
        super().__init__(daemon=True)
        self.urls, self.token = urls, token
        self.items: list[dict[str, Any]] = []
        self.cursor: str | None = None
        self.cursors: list[int] = []
        self.errors: list[str] = []
        self.done = threading.Event()

    def read_page(self, url: str) -> int:
        params = {"trial": TRIAL, "limit": "100", **({"since": self.cursor} if self.cursor else {})}
        answer = httpx.get(f"{url}/api/v1/eligibility", params=params, headers=_bearer(self.token), timeout=120)
        if answer.status_code != 200:
            self.errors.append(f"feed answered {answer.status_code}: {answer.text[:200]}")
            return 0
        page = answer.json()
        self.items += page["items"]
        self.cursor = str(page["next_cursor"])
        self.cursors.append(int(self.cursor))
        return len(page["items"])

    def run(self) -> None:
        turn = 0
        while not self.done.is_set():
            self.read_page(self.urls[turn % len(self.urls)])
            turn += 1
            time.sleep(0.05)

    def drain(self, urls: list[str]) -> None:
        self.done.set()
        self.join(timeout=120)
        more = 1
        while more:  # the pages left since the last one read (a page's item count)
            more = self.read_page(urls[0])


def _render_all(urls: list[str], token: str, studies: list[dict[str, Any]]) -> dict[str, Any]:
    """Every slice of every grading series from every process: the PNG bytes must agree."""
    digests: dict[str, set[str]] = {}
    statuses: Counter[int] = Counter()
    import hashlib

    for url in urls:
        with httpx.Client(base_url=url, headers=_bearer(token), timeout=120) as api:
            for study in studies:
                for series_id in study["grading_series"].values():
                    slices = api.get(f"/api/v1/series/{series_id}").json()["slices"]
                    for n in range(slices):
                        answer = api.get(f"/api/v1/series/{series_id}/slices/{n}.png")
                        statuses[answer.status_code] += 1
                        if answer.status_code == 200:
                            key = f"{series_id}/{n}"
                            digests.setdefault(key, set()).add(hashlib.sha256(answer.content).hexdigest())
    disagreeing = [k for k, v in digests.items() if len(v) != 1]
    return {"statuses": dict(statuses), "slices": len(digests), "disagreeing": disagreeing}


def scenario(workdir: Path, orthanc: str, ip: str, socat: str) -> None:
    """The whole scenario, inside the namespace; writes ``result.json``."""
    config: dict[str, Any] = json.loads((workdir / "config.json").read_text())
    config["workdir"] = str(workdir)
    # PostgreSQL: a local port in this namespace, forwarded to the Unix socket the test opened outside.
    pg_port = free_port()
    subprocess.run([ip, "link", "set", "lo", "up"], check=True)
    relay = subprocess.Popen(
        [socat, f"TCP-LISTEN:{pg_port},bind=127.0.0.1,fork,reuseaddr", f"UNIX-CONNECT:{config['pg_socket']}"]
    )
    try:
        _scenario(workdir, config, orthanc, ip, pg_port)
    finally:
        relay.terminate()
        relay.wait()


def _scenario(workdir: Path, config: dict[str, Any], orthanc: str, ip: str, pg_port: int) -> None:
    url = make_url(config["database_url"]).set(host="127.0.0.1", port=pg_port)
    config["database_url"] = url.render_as_string(hide_password=False)
    result: dict[str, Any] = {}
    postgresql = {
        "EnableIndex": True,
        "EnableStorage": False,
        "Host": "127.0.0.1",
        "Port": pg_port,
        "Database": config["orthanc_database"],
        "Username": url.username or "postgres",
        "Password": url.password or "",
        "Lock": False,
    }
    from tests.orthanc_support import running_orthanc

    plugins = [str(ORTHANC_DICOMWEB_PLUGIN), str(ORTHANC_POSTGRESQL_PLUGIN)]
    with running_orthanc(workdir, orthanc, ip, Plugins=plugins, PostgreSQL=postgresql) as base:
        archive = f"{base}/dicom-web"
        system = httpx.get(f"{base}/system").json()
        result["orthanc_index"] = "postgresql" if system.get("DatabaseBackendPlugin") else "sqlite"

        # Images: one study moved from a data directory by the migration command (run twice), the others
        # ingested straight into the archive.
        ingest_dir = _modic(config, "ingest", *_dicom_files(SAMPLES[:1]))
        assert ingest_dir.returncode == 0, ingest_dir.stderr
        runs = [_modic(config, "store", "migrate", "--to-dicomweb", archive) for _ in range(2)]
        result["migrate"] = [{"status": r.returncode, "stdout": r.stdout, "stderr": r.stderr[-2000:]} for r in runs]
        shutil.rmtree(workdir / "data")  # from now on the images exist only in Orthanc
        ingest = _modic(
            config, "ingest", *_dicom_files(SAMPLES[1:]), MODIC_IMAGE_STORE="dicomweb", MODIC_IMAGE_STORE_URL=archive
        )
        assert ingest.returncode == 0, ingest.stderr
        result["orthanc_instances"] = len(httpx.get(f"{base}/instances").json())
        result["sample_files"] = sum(1 for s in SAMPLES for _ in s.rglob("*.dcm"))

        tokens = _users(config["database_url"])
        processes = Processes(config, archive)
        urls = processes.start()
        try:
            result.update(_drive(urls, tokens))
            result["render"] = _render_all(urls, tokens["raters"][0], result.pop("image_studies"))
        finally:
            processes.stop()

        # Decisions due for re-evaluation, then the three processes start together.
        engine = create_engine(config["database_url"])
        with engine.begin() as conn:
            due = conn.execute(text("UPDATE eligibility_decisions SET next_change = '2000-01-01'")).rowcount
            before = conn.execute(REEVALUATIONS).scalar()
            # The run-once lock of background work (issue 17, item 1) counts runs in background_jobs and skips
            # a run started less than a period ago: with it, the last run is moved back so that one is due.
            result["run_once_lock"] = bool(conn.execute(JOBS_TABLE).scalar())
            if result["run_once_lock"]:
                conn.execute(text("UPDATE background_jobs SET started_at = '2000-01-01'"))
                jobs_before = conn.execute(JOB_RUNS).scalar() or 0
        result["due_decisions"] = due
        processes.start()
        try:
            # Wait until no decision is due any more (or a minute), then a little longer for late runners.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with engine.begin() as conn:
                    result["still_due"] = conn.execute(STILL_DUE).scalar()
                if not result["still_due"]:
                    break
                time.sleep(0.5)
            time.sleep(3)
        finally:
            processes.stop()
        with engine.begin() as conn:
            after = conn.execute(REEVALUATIONS).scalar()
            if result["run_once_lock"]:
                result["job_runs"] = (conn.execute(JOB_RUNS).scalar() or 0) - jobs_before
            result["still_due"] = conn.execute(STILL_DUE).scalar()
        engine.dispose()
        result["reevaluation_runs"] = int(after or 0) - int(before or 0)
    result["logs"] = [(workdir / f"serve-{n}.log").read_text()[-3000:] for n in range(PROCESSES)]
    (workdir / "result.json").write_text(json.dumps(result, indent=2))


def _drive(urls: list[str], tokens: dict[str, Any]) -> dict[str, Any]:
    """Studies, first gradings (with duplicate races) while the feed is read, then amendment races."""
    from registry.db import get_engine
    from tests.api.helpers import assign_every_study

    engine = get_engine(tokens["database_url"])
    assign_every_study(engine)  # the ingested studies: an admin assigns them to every rater
    admin = httpx.Client(base_url=urls[0], headers=_bearer(tokens["admin"]), timeout=120)
    rater0 = httpx.Client(base_url=urls[0], headers=_bearer(tokens["raters"][0]), timeout=120)
    image_studies = [s for s in rater0.get("/api/v1/studies", params={"limit": 100}).json()["items"]]
    study_ids = [s["id"] for s in image_studies]
    for n in range(STUDIES - len(study_ids)):
        body = study_body(f"1.2.826.0.1.3680043.8.498.77.{n + 1}", f"MS-{n:03d}")
        answer = admin.post("/api/v1/studies", json=body)  # registering is an admin's (or registrar's) work
        assert answer.status_code == 201, answer.text
        study_ids.append(answer.json()["id"])
    assign_every_study(engine)
    images = [rater0.get(f"/api/v1/studies/{sid}").json() for sid in study_ids[: len(image_studies)]]
    admin.close()
    rater0.close()

    reader = FeedReader(urls, tokens["screener"])
    reader.start()
    with ThreadPoolExecutor(RATERS) as pool:
        graded = list(pool.map(lambda r: _grade(urls, tokens["raters"][r], r, study_ids), range(RATERS)))
    owners = [(r, gid) for r, g in enumerate(graded) for gid in g["created"].values()]
    rng = random.Random(17)
    chosen = rng.sample(owners, AMENDMENT_RACES)
    with ThreadPoolExecutor(AMENDMENT_RACES) as pool:
        races = list(
            pool.map(lambda n: _race(urls, chosen[n][1], tokens["raters"][chosen[n][0]], n), range(len(chosen)))
        )
    reader.drain(urls)

    # What the database holds at the end, read through the API: the current decisions, every grading and
    # its versions.
    answer = httpx.get(
        f"{urls[1]}/api/v1/eligibility", params={"trial": TRIAL, "limit": "1000"}, headers=_bearer(tokens["screener"])
    )
    final_feed = answer.json()["items"]
    finals: dict[str, Any] = {}
    with httpx.Client(base_url=urls[2], timeout=120) as api:
        for r, gid in owners:
            answer = api.get(f"/api/v1/gradings/{gid}/history", headers=_bearer(tokens["raters"][r]))
            finals[gid] = [v["version"] for v in answer.json()["items"]]
        listed = {}
        for r in range(RATERS):
            for sid in set(study_ids):
                answer = api.get(f"/api/v1/studies/{sid}/gradings", headers=_bearer(tokens["raters"][r]))
                for item in answer.json()["items"]:
                    listed.setdefault(item["id"], 0)
                    listed[item["id"]] += 1
    return {
        "graded": graded,
        "races": races,
        "raced": [gid for _, (_, gid) in enumerate(chosen)],
        "versions": finals,
        "listed": listed,
        "feed": reader.items,
        "feed_cursors": reader.cursors,
        "feed_final": final_feed,
        "feed_errors": reader.errors,
        "image_studies": images,
    }


# ------------------------------------------------------------------------------------------ the test


@pytest.mark.postgres
def test_three_processes_on_one_postgresql_database_with_images_in_orthanc(database_url: str, tmp_path: Path) -> None:
    if POSTGRES_URL is None:
        pytest.skip("needs PostgreSQL: set MODIC_TEST_POSTGRES_URL (the multi-site deployment runs on PostgreSQL)")
    reason = missing_orthanc()
    if reason is None and not ORTHANC_POSTGRESQL_PLUGIN.is_file():
        reason = f"Orthanc index plugin {ORTHANC_POSTGRESQL_PLUGIN} (Debian package orthanc-postgresql) not installed"
    if reason is None and tool("socat") is None:
        reason = "socat (Debian package socat) not installed"
    if reason is not None:
        pytest.skip(reason)
    pg = make_url(database_url)
    orthanc_db = f"modic_orthanc_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_admin_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{orthanc_db}"'))
    socket_dir = tmp_path / "pg"
    socket_dir.mkdir()
    socket = socket_dir / ".s.PGSQL.5432"
    relay = subprocess.Popen(
        [str(tool("socat")), f"UNIX-LISTEN:{socket},fork,mode=777", f"TCP:{pg.host or '127.0.0.1'}:{pg.port or 5432}"]
    )
    try:
        deadline = time.monotonic() + 10
        while not socket.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        config = {"database_url": database_url, "orthanc_database": orthanc_db, "pg_socket": str(socket)}
        (tmp_path / "config.json").write_text(json.dumps(config))
        command = [
            *namespace_prefix(),
            sys.executable,
            "-m",
            "tests.multisite.test_multisite",
            str(tmp_path),
            str(tool("Orthanc")),
            str(tool("ip")),
            str(tool("socat")),
        ]
        done = run_group(command, timeout=SCENARIO_TIMEOUT_S, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        log = tmp_path / "orthanc.log"
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}\n{tail}"
    finally:
        relay.terminate()
        relay.wait()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{orthanc_db}" WITH (FORCE)'))
        admin.dispose()
    result = json.loads((tmp_path / "result.json").read_text())
    _save_summary(result)
    _check(result)


def _save_summary(result: dict[str, Any]) -> None:
    """The counts of the run, kept under tests/artifacts/multisite/ for the record."""
    summary = {
        "first_gradings": sum(len(r["created"]) for r in result["graded"]),
        "duplicate_races": [sorted(r["duplicate"]) for r in result["graded"]].count([201, 409]),
        "amendment_races": [sorted(r) for r in result["races"]].count([200, 412]),
        "feed_items_read": len(result["feed"]),
        "renders": result["render"],
        "orthanc_index": result["orthanc_index"],
        "migrate": [r["stdout"].strip() for r in result["migrate"]],
        "due_decisions": result["due_decisions"],
        "reevaluation_runs": result["reevaluation_runs"],
        "run_once_lock": result["run_once_lock"],
    }
    folder = ROOT / "tests" / "artifacts" / "multisite"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps(summary, indent=2))


def _check(result: dict[str, Any]) -> None:
    # Orthanc kept its index in PostgreSQL, and holds every sample image once.
    assert result["orthanc_index"] == "postgresql"
    assert result["orthanc_instances"] == result["sample_files"]
    first, second = result["migrate"]
    assert first["status"] == 0 and " copied, 0 already in the archive" in first["stdout"], first
    assert first["stdout"].rstrip().endswith("; verified"), first
    assert second["status"] == 0 and ": 0 copied, " in second["stdout"], second

    # No lost or duplicated first grading: every rater has one grading of each of its studies, each listed
    # once; of each duplicate race exactly one was created, the other refused with 409.
    for rater in result["graded"]:
        assert len(rater["created"]) == GRADINGS_PER_RATER, rater
        assert rater["statuses"] == [201] * (GRADINGS_PER_RATER - 1), rater
        assert sorted(rater["duplicate"]) == [201, 409], rater
    ids = [gid for rater in result["graded"] for gid in rater["created"].values()]
    assert len(ids) == len(set(ids)) == RATERS * GRADINGS_PER_RATER
    assert result["listed"] == dict.fromkeys(ids, 1)

    # One winner per amendment race, the other 412; each raced grading has exactly versions 1 and 2.
    assert [sorted(r) for r in result["races"]] == [[200, 412]] * AMENDMENT_RACES
    for gid, versions in result["versions"].items():
        assert versions == ([1, 2] if gid in result["raced"] else [1]), (gid, versions)

    # The feed, read by its cursor across the processes while the gradings were written: cursors never go
    # back, no change was delivered twice, and the last change seen for each patient is the decision the
    # database holds at the end (none committed behind the reader was lost).
    assert result["feed_errors"] == []
    assert result["feed_cursors"] == sorted(result["feed_cursors"])
    seen = Counter(json.dumps(item, sort_keys=True) for item in result["feed"])
    assert [k for k, n in seen.items() if n > 1] == []
    last_seen = {item["patient"]: item for item in result["feed"]}
    assert {item["patient"]: item for item in result["feed_final"]} == last_seen
    assert len(last_seen) == STUDIES

    # Every slice of every grading series rendered by every process, the same PNG from each.
    render = result["render"]
    assert set(render["statuses"]) == {"200"}, render
    assert render["slices"] >= 2 * 11 * len(SAMPLES) and render["disagreeing"] == [], render

    # The re-evaluation at start-up, three processes starting together with decisions due: it ran (none
    # is left due). With the run-once lock of background work (issue 17, item 1: table background_jobs)
    # it ran exactly once; without it each process may run it.
    assert result["due_decisions"] > 0 and result["still_due"] == 0
    if result["run_once_lock"]:
        assert result["reevaluation_runs"] == 1 and result["job_runs"] == 1, result
    else:
        assert 1 <= result["reevaluation_runs"] <= PROCESSES


if __name__ == "__main__":
    scenario(Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4])
