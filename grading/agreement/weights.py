"""Agreement weights on category positions (Cohen 1968; Cicchetti & Allison 1971; Fleiss & Cohen 1973).

Weights are *agreement* weights, ``w[k, l]`` in ``[0, 1]`` with ``w[k, k] = 1``, defined on the
positions ``0..q-1`` of the ordered category list, never on label values; an unused category that
stays on the scale therefore still widens the distances.
"""

from __future__ import annotations

import enum

import numpy as np
import numpy.typing as npt

from grading.agreement.ratings import AgreementInputError, Label


class WeightScheme(enum.StrEnum):
    """A named agreement-weight scheme on category positions ``i, j`` of ``q`` categories."""

    LINEAR = "linear"
    """Cicchetti–Allison (SAS "CA", vcd "Equal-Spacing"): ``1 - |i - j| / (q - 1)``."""
    QUADRATIC = "quadratic"
    """Fleiss–Cohen (SAS "FC", vcd "Fleiss-Cohen"): ``1 - (i - j)² / (q - 1)²``."""


WeightsArg = str | WeightScheme | npt.ArrayLike | None
"""``None`` (unweighted), ``"linear"``, ``"quadratic"`` or a q × q agreement matrix."""


def agreement_weights(weights: object, categories: tuple[Label, ...]) -> tuple[npt.NDArray[np.float64], str]:
    """The q × q agreement-weight matrix and its name (``unweighted``, ``linear``, ``quadratic``, ``custom``)."""
    q = len(categories)
    if weights is None:
        return np.eye(q), "unweighted"
    if isinstance(weights, str):
        try:
            scheme = WeightScheme(weights)
        except ValueError:
            allowed = ", ".join(repr(s.value) for s in WeightScheme)
            raise AgreementInputError(
                f"weights {weights!r} is unknown; allowed: None, {allowed} or a {q}×{q} agreement matrix"
            ) from None
        positions = np.arange(q, dtype=np.float64)
        distance = np.abs(positions[:, None] - positions[None, :]) / max(q - 1, 1)
        matrix = 1.0 - (distance if scheme is WeightScheme.LINEAR else distance**2)
        return matrix, scheme.value
    try:
        matrix = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise AgreementInputError(
            f"weights {weights!r} is not a matrix of numbers; allowed: None, 'linear', 'quadratic' or a {q}×{q} matrix"
        ) from None
    if matrix.shape != (q, q):
        raise AgreementInputError(
            f"weights matrix has shape {matrix.shape} but there are {q} categories {list(categories)!r}; "
            f"give a {q}×{q} agreement matrix"
        )
    if not np.all(np.isfinite(matrix)) or matrix.min() < 0 or matrix.max() > 1:
        raise AgreementInputError(f"weights matrix entries must lie in [0, 1]; got {matrix.tolist()!r}")
    if not np.allclose(np.diag(matrix), 1.0):
        raise AgreementInputError(
            f"weights matrix diagonal must be 1 (full agreement); got {np.diag(matrix).tolist()!r}"
        )
    return matrix, "custom"
