"""Agreement statistics against their usual peers.

- Cohen's kappa on 1,000,000 pairs of Modic type labels (strings such as ``"I/II"``, 8 categories) vs
  scikit-learn ``cohen_kappa_score`` on the same strings in the same form: target ≥ 5×, as a numpy str
  array (scikit-learn gets its two columns) and as a list of rows (scikit-learn gets the rows split
  into two lists).
- Fleiss' kappa on 100,000 units × 5 raters of Modic type labels (strings) vs statsmodels
  ``aggregate_raters`` + ``fleiss_kappa`` on the same strings: target ≥ 10×.
- The full report of a 100-patient, 4-rater, 2-read study (every Nordic variable pooled, per endplate
  and per trial rule set; inter-rater, intra-rater per rater and pooled; 2,000 patient resamples):
  target < 5 s.
- Cohen's kappa on 1,000,000 pairs, 7 categories, vs scikit-learn ``cohen_kappa_score``: target ≥ 3×.
- Fleiss' kappa on 100,000 units × 5 raters vs statsmodels ``aggregate_raters`` + ``fleiss_kappa``:
  target ≥ 10×.
- Patient-cluster bootstrap, 2,000 resamples, 100 patients × 11 endplates × 2 raters: target < 0.5 s;
  the peer is the same bootstrap as a Python loop over resamples calling scikit-learn.

Run: ``python -m bench.bench_agreement`` (or ``python bench/run.py agreement``). Times are medians of several
``time.perf_counter`` repeats; each row also carries ``median_s``, ``peer_median_s`` and ``speedup``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

import numpy as np

from bench.common import print_table, row
from grading.agreement import AgreementReport, RatingColumns, cohen_kappa, fleiss_kappa, start_report
from grading.agreement.nordic_variables import add_nordic_ratings_to, nordic_specs
from grading.endplates import ENDPLATES
from grading.nordic import TYPE_LABELS, StudyGrading, size_from_extension
from registry.report_processes import computed, ratings_in, report_processes


def median_seconds(function: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls (one untimed warm-up call first)."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _row(name: str, ours: float, peer_name: str, peer: float, target: str, met: bool) -> dict[str, Any]:
    """A row of the shared table (``bench.common.row``) plus the numbers: medians in seconds and ratio."""
    ratio = peer / ours
    return {
        **row(
            name,
            f"median {ours * 1000:.1f} ms",
            target,
            met,
            peer=f"{peer_name}: median {peer * 1000:.1f} ms",
            ratio=f"{ratio:.1f}x faster",
        ),
        "name": name,
        "median_s": ours,
        "peer_median_s": peer,
        "speedup": ratio,
    }


def bench_cohen(repeats: int = 5) -> dict[str, Any]:
    """Cohen's kappa on 1,000,000 pairs with 7 categories."""
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 7, size=1_000_000)
    other = np.where(rng.random(truth.size) < 0.7, truth, rng.integers(0, 7, size=truth.size))
    pairs = np.column_stack([truth, other])
    ours_value = cohen_kappa(pairs).value
    peer_value = cohen_kappa_score(truth, other)
    assert abs(ours_value - peer_value) < 1e-9, (ours_value, peer_value)
    ours = median_seconds(lambda: cohen_kappa(pairs), repeats)
    peer = median_seconds(lambda: cohen_kappa_score(truth, other), repeats)
    return _row("cohen_kappa 1e6 pairs, q=7", ours, "sklearn cohen_kappa_score", peer, ">= 3x faster", peer / ours >= 3)


def modic_type_labels(shape: tuple[int, ...], agree: float, seed: int) -> np.ndarray:
    """Modic type labels (strings), the columns agreeing with the first one with probability ``agree``."""
    rng = np.random.default_rng(seed)
    labels = np.array(TYPE_LABELS)
    truth = labels[rng.integers(0, len(labels), size=(shape[0], 1))]
    noise = labels[rng.integers(0, len(labels), size=shape)]
    out: np.ndarray = np.where(rng.random(shape) < agree, truth, noise)
    out[:, 0] = truth[:, 0]
    return out


