"""Agreement on a continuous measurement (the extension of a Modic change, ``extension_pct``).

- ICC(A,1): two-way random effects, absolute agreement, single rater (McGraw & Wong 1996, Psychol
  Methods 1:30–46, case 2A; Shrout & Fleiss 1979 ICC(2,1)) with its F-based confidence interval;
- Bland–Altman (1986, Lancet i:307–310) bias and 95 % limits of agreement of two raters, with the
  exact-t confidence interval of the bias.

Only units measured by every rater enter (a unit without a measurement is left out and counted). The
F and t quantiles come from the regularised incomplete beta function (no scipy in ``grading``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from grading.agreement.ratings import AgreementInputError

FloatArray = npt.NDArray[np.float64]


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Lentz's continued fraction of the incomplete beta function (Numerical Recipes, 3rd ed., §6.4)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return h


def beta_cdf(x: float, a: float, b: float) -> float:
    """The regularised incomplete beta function ``I_x(a, b)``."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1 - math.exp(log_front) * _beta_continued_fraction(b, a, 1 - x) / b


def f_cdf(f: float, df1: float, df2: float) -> float:
    """``P(F ≤ f)`` for an F distribution with (possibly fractional) degrees of freedom."""
    if f <= 0:
        return 0.0
    return beta_cdf(df1 * f / (df1 * f + df2), df1 / 2, df2 / 2)


