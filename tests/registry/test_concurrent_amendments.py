"""Two amendments of the same version at the same moment: exactly one wins, the other gets 412.

Runs through a real uvicorn server with real threads; on PostgreSQL when MODIC_TEST_POSTGRES_URL
is set (CI), otherwise on SQLite.
"""

from __future__ import annotations

import threading

import httpx

from tests.api.helpers import endplates, study_body
from tests.conftest import LiveServer, TokenFactory

ROUNDS = 15


def _amend(
    url: str,
    headers: dict[str, str],
    grading_id: str,
    size: str,
    reason: str,
    barrier: threading.Barrier,
    out: list[int],
) -> None:
    body = {"endplates": endplates(L4_inf={"type": "I", "size": size}), "reason": reason}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as api:
        barrier.wait()
        out.append(api.put(f"/api/v1/gradings/{grading_id}", json=body).status_code)


def test_concurrent_puts_with_one_etag(live_server: LiveServer, auth: TokenFactory) -> None:
    headers = auth("radiologist")
    with httpx.Client(base_url=live_server.url, headers=headers, timeout=30) as api:
        study_id = api.post("/api/v1/studies", json=study_body()).json()["id"]
        created = api.post(f"/api/v1/studies/{study_id}/gradings", json={"endplates": endplates()})
        grading_id, etag = created.json()["id"], created.headers["ETag"]
    outcomes: list[list[int]] = []
    for round_ in range(ROUNDS):
        barrier = threading.Barrier(2)
        statuses: list[int] = []
        threads = [
            threading.Thread(
                target=_amend,
                args=(
                    live_server.url,
                    {**headers, "If-Match": etag},
                    grading_id,
                    size,
                    f"round {round_}",
                    barrier,
                    statuses,
                ),
            )
            for size in ("B", "C")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        outcomes.append(sorted(statuses))
        with httpx.Client(base_url=live_server.url, headers=headers, timeout=30) as api:
            etag = api.get(f"/api/v1/gradings/{grading_id}").headers["ETag"]
    assert outcomes == [[200, 412]] * ROUNDS
    with httpx.Client(base_url=live_server.url, headers=headers, timeout=30) as api:
        history = api.get(f"/api/v1/gradings/{grading_id}/history").json()["items"]
    assert [h["version"] for h in history] == list(range(1, ROUNDS + 2))  # every version kept, none lost
