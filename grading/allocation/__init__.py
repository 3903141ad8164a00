"""Allocation by minimisation (Pocock–Simon), as data, with a seeded recorded random stream and replay.

Typical use::

    from grading.allocation import Tally, allocate, scheme_of
    scheme = scheme_of("NCT00454792")
    tally = Tally(scheme)
    allocation = allocate(tally, {"age_group": "40-49", "sex": "female", ...}, seed)
"""

from grading.allocation.minimisation import (
    Allocation,
    Replay,
    Tally,
    allocate,
    marginal_imbalance,
    pick,
    probabilities,
    rank,
    replay,
    simple_randomisation,
    stream,
)
from grading.allocation.scheme import Arm, Factor, Imbalance, Scheme, packaged_schemes, parse_scheme, scheme_of

__all__ = [
    "Allocation",
    "Arm",
    "Factor",
    "Imbalance",
    "Replay",
    "Scheme",
    "Tally",
    "allocate",
    "marginal_imbalance",
    "packaged_schemes",
    "parse_scheme",
    "pick",
    "probabilities",
    "rank",
    "replay",
    "scheme_of",
    "simple_randomisation",
    "stream",
]
