"""``modic agreement FILE.csv`` in real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

GOOD = """unit,rater,value,cluster,variable
u1,ann,1,p1,score
u1,ben,2,p1,score
u2,ann,2,p1,score
u2,ben,2,p1,score
u3,ann,3,p2,score
u3,ben,3,p2,score
u4,ann,1,p2,score
u4,ben,,p2,score
u1,ann,yes,p1,flag
u1,ben,yes,p1,flag
u2,ann,no,p1,flag
u2,ben,no,p1,flag
u3,ann,no,p2,flag
u3,ben,yes,p2,flag
"""


def _modic(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "agreement", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _write(tmp_path: Path, text: str, name: str = "ratings.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_table_report(tmp_path: Path) -> None:
    result = _modic(str(_write(tmp_path, GOOD)), "--ordinal", "score=1,2,3,4", "--n-boot", "200")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "score (ordinal): 4 units, 2 clusters, raters ann, ben" in out
    assert "weighted_kappa_quadratic" in out and "krippendorff_alpha_ordinal" in out
    assert "flag (nominal): 3 units" in out
    assert "confusion ann (rows) vs ben (columns):" in out
    assert "prevalence: no 50.0%, yes 50.0%" in out


def test_json_report_matches_the_library(tmp_path: Path) -> None:
    result = _modic(str(_write(tmp_path, GOOD)), "--json", "--n-boot", "100", "--seed", "3")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["bootstrap"] == {"n_boot": 100, "seed": 3, "resamples": "clusters"}
    flag = next(v for v in report["variables"] if v["variable"] == "flag")
    pair = flag["comparisons"][0]
    assert pair["raters"] == ["ann", "ben"]
    assert pair["confusion"] == [[1, 1], [0, 1]]
    kappa = next(s for s in pair["statistics"] if s["name"] == "cohen_kappa")
    # two raters on u1..u3: po = 2/3, pe = (2/3)(1/3) + (1/3)(2/3) = 4/9 → kappa = 0.4
    assert kappa["value"] == pytest.approx(0.4)
    score = next(v for v in report["variables"] if v["variable"] == "score")
    assert score["categories"] == [1, 2, 3]  # integer labels, sorted numerically


def test_minimal_columns(tmp_path: Path) -> None:
    result = _modic(str(_write(tmp_path, "unit,rater,value\n1,a,x\n1,b,x\n2,a,y\n2,b,x\n")), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["variables"][0]["variable"] == "value"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "is empty"),  # no header at all
        ("unit,rater\nu1,a\n", "lacks column(s) value"),  # a required column missing
        ("unit,rater,value,score\nu1,a,1,2\n", "unknown column(s) score"),  # unexpected column
        ("unit,rater,value\n", "has a header but no ratings"),  # header only
        ("unit,rater,value\nu1,a,1,extra\n", "line 2 does not have the header's 3 fields"),  # ragged row
        ("unit,rater,value\nu1,,1\n", "line 2: rater is empty"),  # a rating without a rater
        ("unit,rater,value\nu1,a,1\nu1,a,2\n", "rater 'a' rated unit 'u1' twice"),  # duplicate
        ("unit,rater,value,cluster\nu1,a,1,p1\nu1,b,1,p2\n", "unit 'u1' is in cluster 'p1' and in cluster 'p2'"),
    ],
)
def test_bad_file_is_one_line_on_stderr(tmp_path: Path, content: str, reason: str) -> None:
    path = _write(tmp_path, content)
    result = _modic(str(path))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"modic: error: {path}: ")
    assert reason in lines[0]


def test_missing_and_binary_files(tmp_path: Path) -> None:
    missing = _modic(str(tmp_path / "nope.csv"))
    assert missing.returncode == 1 and "nope.csv: does not exist" in missing.stderr
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"unit,rater,value\n\xff\xfe\x00\n")
    result = _modic(str(binary))
    assert result.returncode == 1 and "is not UTF-8 text" in result.stderr


def test_bad_ordinal_option(tmp_path: Path) -> None:
    result = _modic(str(_write(tmp_path, GOOD)), "--ordinal", "score")
    assert result.returncode == 1
    assert "--ordinal 'score' must look like VARIABLE=c1,c2,..." in result.stderr


def test_value_outside_the_declared_scale(tmp_path: Path) -> None:
    result = _modic(str(_write(tmp_path, GOOD)), "--ordinal", "score=1,2")
    assert result.returncode == 1
    assert "variable 'score': rating 3" in result.stderr and "allowed: [1, 2]" in result.stderr


def test_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "agreement", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "unit,rater,value" in result.stdout


def test_a_large_report_over_processes_is_the_same_report(tmp_path: Path) -> None:
    """4,000 ratings × 8,000 resamples is over the size computed in one process: with --processes 2 the
    variables go to two forked workers, and the report is the one computed in this process alone."""
    lines = ["unit,rater,value,cluster,variable"]
    for unit in range(1000):
        for rater in ("ann", "ben"):
            flag = "yes" if (unit * 7 + (rater == "ben") * (unit % 5 == 0)) % 3 == 0 else "no"
            score = 1 + (unit + (rater == "ben") * (unit % 4 == 0)) % 4
            lines += [f"u{unit},{rater},{flag},p{unit // 4},flag", f"u{unit},{rater},{score},p{unit // 4},score"]
    path = _write(tmp_path, "\n".join(lines) + "\n")
    options = ("--json", "--n-boot", "8000", "--ordinal", "score=1,2,3,4")
    alone = _modic(str(path), *options, "--processes", "1")
    spread = _modic(str(path), *options, "--processes", "2")
    assert alone.returncode == 0 and spread.returncode == 0, alone.stderr + spread.stderr
    assert json.loads(spread.stdout) == json.loads(alone.stdout)
    assert [v["variable"] for v in json.loads(spread.stdout)["variables"]] == ["score", "flag"]


def test_negative_processes_is_refused(tmp_path: Path) -> None:
    result = _modic(str(_write(tmp_path, GOOD)), "--processes", "-1")
    assert result.returncode != 0
    assert "--processes -1 must be 0 (one per core) or more" in result.stderr
