"""How many patients a reliability study needs: the confidence-interval approach of Donner & Rotondi.

Donner A, Rotondi MA (2010), "Sample size requirements for interval estimation of the kappa statistic
for interobserver agreement studies with a binary outcome and multiple raters", Int J Biostat 6(1):31
(implemented in the R package kappaSize, ``CIBinary``). The model is the common-correlation model of a
binary rating by ``m`` raters: with probability ``κ`` a patient's ratings all agree (positive with
probability ``π``), otherwise the raters rate independently, each positive with probability ``π``.
The probability that ``j`` of the ``m`` raters call a patient positive is

    P_j(κ) = (1 − κ) C(m, j) π^j (1 − π)^(m − j) + κ (1 − π) [j = 0] + κ π [j = m].

The expected chi-square goodness-of-fit statistic of ``n`` patients drawn under ``κ0`` against the
limit ``κ1`` is ``n · D(κ0, κ1)`` with ``D = Σ_j (P_j(κ0) − P_j(κ1))² / P_j(κ1)``; the interval is
expected to reach no further than ``κ1`` once that statistic reaches the chi-square critical value
with one degree of freedom. So the closed form is

    n = ⌈ χ²_{1, level} / min(D(κ0, κ0 − h), D(κ0, κ0 + h)) ⌉

for a two-sided interval of half-width ``h``; for a one-sided interval (only the lower limit ``κ0 − h``,
``Interval.LOWER``, kappaSize's ``kappaU = NA``) ``n = ⌈ z²_{level} / D(κ0, κ0 − h) ⌉``, the
critical value being ``χ²_{1, 2·level − 1}``. The paper's Table 2 (one-sided, α = 0.05, the critical
value printed as 2.71) is reproduced cell by cell in ``tests/grading/test_agreement_planning.py``.

kappaSize finds the same ``n`` by searching upwards from 11 patients and stops at the first ``n`` with
``n · D − 0.001 ≥ χ²``; so it never answers fewer than 11, and it answers one more than this closed form
when ``n · D`` at this ``n`` exceeds the critical value by less than 0.001.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from statistics import NormalDist

from grading.agreement.ratings import AgreementInputError

MAX_RATERS = 30
"""The largest number of raters a plan is made for."""

METHOD = "Donner & Rotondi 2010, Int J Biostat 6(1):31 (goodness-of-fit confidence-interval approach)"


class Interval(enum.StrEnum):
    """Which limits of kappa's confidence interval a plan is made for."""

    TWO_SIDED = "two-sided"
    """Both limits, ``κ0 ± h`` (kappaSize ``CIBinary`` with ``kappaL`` and ``kappaU``)."""
    LOWER = "lower"
    """Only the lower limit ``κ0 − h`` of a one-sided interval (``kappaU = NA``; the paper's Table 2)."""


def interval_kind(value: object) -> Interval:
    """``value`` as an :class:`Interval`; else an error quoting it and the allowed values."""
    for kind in Interval:
        if value == kind:
            return kind
    allowed = ", ".join(repr(kind.value) for kind in Interval)
    raise AgreementInputError(f"interval {value!r} is not known; allowed: {allowed}", field="interval")


