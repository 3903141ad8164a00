"""``modic agreement plan`` in a real subprocess and ``GET /api/v1/agreement/plan`` (researchers and admins)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from grading.agreement.planning import kappa_sample_size
from tests.conftest import TokenFactory

ROOT = Path(__file__).resolve().parents[2]
QUERY = {"kappa0": 0.6, "half_width": 0.1, "prevalence": 0.2, "raters": 3}


def _modic(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "agreement", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_plan_on_the_command_line() -> None:
    options = ["--kappa0", "0.6", "--half-width", "0.1", "--prevalence", "0.2", "--raters", "3"]
    done = _modic("plan", *options)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("267 patients, each rated by 3 raters")
    as_json = _modic("plan", *options, "--json")
    assert json.loads(as_json.stdout) == kappa_sample_size(0.6, 0.1, 0.2, 3).to_mapping()
    bad = _modic("plan", "--kappa0", "0.6", "--half-width", "0.7", "--prevalence", "0.2")
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and "half_width" in bad.stderr
    missing = _modic("plan", "--kappa0", "0.6")
    assert missing.returncode == 1 and "--half-width, --prevalence" in missing.stderr
    stray = _modic("ratings.csv", "--kappa0", "0.6")
    assert stray.returncode == 1 and "belong to 'modic agreement plan'" in stray.stderr


def test_a_one_sided_plan_on_the_command_line() -> None:
    options = ["--kappa0", "0.8", "--half-width", "0.2", "--prevalence", "0.3", "--raters", "3", "--interval", "lower"]
    done = _modic("plan", *options)
    assert done.returncode == 0, done.stderr
    n = kappa_sample_size(0.8, 0.2, 0.3, 3, interval="lower").n_patients
    assert done.stdout.startswith(f"{n} patients, each rated by 3 raters, give an expected one-sided 95% interval")
    assert "lower limit 0.6 around 0.8" in done.stdout
    as_json = json.loads(_modic("plan", *options, "--json").stdout)
    assert as_json["interval"] == "lower" and as_json["kappa_high"] is None and as_json["n_patients"] == n
    unknown = _modic("plan", *options[:-1], "upper")
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert "interval 'upper' is not known; allowed: 'two-sided', 'lower'" in unknown.stderr


def test_plan_endpoint(client: TestClient, auth: TokenFactory) -> None:
    url = "/api/v1/agreement/plan"
    answer = client.get(url, params=QUERY, headers=auth("researcher"))
    assert answer.status_code == 200
    body = answer.json()
    assert body["n_patients"] == 267
    assert body["method"].startswith("Donner & Rotondi 2010")
    assert client.get(url, params=QUERY, headers=auth("admin")).status_code == 200
    assert client.get(url, params=QUERY, headers=auth("radiologist")).status_code == 403
    assert client.get(url, params=QUERY).status_code == 401
    refused = client.get(url, params={**QUERY, "prevalence": 1.5}, headers=auth("researcher"))
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "prevalence"
    absent = client.get(url, params={"kappa0": 0.6}, headers=auth("researcher"))
    assert absent.status_code == 422 and "half_width" in absent.json()["detail"]
    lower = client.get(url, params={**QUERY, "interval": "lower"}, headers=auth("researcher")).json()
    assert lower == kappa_sample_size(0.6, 0.1, 0.2, 3, interval="lower").to_mapping()
    assert lower["kappa_high"] is None and lower["n_patients"] < body["n_patients"]
    assert body["interval"] == "two-sided"
    unknown = client.get(url, params={**QUERY, "interval": "upper"}, headers=auth("researcher"))
    assert unknown.status_code == 422 and "interval" in unknown.text