def f_quantile(p: float, df1: float, df2: float) -> float:
    """The ``p`` quantile of F(df1, df2), by bisection on :func:`f_cdf` (to 1e-12 relative)."""
    low, high = 0.0, 1.0
    while f_cdf(high, df1, df2) < p:
        high *= 2
    for _ in range(200):
        middle = (low + high) / 2
        if f_cdf(middle, df1, df2) < p:
            low = middle
        else:
            high = middle
        if high - low <= 1e-12 * high:
            break
    return (low + high) / 2


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (from F(1, df))."""
    magnitude = math.sqrt(f_quantile(abs(2 * p - 1), 1, df))
    return magnitude if p >= 0.5 else -magnitude


def _complete(values: object, min_raters: int) -> tuple[FloatArray, int]:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise AgreementInputError(
            "measurements must be a units × raters matrix of numbers (None or NaN for missing)"
        ) from None
    if array.ndim != 2 or array.shape[1] < min_raters:
        raise AgreementInputError(
            f"measurements must be units × raters with at least {min_raters} raters, got shape {array.shape}"
        )
    if np.isinf(array).any():
        unit, rater = (int(i) for i in np.argwhere(np.isinf(array))[0])
        raise AgreementInputError(f"measurement {array[unit, rater]!r} at unit {unit}, rater {rater} is not finite")
    complete = ~np.isnan(array).any(axis=1)
    return array[complete], int((~complete).sum())


@dataclass(frozen=True)
class ICCResult:
    """ICC(A,1) with its confidence interval and the mean squares it comes from."""

    value: float
    ci: tuple[float, float]
    n_units: int
    n_raters: int
    n_left_out: int
    ms_rows: float
    ms_columns: float
    ms_error: float
    reason: str | None = None


def icc_agreement(values: object, level: float = 0.95) -> ICCResult:
    """ICC(A,1), two-way random, absolute agreement, single rater, on units measured by every rater.

    ``(MSR - MSE) / (MSR + (k - 1) MSE + k (MSC - MSE) / n)``; interval of McGraw & Wong (1996, Table 7,
    case 2A) with Satterthwaite's degrees of freedom ``v``.
    """
    data, left_out = _complete(values, 2)
    n, k = data.shape
    if n < 2:
        return ICCResult(
            math.nan, (math.nan, math.nan), n, k, left_out, math.nan, math.nan, math.nan, "fewer than 2 units"
        )
    grand = float(data.mean())
    ss_rows = k * float(((data.mean(axis=1) - grand) ** 2).sum())
    ss_columns = n * float(((data.mean(axis=0) - grand) ** 2).sum())
    ss_error = float(((data - grand) ** 2).sum()) - ss_rows - ss_columns
    msr, msc = ss_rows / (n - 1), ss_columns / (k - 1)
    mse = ss_error / ((n - 1) * (k - 1))
    denominator = msr + (k - 1) * mse + k * (msc - mse) / n
    if denominator <= 0:
        return ICCResult(math.nan, (math.nan, math.nan), n, k, left_out, msr, msc, mse, "no variation between units")
    icc = (msr - mse) / denominator
    alpha = 1 - level
    a = k * icc / (n * (1 - icc)) if icc < 1 else math.inf
    b = 1 + k * icc * (n - 1) / (n * (1 - icc)) if icc < 1 else math.inf
    if not math.isfinite(a) or mse == 0:
        return ICCResult(icc, (math.nan, math.nan), n, k, left_out, msr, msc, mse)
    v = (a * msc + b * mse) ** 2 / ((a * msc) ** 2 / (k - 1) + (b * mse) ** 2 / ((n - 1) * (k - 1)))
    f_low = f_quantile(1 - alpha / 2, n - 1, v)
    f_high = f_quantile(1 - alpha / 2, v, n - 1)
    low = n * (msr - f_low * mse) / (f_low * (k * msc + (k * n - k - n) * mse) + n * msr)
    high = n * (f_high * msr - mse) / (k * msc + (k * n - k - n) * mse + n * f_high * msr)
    return ICCResult(icc, (low, high), n, k, left_out, msr, msc, mse)


@dataclass(frozen=True)
class BlandAltman:
    """Bias (mean of second minus first) and limits of agreement ``bias ± 1.96 SD`` of two raters."""

    bias: float
    sd: float
    lower: float
    upper: float
    bias_ci: tuple[float, float]
    n_units: int
    n_left_out: int
    means: tuple[float, ...]
    differences: tuple[float, ...]


def bland_altman(values: object, level: float = 0.95) -> BlandAltman:
    """Bland & Altman (1986): differences (column 2 minus column 1) against means, on complete pairs."""
    data, left_out = _complete(values, 2)
    if data.shape[1] != 2:
        raise AgreementInputError(f"bland_altman needs exactly 2 raters (columns), got {data.shape[1]}")
    n = data.shape[0]
    differences = data[:, 1] - data[:, 0]
    means = data.mean(axis=1)
    if n < 2:
        nan = math.nan
        return BlandAltman(nan, nan, nan, nan, (nan, nan), n, left_out, tuple(means), tuple(differences))
    bias = float(differences.mean())
    sd = float(differences.std(ddof=1))
    t = t_quantile(1 - (1 - level) / 2, n - 1)
    half = t * sd / math.sqrt(n)
    return BlandAltman(
        bias,
        sd,
        bias - 1.96 * sd,
        bias + 1.96 * sd,
        (bias - half, bias + half),
        n,
        left_out,
        tuple(float(x) for x in means),
        tuple(float(x) for x in differences),
    )


def _number(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


@dataclass(frozen=True)
class ContinuousComparison:
    """ICC(A,1) and Bland–Altman of two raters (or reads) on one continuous variable."""

    variable: str
    raters: tuple[str, str]
    icc: ICCResult
    bland_altman: BlandAltman

    @property
    def label(self) -> str:
        """``a vs b``."""
        return " vs ".join(self.raters)

    def to_mapping(self) -> dict[str, object]:
        """JSON-ready (NaN as ``None``)."""
        ba = self.bland_altman
        return {
            "variable": self.variable,
            "comparison": self.label,
            "n_units": self.icc.n_units,
            "n_left_out": self.icc.n_left_out,
            "icc_a1": _number(self.icc.value),
            "icc_ci": [_number(x) for x in self.icc.ci],
            "icc_ci_method": "mcgraw-wong-F",
            "icc_reason": self.icc.reason,
            "bias": _number(ba.bias),
            "bias_ci": [_number(x) for x in ba.bias_ci],
            "sd_difference": _number(ba.sd),
            "limits_of_agreement": [_number(ba.lower), _number(ba.upper)],
        }


def compare_measurements(
    variable: str, raters: tuple[str, str], pairs: list[tuple[float | None, float | None]], level: float = 0.95
) -> ContinuousComparison:
    """ICC(A,1) and Bland–Altman of two raters' measurements of the same units (None: not measured)."""
    values = np.array([[math.nan if v is None else v for v in pair] for pair in pairs], dtype=np.float64)
    values = values.reshape(-1, 2)
    return ContinuousComparison(variable, raters, icc_agreement(values, level), bland_altman(values, level))