def bench_cohen_strings(repeats: int = 3) -> list[dict[str, Any]]:
    """Cohen's kappa on 1,000,000 pairs of Modic type labels, as a numpy str array and as a list of rows,
    each against scikit-learn given the same strings in the same form: the array's two columns, or the
    rows split into two lists (``[r[0] for r in rows]``, ``[r[1] for r in rows]``), which is how a list
    of rows reaches ``cohen_kappa_score``."""
    from sklearn.metrics import cohen_kappa_score

    pairs = modic_type_labels((1_000_000, 2), 0.7, 4)
    rows = pairs.tolist()
    first, second = pairs[:, 0], pairs[:, 1]
    peer_value = cohen_kappa_score(first, second)
    assert abs(cohen_kappa(pairs).value - peer_value) < 1e-9
    assert abs(cohen_kappa(rows).value - peer_value) < 1e-9

    def peer_on_array() -> float:
        return float(cohen_kappa_score(first, second))

    def peer_on_rows() -> float:
        return float(cohen_kappa_score([r[0] for r in rows], [r[1] for r in rows]))

    peers = (
        (
            "numpy str array",
            pairs,
            "sklearn cohen_kappa_score on the array's two columns",
            peer_on_array,
        ),
        ("list of rows", rows, "sklearn cohen_kappa_score on the rows split into two lists", peer_on_rows),
    )
    out = []
    for form, data, peer_name, peer_call in peers:
        ours = median_seconds(lambda data=data: cohen_kappa(data), repeats)
        peer = median_seconds(peer_call, repeats)
        out.append(
            _row(
                f"cohen_kappa 1e6 pairs of Modic type strings ({form}), q=8",
                ours,
                peer_name,
                peer,
                ">= 5x faster",
                peer / ours >= 5,
            )
        )
    return out


def _fleiss_row(ratings: Any, repeats: int, what: str, peer_note: str) -> dict[str, Any]:
    """Fleiss' kappa on ``ratings`` against statsmodels ``aggregate_raters`` + ``fleiss_kappa``."""
    from statsmodels.stats.inter_rater import aggregate_raters
    from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

    def peer_call() -> float:
        return float(sm_fleiss(aggregate_raters(ratings)[0]))

    assert abs(fleiss_kappa(ratings).value - peer_call()) < 1e-9
    ours = median_seconds(lambda: fleiss_kappa(ratings), repeats)
    peer = median_seconds(peer_call, repeats)
    return _row(
        what, ours, f"statsmodels aggregate_raters+fleiss_kappa{peer_note}", peer, ">= 10x faster", peer / ours >= 10
    )


def bench_fleiss_strings(repeats: int = 3) -> dict[str, Any]:
    """Fleiss' kappa on 100,000 units × 5 raters of Modic type labels (numpy str array)."""
    ratings = modic_type_labels((100_000, 5), 0.6, 5)
    return _fleiss_row(
        ratings, repeats, "fleiss_kappa 1e5 units x 5 raters of Modic type strings", " on the same strings"
    )


def bench_fleiss(repeats: int = 5) -> dict[str, Any]:
    """Fleiss' kappa on 100,000 units × 5 raters."""
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 4, size=(100_000, 1))
    ratings = np.where(rng.random((100_000, 5)) < 0.6, truth, rng.integers(0, 4, size=(100_000, 5)))
    return _fleiss_row(ratings, repeats, "fleiss_kappa 1e5 units x 5 raters", "")


def bench_bootstrap(repeats: int = 5, peer_repeats: int = 3) -> dict[str, Any]:
    """Cohen's kappa with a 2,000-resample patient bootstrap on 100 patients × 11 endplates × 2 raters."""
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(2)
    patients, endplates, n_boot = 100, 11, 2000
    truth = np.where(rng.random((patients, endplates)) < 0.25, rng.integers(1, 5, size=(patients, endplates)), 0)
    second = np.where(rng.random(truth.shape) < 0.85, truth, rng.integers(0, 5, size=truth.shape))
    pairs = np.column_stack([truth.ravel(), second.ravel()])
    clusters = np.repeat(np.arange(patients), endplates).tolist()

    def ours_call() -> tuple[float, float]:
        return cohen_kappa(pairs, clusters=clusters).ci(method="bootstrap", n_boot=n_boot, seed=0)

    def peer_call() -> tuple[float, float]:
        draws = np.random.default_rng(0).integers(0, patients, size=(n_boot, patients))
        by_patient = pairs.reshape(patients, endplates, 2)
        values = []
        for b in range(n_boot):
            sample = by_patient[draws[b]].reshape(-1, 2)
            values.append(cohen_kappa_score(sample[:, 0], sample[:, 1]))
        low, high = np.quantile(values, [0.025, 0.975])
        return float(low), float(high)

    ours_ci, peer_ci = ours_call(), peer_call()
    assert np.allclose(ours_ci, peer_ci, atol=1e-9), (ours_ci, peer_ci)
    ours = median_seconds(ours_call, repeats)
    peer = median_seconds(peer_call, peer_repeats)
    return _row(
        "cluster bootstrap 2000 x (100 patients x 11 endplates x 2 raters)",
        ours,
        "Python loop over resamples with sklearn cohen_kappa_score",
        peer,
        "< 0.5 s",
        ours < 0.5,
    )


