"""Account control: disable, revoke, expire and rotate tokens, effective on every process within 2 s;
bad tokens from one client are slowed down."""

from __future__ import annotations

import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from registry.db import session_scope
from registry.services.users import issue_token
from registry.settings import Settings
from tests.api.test_cli import _modic
from tests.conftest import TokenFactory

REVOCATION_BOUND_S = 2.0


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("command", [("user", "disable"), ("token", "revoke")])
def test_the_cli_cuts_a_user_off_on_a_running_server_within_2_s(
    client: TestClient, auth: TokenFactory, database_url: str, command: tuple[str, str]
) -> None:
    headers = auth("radiologist", name="leaving")
    assert client.get("/api/v1/me", headers=headers).status_code == 200  # now in the server's token cache
    result = _modic(*command, "leaving", "--database-url", database_url)
    assert result.returncode == 0, result.stderr
    time.sleep(REVOCATION_BOUND_S)
    refused = client.get("/api/v1/me", headers=headers)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"


def test_admin_endpoints_revoke_on_every_process_within_2_s(settings: Settings, auth: TokenFactory) -> None:
    admin, rad = auth("admin"), auth("radiologist", name="rad")
    other_process = create_app(settings)  # a second app: its own token cache, as another worker has
    with TestClient(other_process) as other, TestClient(create_app(settings)) as first:
        assert other.get("/api/v1/me", headers=rad).status_code == 200
        assert first.delete("/api/v1/users/rad/tokens", headers=admin).json() == {"revoked": 1}
        time.sleep(REVOCATION_BOUND_S)
        assert other.get("/api/v1/me", headers=rad).status_code == 401
        issued = first.post("/api/v1/users/rad/tokens", json={"days": 1}, headers=admin)
        assert issued.status_code == 201 and issued.json()["expires_at"] is not None
        fresh = _bearer(issued.json()["token"])
        assert other.get("/api/v1/me", headers=fresh).status_code == 200
        disabled = first.post("/api/v1/users/rad/disable", headers=admin)
        assert disabled.status_code == 200 and disabled.json() == {
            "name": "rad",
            "role": "radiologist",
            "active": False,
            "registrar": True,
        }
        time.sleep(REVOCATION_BOUND_S)
        assert other.get("/api/v1/me", headers=fresh).status_code == 401


def test_only_an_admin_manages_accounts(client: TestClient, auth: TokenFactory) -> None:
    rad = auth("radiologist", name="rad")
    for method, path in [("post", "/api/v1/users/rad/disable"), ("delete", "/api/v1/users/rad/tokens")]:
        assert client.request(method, path, headers=rad).status_code == 403
    assert client.post("/api/v1/users/nobody/disable", headers=auth("admin")).status_code == 404


def test_tokens_expire(app: FastAPI, client: TestClient, auth: TokenFactory) -> None:
    auth("screener", name="brief")
    with session_scope(app.state.engine, write=True) as session:
        token = issue_token(session, "brief", None, days=1.5 / 86_400).value  # 1.5 seconds
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 200
    time.sleep(1.6)
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 401


def test_rotation_replaces_my_token(client: TestClient, auth: TokenFactory) -> None:
    old = auth("researcher")
    rotated = client.post("/api/v1/me/token", headers=old)
    assert rotated.status_code == 201, rotated.text
    new = _bearer(rotated.json()["token"])
    assert client.get("/api/v1/me", headers=new).status_code == 200
    time.sleep(REVOCATION_BOUND_S)
    assert client.get("/api/v1/me", headers=old).status_code == 401
    assert client.get("/api/v1/me", headers=new).status_code == 200


def test_new_tokens_expire_after_the_configured_lifetime(database_url: str) -> None:
    result = _modic("user", "add", "carla", "--role", "screener", "--database-url", database_url)
    created = _modic("token", "create", "carla", "--rotate", "--database-url", database_url)
    assert result.returncode == 0 and created.returncode == 0, created.stderr
    assert "expires 20" in created.stdout
    missing = _modic("token", "revoke", "nobody", "--database-url", database_url)
    assert missing.returncode == 1 and missing.stderr.strip() == "modic: error: user 'nobody' does not exist"


def test_repeated_bad_tokens_are_slowed_down(client: TestClient, settings: Settings, auth: TokenFactory) -> None:
    good = auth("radiologist")
    assert client.get("/api/v1/me", headers=good).status_code == 200  # cached: not braked below
    answers = [client.get("/api/v1/me", headers=_bearer(f"mdc_guess{i}")) for i in range(30)]
    codes = [a.status_code for a in answers]
    assert codes[: settings.auth_failures_allowed] == [401] * settings.auth_failures_allowed
    assert set(codes[settings.auth_failures_allowed :]) == {429}
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= settings.auth_failure_window_seconds
    assert client.get("/api/v1/me", headers=good).status_code == 200
