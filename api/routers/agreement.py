"""Planning a reliability study: how many patients a target kappa interval needs (researchers and admins)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.deps import require_roles
from grading.agreement.planning import MAX_RATERS, Interval, kappa_sample_size
from registry.models import Role, User

router = APIRouter(prefix="/agreement", tags=["agreement"])

Planner = Annotated[User, Depends(require_roles(Role.researcher, Role.admin))]


@router.get("/plan")
def plan(
    user: Planner,
    kappa0: Annotated[float, Query(description="the expected kappa, strictly between 0 and 1")],
    half_width: Annotated[float, Query(description="half-width of the confidence interval wanted")],
    prevalence: Annotated[float, Query(description="expected share of positive ratings, between 0 and 1")],
    raters: Annotated[int, Query(description=f"raters rating every patient, 2 to {MAX_RATERS}")] = 2,
    level: Annotated[float, Query(description="confidence level")] = 0.95,
    interval: Annotated[
        Interval, Query(description="two-sided (kappa0 ± half_width) or lower (one-sided: kappa0 − half_width)")
    ] = Interval.TWO_SIDED,
) -> dict[str, Any]:
    """Patients needed so that the interval of kappa is expected to be ``kappa0 ± half_width``, or its
    one-sided lower limit ``kappa0 − half_width`` (binary variable, ``raters`` raters per patient; Donner &
    Rotondi 2010). Out-of-range values are a 422 naming the field."""
    return kappa_sample_size(kappa0, half_width, prevalence, raters, level, interval).to_mapping()