def synthetic_study(patients: int = 100, raters: int = 4, seed: int = 6) -> dict[tuple[str, int, str], StudyGrading]:
    """Gradings of every (rater, read, case): about 20 % of endplates changed, 10 % of types re-read
    differently, the extension (and so the size) measured with a noise of SD 8 %."""
    rng = np.random.default_rng(seed)
    truth_type = np.where(rng.random((patients, 11)) < 0.2, rng.integers(1, 8, (patients, 11)), 0)
    truth_extension = rng.uniform(0, 80, (patients, 11))
    gradings = {}
    for rater in range(raters):
        for read in (1, 2):
            for patient in range(patients):
                types = np.where(rng.random(11) < 0.1, rng.integers(0, 8, 11), truth_type[patient])
                extension = np.clip(truth_extension[patient] + rng.normal(0, 8, 11), 0, 100)
                endplates: dict[str, dict[str, object]] = {}
                for endplate, t, pct in zip(ENDPLATES, types, extension, strict=True):
                    size = size_from_extension(round(float(pct), 1)).value
                    endplates[endplate.value] = (
                        {"type": TYPE_LABELS[t], "size": size, "extension_pct": round(float(pct), 1)}
                        if t
                        else {"type": "none"}
                    )
                gradings[(f"rater{rater}", read, f"case{patient}")] = StudyGrading.from_mapping(endplates)
    return gradings


ReportColumns = tuple[dict[str, RatingColumns], dict[str, RatingColumns], list[tuple[str, str]]]


def report_columns(gradings: dict[tuple[str, int, str], StudyGrading]) -> ReportColumns:
    """Inter-rater (read 1) columns, intra-rater columns (per rater and pooled over raters) and the
    intra-rater pairs, as the reliability service makes them."""
    inter: dict[str, RatingColumns] = {}
    intra: dict[str, RatingColumns] = {}
    pairs = set()
    for (rater, read, case), grading in gradings.items():
        targets = [(inter, case, rater)] if read == 1 else []
        targets += [(intra, case, f"{rater} read {read}"), (intra, f"{rater}|{case}", f"all raters read {read}")]
        add_nordic_ratings_to(targets, grading)
        pairs.add((f"{rater} read 1", f"{rater} read 2"))
    return inter, intra, [*sorted(pairs), ("all raters read 1", "all raters read 2")]


def report_processes_for(columns: ReportColumns, n_boot: int, setting: int = 0) -> int:
    """The processes the service computes this report in (``setting`` 0: one per core if it is large)."""
    inter, intra, _ = columns
    return report_processes(setting, ratings_in(inter, intra) * n_boot)


def full_report(
    gradings: dict[tuple[str, int, str], StudyGrading], n_boot: int, processes: int = 0
) -> tuple[AgreementReport, ...]:
    """The inter- and intra-rater reports, as the reliability service computes them: from the gradings'
    columns, in ``processes`` processes (0: one per core, for a report this large)."""
    columns = report_columns(gradings)
    inter, intra, wanted = columns
    specs = nordic_specs()

    def build(executor: Executor | None) -> tuple[AgreementReport, ...]:
        pending = (
            start_report(inter, specs, n_boot=n_boot, executor=executor),
            start_report(intra, specs, pairs=wanted, include_all=False, n_boot=n_boot, executor=executor),
        )
        return tuple(report.result() for report in pending)

    return computed(build, report_processes_for(columns, n_boot, processes))


FULL_REPORT = "full report: 100 patients x 4 raters x 2 reads, 2000 resamples"


def bench_full_report(repeats: int = 3) -> dict[str, Any]:
    """The full report of a 100-patient, 4-rater, 2-read study with 2,000 patient resamples, computed as
    the service computes it (over the cores, registry/report_processes.py): the process's first report,
    then the median of ``repeats`` more."""
    gradings = synthetic_study()
    times = []
    for _ in range(1 + repeats):
        started = time.perf_counter()
        full_report(gradings, 2000)
        times.append(time.perf_counter() - started)
    ours = statistics.median(times[1:])
    processes = report_processes_for(report_columns(gradings), 2000)
    result = f"median {ours:.1f} s of {repeats}, {processes} processes (first report {times[0]:.1f} s)"
    return {**row(FULL_REPORT, result, "< 5 s", ours < 5), "name": "full report", "median_s": ours}


def run() -> list[dict[str, Any]]:
    """Run every benchmark; one row each (see :func:`_row`)."""
    return [
        *bench_cohen_strings(),
        bench_fleiss_strings(),
        bench_full_report(),
        bench_cohen(),
        bench_fleiss(),
        bench_bootstrap(),
    ]


if __name__ == "__main__":
    print_table(run())
