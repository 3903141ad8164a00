"""Interpretation bands and prevalence (docs/agreement.md#statistics: "prevalence is always reported with kappa")."""

from __future__ import annotations

import enum
import math


class LandisKoch(enum.StrEnum):
    """Strength-of-agreement bands of Landis & Koch (1977), Biometrics 33:159–174, Table p. 165."""

    POOR = "poor"
    """Below 0."""
    SLIGHT = "slight"
    """0.00–0.20."""
    FAIR = "fair"
    """0.21–0.40."""
    MODERATE = "moderate"
    """0.41–0.60."""
    SUBSTANTIAL = "substantial"
    """0.61–0.80."""
    ALMOST_PERFECT = "almost perfect"
    """0.81–1.00."""
    UNDEFINED = "undefined"
    """The statistic is undefined (NaN) on these data."""


BAND_TOLERANCE = 1e-9
"""A value within this of a band limit is on the limit: 0.2 computed as 0.2000000000000004 is "slight"."""

CAVEAT = (
    "Landis & Koch (1977) proposed these bands as arbitrary benchmarks; they ignore prevalence, bias, the "
    "number of categories and the confidence interval, so read them beside those, never alone."
)
"""The caveat printed beside the bands in a report."""


def landis_koch(value: float) -> LandisKoch:
    """The Landis & Koch band of a kappa-like value; each band's upper limit is inclusive, within
    :data:`BAND_TOLERANCE` (floating-point error never moves a value up a band)."""
    if math.isnan(value):
        return LandisKoch.UNDEFINED
    if value < -BAND_TOLERANCE:
        return LandisKoch.POOR
    for upper, band in (
        (0.20, LandisKoch.SLIGHT),
        (0.40, LandisKoch.FAIR),
        (0.60, LandisKoch.MODERATE),
        (0.80, LandisKoch.SUBSTANTIAL),
    ):
        if value <= upper + BAND_TOLERANCE:
            return band
    return LandisKoch.ALMOST_PERFECT