def _number(name: str, value: object, low: float, high: float) -> float:
    """``value`` as a float strictly between ``low`` and ``high``; else an error naming the range."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not low < float(value) < high:
        raise AgreementInputError(
            f"{name} {value!r} is out of range; allowed: a number strictly between {low:g} and {high:g}", field=name
        )
    return float(value)


def cell_probabilities(kappa: float, prevalence: float, raters: int) -> tuple[float, ...]:
    """``P_j(κ)`` for ``j = 0 … raters`` positive ratings of one patient under the common-correlation model."""
    m = raters
    binomial = [math.comb(m, j) * prevalence**j * (1 - prevalence) ** (m - j) for j in range(m + 1)]
    cells = [(1 - kappa) * b for b in binomial]
    cells[0] += kappa * (1 - prevalence)
    cells[m] += kappa * prevalence
    return tuple(cells)


def discrepancy(kappa0: float, kappa1: float, prevalence: float, raters: int) -> float:
    """``D(κ0, κ1) = Σ_j (P_j(κ0) − P_j(κ1))² / P_j(κ1)``: the expected goodness-of-fit statistic per patient."""
    expected = cell_probabilities(kappa0, prevalence, raters)
    limit = cell_probabilities(kappa1, prevalence, raters)
    return sum((e - lim) ** 2 / lim for e, lim in zip(expected, limit, strict=True) if lim > 0)


@dataclass(frozen=True)
class KappaSampleSize:
    """The number of patients for an expected confidence interval ``κ0 ± half_width`` (or, one-sided, its
    lower limit ``κ0 − half_width``) and what it rests on."""

    n_patients: int
    kappa0: float
    half_width: float
    prevalence: float
    raters: int
    level: float
    chi2_critical: float
    interval: Interval = Interval.TWO_SIDED
    method: str = METHOD

    @property
    def kappa_low(self) -> float:
        """The expected lower confidence limit."""
        return self.kappa0 - self.half_width

    @property
    def kappa_high(self) -> float | None:
        """The expected upper confidence limit; ``None`` for a one-sided (lower-limit) plan."""
        return self.kappa0 + self.half_width if self.interval is Interval.TWO_SIDED else None

    def to_mapping(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "n_patients": self.n_patients,
            "kappa0": self.kappa0,
            "half_width": self.half_width,
            "kappa_low": self.kappa_low,
            "kappa_high": self.kappa_high,
            "prevalence": self.prevalence,
            "raters": self.raters,
            "level": self.level,
            "interval": self.interval.value,
            "chi2_critical": self.chi2_critical,
            "method": self.method,
        }


def chi2_critical(level: float, interval: Interval) -> float:
    """The chi-square (1 df) critical value of a ``level`` interval: ``z²`` at ``(1 + level)/2`` for both
    limits, at ``level`` for the lower limit alone."""
    z = NormalDist().inv_cdf(level if interval is Interval.LOWER else 0.5 + level / 2)
    return z * z


def patients_needed(critical: float, kappa0: float, limits: tuple[float, ...], prevalence: float, raters: int) -> int:
    """The smallest ``n`` whose expected goodness-of-fit statistic ``n · D(κ0, κ1)`` reaches ``critical`` at
    every limit ``κ1`` in ``limits`` (the arguments are not checked; :func:`kappa_sample_size` does)."""
    per_patient = min(discrepancy(kappa0, limit, prevalence, raters) for limit in limits)
    return math.ceil(critical / per_patient - 1e-9)


def expected_limits(kappa0: float, half_width: float, interval: Interval) -> tuple[float, ...]:
    """The limits a plan aims at: ``(κ0 − h, κ0 + h)``, or ``(κ0 − h,)`` for the lower limit alone."""
    low = kappa0 - half_width
    return (low, kappa0 + half_width) if interval is Interval.TWO_SIDED else (low,)


def _checked_limits(kappa0: float, half_width: float, interval: Interval) -> tuple[float, ...]:
    """The expected limits, each strictly inside (0, 1); else an error quoting them."""
    limits = expected_limits(kappa0, half_width, interval)
    if not all(0 < limit < 1 for limit in limits):
        shown = " … ".join(f"{limit:g}" for limit in limits)
        raise AgreementInputError(
            f"kappa0 {kappa0:g} and half_width {half_width:g} put the {interval.value} limits at {shown}, "
            "outside (0, 1); allowed: limits strictly inside it",
            field="half_width",
        )
    return limits


def kappa_sample_size(
    kappa0: float,
    half_width: float,
    prevalence: float,
    raters: int = 2,
    level: float = 0.95,
    interval: Interval | str = Interval.TWO_SIDED,
) -> KappaSampleSize:
    """Patients needed so that the ``level`` interval of κ is expected to be ``κ0 ± half_width`` (or, with
    ``interval="lower"``, so that the one-sided interval's lower limit is expected at ``κ0 − half_width``).

    ``prevalence``: the expected share of positive ratings (e.g. endplates with a Modic change);
    ``raters``: raters rating every patient (2 … 30). The limits must stay inside (0, 1), as in
    kappaSize. Errors name the argument and its allowed range.
    """
    kind = interval_kind(interval)
    k0 = _number("kappa0", kappa0, 0.0, 1.0)
    h = _number("half_width", half_width, 0.0, 1.0)
    p = _number("prevalence", prevalence, 0.0, 1.0)
    conf = _number("level", level, 0.0, 1.0)
    if isinstance(raters, bool) or not isinstance(raters, int) or not 2 <= raters <= MAX_RATERS:
        raise AgreementInputError(
            f"raters {raters!r} is out of range; allowed: an integer from 2 to {MAX_RATERS}", field="raters"
        )
    limits = _checked_limits(k0, h, kind)
    critical = chi2_critical(conf, kind)
    n = patients_needed(critical, k0, limits, p, raters)
    return KappaSampleSize(n, k0, h, p, raters, conf, critical, kind)
