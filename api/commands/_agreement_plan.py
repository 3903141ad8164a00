"""``modic agreement plan``: patients needed for a target kappa interval (Donner & Rotondi 2010), two-sided
(``κ0 ± h``, the default) or only its lower limit (``--interval lower``: ``κ0 − h``)."""

from __future__ import annotations

import argparse
import json

from api.commands._common import fail
from grading.agreement import AgreementInputError
from grading.agreement.planning import MAX_RATERS, Interval, KappaSampleSize, kappa_sample_size

WORD = "plan"
"""The first argument of ``modic agreement`` that asks for a plan instead of a report."""

OPTIONS = ("kappa0", "half_width", "prevalence", "raters", "plan_level", "interval")


def add_plan_options(parser: argparse.ArgumentParser) -> None:
    """The planning options of ``modic agreement plan``."""
    group = parser.add_argument_group(
        "planning (modic agreement plan --kappa0 K --half-width H --prevalence P [--raters M])"
    )
    group.add_argument("--kappa0", type=float, help="plan: the expected kappa (0 to 1)")
    group.add_argument("--half-width", type=float, help="plan: half-width of the confidence interval wanted")
    group.add_argument("--prevalence", type=float, help="plan: expected share of positive ratings (0 to 1)")
    group.add_argument("--raters", type=int, help=f"plan: raters rating every patient (2 to {MAX_RATERS}; default 2)")
    group.add_argument("--plan-level", type=float, help="plan: confidence level (default 0.95)")
    kinds = ", ".join(i.value for i in Interval)
    group.add_argument(
        "--interval",
        help=f"plan: {kinds} (default {Interval.TWO_SIDED.value}; {Interval.LOWER.value}: one-sided, "
        "the lower limit kappa0 - half-width alone)",
    )


def given_plan_options(args: argparse.Namespace) -> list[str]:
    """The planning options present on the command line."""
    return ["--" + name.replace("_", "-") for name in OPTIONS if getattr(args, name, None) is not None]


def run_plan(args: argparse.Namespace) -> int:
    """Print the plan (a sentence, or JSON with ``--json``); a bad or missing value is one line on stderr."""
    missing = [f"--{n.replace('_', '-')}" for n in ("kappa0", "half_width", "prevalence") if getattr(args, n) is None]
    if missing:
        return fail(f"agreement plan needs {', '.join(missing)}")
    try:
        plan = kappa_sample_size(
            args.kappa0,
            args.half_width,
            args.prevalence,
            2 if args.raters is None else args.raters,
            0.95 if args.plan_level is None else args.plan_level,
            Interval.TWO_SIDED if args.interval is None else args.interval,
        )
    except AgreementInputError as exc:
        return fail(f"agreement plan: {exc.message}")
    if args.json:
        print(json.dumps(plan.to_mapping(), indent=2))
    else:
        print(_sentence(plan))
    return 0


def _sentence(plan: KappaSampleSize) -> str:
    """The plan in one sentence."""
    if plan.kappa_high is None:
        interval = f"one-sided {plan.level:.0%} interval of kappa with lower limit {plan.kappa_low:g}"
    else:
        interval = f"{plan.level:.0%} interval of kappa {plan.kappa_low:g} to {plan.kappa_high:g}"
    return (
        f"{plan.n_patients} patients, each rated by {plan.raters} raters, give an expected {interval} "
        f"around {plan.kappa0:g} at a prevalence of {plan.prevalence:g} ({plan.method})."
    )
