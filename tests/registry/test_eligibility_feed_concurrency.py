"""The feed is exactly-once while gradings are amended and screening is recorded concurrently.

Writers amend gradings and record screening answers through a real uvicorn server, in parallel
threads, while a reader follows ``next_cursor``. Afterwards the reader must have seen no change
twice and must hold, for every patient, the decision the database holds at the end (a change
committed behind the reader's cursor would be lost). Needs PostgreSQL (MODIC_TEST_POSTGRES_URL),
where transactions really run in parallel; SQLite serialises writers.
"""

from __future__ import annotations

import json
import random
import threading
from typing import Any

import httpx
import pytest

from tests.api.helpers import endplates, study_body
from tests.conftest import POSTGRES_URL, LiveServer, TokenFactory

PATIENTS = 40
ROUNDS = 25
FEED = "/api/v1/eligibility"
TRIAL = {"trial": "NCT00454792"}


def _amender(url: str, headers: dict[str, str], gradings: list[str], seed: int, errors: list[str]) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=url, headers=headers, timeout=60) as api:
        for round_ in range(ROUNDS):
            grading_id = rng.choice(gradings)
            for _attempt in range(20):
                etag = api.get(f"/api/v1/gradings/{grading_id}").headers["ETag"]
                change = {"type": rng.choice(["I", "II", "I/II"]), "size": rng.choice("ABCD")}
                body = {"endplates": endplates(L4_inf=change), "reason": f"round {round_}"}
                status = api.put(f"/api/v1/gradings/{grading_id}", json=body, headers={"If-Match": etag}).status_code
                if status == 200:
                    break
                if status != 412:
                    errors.append(f"amendment answered {status}")
                    return


def _screener(url: str, headers: dict[str, str], pseudonyms: list[str], seed: int, errors: list[str]) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=url, headers=headers, timeout=60) as api:
        for _ in range(ROUNDS):
            answers = {"age_years": rng.randint(16, 63), "nrs_back": rng.randint(2, 8), "danish": rng.random() < 0.8}
            pseudonym = rng.choice(pseudonyms)
            response = api.patch(f"/api/v1/patients/{pseudonym}/screening/NCT00454792", json={"answers": answers})
            if response.status_code != 200:
                errors.append(f"screening answered {response.status_code}: {response.text}")
                return


def _identity(item: dict[str, Any]) -> str:
    return json.dumps(item, sort_keys=True)


@pytest.mark.postgres
def test_feed_is_exactly_once_under_concurrent_changes(live_server: LiveServer, auth: TokenFactory) -> None:
    if POSTGRES_URL is None:
        pytest.skip("needs PostgreSQL: set MODIC_TEST_POSTGRES_URL (SQLite serialises all writers)")
    radiologist, screener = auth("radiologist"), auth("screener")
    gradings, pseudonyms = [], []
    with httpx.Client(base_url=live_server.url, headers=radiologist, timeout=60) as api:
        for n in range(PATIENTS):
            study = api.post("/api/v1/studies", json=study_body(f"1.2.3.{n + 1}", f"HOSP-{n}")).json()
            grading = api.post(f"/api/v1/studies/{study['id']}/gradings", json={"endplates": endplates()}).json()
            gradings.append(grading["id"])
            pseudonyms.append(study["patient"]["pseudonym"])
    errors: list[str] = []
    writers = [
        threading.Thread(target=_amender, args=(live_server.url, radiologist, gradings, seed, errors))
        for seed in (1, 2)
    ] + [
        threading.Thread(target=_screener, args=(live_server.url, screener, pseudonyms, seed, errors))
        for seed in (3, 4)
    ]
    seen: list[dict[str, Any]] = []
    cursors: list[int] = []
    with httpx.Client(base_url=live_server.url, headers=screener, timeout=60) as reader:

        def read_page(cursor: str | None) -> str:
            params = {**TRIAL, "limit": 3, **({"since": cursor} if cursor else {})}
            page = reader.get(FEED, params=params).json()
            seen.extend(page["items"])
            cursors.append(int(page["next_cursor"]))
            return str(page["next_cursor"])

        cursor = read_page(None)
        for writer in writers:
            writer.start()
        while any(w.is_alive() for w in writers):
            cursor = read_page(cursor)
        for writer in writers:
            writer.join()
        while True:
            before = len(seen)
            cursor = read_page(cursor)
            if len(seen) == before:
                break
        final = reader.get(FEED, params={**TRIAL, "limit": 1000}).json()["items"]
    assert errors == []
    assert cursors == sorted(cursors)
    identities = [_identity(i) for i in seen]
    assert len(identities) == len(set(identities)), "a change was delivered twice"
    last_seen = {i["patient"]: i for i in seen}
    assert {i["patient"]: i for i in final} == last_seen, "a change committed behind the reader was lost"
    assert len(final) == PATIENTS
    assert len(seen) > 2 * PATIENTS  # the reader really saw changes while they happened
