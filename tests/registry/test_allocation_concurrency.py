"""20 screeners enrol 20 eligible patients at the same moment through a real server on PostgreSQL:
every patient gets exactly one allocation, the sequence numbers are 1..20 with no gap or duplicate,
and the replay of the recorded stream still holds. SQLite serialises writers, so this needs
PostgreSQL (MODIC_TEST_POSTGRES_URL), where the transactions really run in parallel."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from tests.api.helpers import endplates, study_body
from tests.api.test_enrolment import ANSWERS, EPISODE, FACTORS, INDEX, TRIAL
from tests.conftest import POSTGRES_URL, LiveServer, TokenFactory

SCREENERS = 20


@pytest.mark.postgres
def test_simultaneous_enrolments_get_distinct_allocations_and_replay(
    live_server: LiveServer, auth: TokenFactory
) -> None:
    if POSTGRES_URL is None:
        pytest.skip("needs PostgreSQL: set MODIC_TEST_POSTGRES_URL (SQLite serialises all writers)")
    radiologist = auth("radiologist")
    screeners = [auth("screener") for _ in range(SCREENERS)]
    pseudonyms = []
    with httpx.Client(base_url=live_server.url, timeout=60) as api:
        for n in range(SCREENERS):
            study = api.post("/api/v1/studies", json=study_body(f"1.2.7.{n + 1}", f"HOSP-{n}"), headers=radiologist)
            body = {"endplates": endplates(L4_inf={"type": "I", "size": "C"})}
            api.post(f"/api/v1/studies/{study.json()['id']}/gradings", json=body, headers=radiologist)
            pseudonym = study.json()["patient"]["pseudonym"]
            screened = api.patch(
                f"/api/v1/patients/{pseudonym}/screening/{TRIAL}",
                json={"answers": ANSWERS, "episode": EPISODE},
                headers=screeners[n],
            )
            assert screened.status_code == 200, screened.text
            pseudonyms.append(pseudonym)

    start = threading.Barrier(SCREENERS)
    results: dict[str, Any] = {}

    def enrol(n: int) -> None:
        factors = {**FACTORS, "sex": ("female", "male")[n % 2], "heavy_smoking": ("yes", "no")[n % 3 == 0]}
        body = {"consent_date": INDEX, "consent_by": f"nurse {n}", "factors": factors}
        with httpx.Client(base_url=live_server.url, headers=screeners[n], timeout=120) as api:
            start.wait()
            response = api.post(f"/api/v1/patients/{pseudonyms[n]}/enrolment/{TRIAL}", json=body)
        results[pseudonyms[n]] = (response.status_code, response.json())

    threads = [threading.Thread(target=enrol, args=(n,)) for n in range(SCREENERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert {status for status, _ in results.values()} == {201}, results
    sequences = sorted(body["allocation"]["sequence"] for _, body in results.values())
    assert sequences == list(range(1, SCREENERS + 1))
    manager = auth("allocation_manager")
    with httpx.Client(base_url=live_server.url, headers=manager, timeout=60) as api:
        totals = api.get(f"/api/v1/allocation/{TRIAL}/totals").json()
        replay = api.get(f"/api/v1/allocation/{TRIAL}/replay").json()
    assert totals["allocated"] == SCREENERS
    arms = [body["allocation"]["arm"] for _, body in results.values()]
    assert totals["per_arm"] == {arm: arms.count(arm) for arm in ("exercise", "rest")}
    assert replay == {"trial": TRIAL, "checked": SCREENERS, "ok": True, "mismatches": []}
