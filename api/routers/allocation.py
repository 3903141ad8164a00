"""The allocation manager's views: running totals, the replay check, the allocation log and the
CONSORT-shaped screening log (JSON, CSV, a small HTML diagram). No other role may read them."""

from __future__ import annotations

import csv
import html
import io
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from api.deps import AllocationManager, SessionDep
from api.schemas.enrolment import ConsortPublic, ReplayPublic, TotalsPublic
from registry.services import enrolment as enrolment_service

router = APIRouter(prefix="/allocation", tags=["allocation"])
Version = Annotated[str | None, Query(description="rule-set version (default: the trial's default)", max_length=64)]


@router.get("/{trial}/totals", response_model=TotalsPublic)
def totals(trial: str, _user: AllocationManager, session: SessionDep) -> TotalsPublic:
    """Patients per arm, and per arm within each factor level."""
    return TotalsPublic.of(enrolment_service.totals(session, trial))


@router.get("/{trial}/replay", response_model=ReplayPublic)
def replay(trial: str, _user: AllocationManager, session: SessionDep) -> ReplayPublic:
    """Re-run every recorded allocation from its factors and draws (and the draws from the seed)."""
    result = enrolment_service.check_replay(session, trial)
    return ReplayPublic(trial=trial, checked=result.checked, ok=result.ok, mismatches=list(result.mismatches))


def _csv(rows: list[dict[str, object]], header: list[str], filename: str) -> Response:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return Response(
        buffer.getvalue(), media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.get("/{trial}/log.csv")
def allocation_log(trial: str, _user: AllocationManager, session: SessionDep) -> Response:
    """One row per allocation for the trial statistician (pseudonyms only)."""
    rows = enrolment_service.allocation_log(session, trial)
    scheme = enrolment_service.scheme(trial)
    assert scheme is not None  # allocation_log raised 404 otherwise
    header = ["sequence", "patient", "enrolled_at", "consent_date", "rule_version", "scheme_version", "arm"]
    header += [f"factor_{f.name}" for f in scheme.factors] + [f"imbalance_{a}" for a in scheme.arm_names]
    header += ["preferred_arm", "draw"]
    return _csv(list(rows), header, f"allocation-{trial}.csv")


@router.get("/{trial}/consort.json", response_model=ConsortPublic)
def consort_json(trial: str, _user: AllocationManager, session: SessionDep, version: Version = None) -> ConsortPublic:
    """Screened → MRI with Modic changes → excluded (per criterion) / pending / eligible → consented →
    allocated per arm."""
    return ConsortPublic.of(enrolment_service.consort(session, trial, version))


@router.get("/{trial}/consort.csv")
def consort_csv(trial: str, _user: AllocationManager, session: SessionDep, version: Version = None) -> Response:
    """The CONSORT counts as ``stage,item,count`` rows."""
    c = enrolment_service.consort(session, trial, version)
    rows: list[dict[str, object]] = [
        {"stage": "screened", "item": "", "count": c.screened},
        {"stage": "mri_modic", "item": "", "count": c.mri_modic},
        {"stage": "excluded", "item": "", "count": c.excluded},
    ]
    rows += [{"stage": "excluded_reason", "item": k, "count": v} for k, v in c.excluded_reasons.items()]
    rows += [
        {"stage": "pending", "item": "", "count": c.pending},
        {"stage": "eligible", "item": "", "count": c.eligible},
        {"stage": "consented", "item": "", "count": c.consented},
    ]
    rows += [{"stage": "allocated", "item": arm, "count": n} for arm, n in c.allocated.items()]
    return _csv(rows, ["stage", "item", "count"], f"consort-{c.trial}-{c.version}.csv")


@router.get("/{trial}/consort.html", response_class=HTMLResponse)
def consort_html(trial: str, _user: AllocationManager, session: SessionDep, version: Version = None) -> HTMLResponse:
    """A small CONSORT flow diagram (boxes and arrows in plain HTML/CSS)."""
    c = enrolment_service.consort(session, trial, version)
    reasons = "".join(f"<li>{html.escape(k)}: {v}</li>" for k, v in c.excluded_reasons.items())
    arms = "".join(
        f'<div class="box">Allocated to {html.escape(a)}<br><b>n = {n}</b></div>' for a, n in c.allocated.items()
    )

    def box(label: str, n: int, extra: str = "") -> str:
        return f'<div class="box">{html.escape(label)}<br><b>n = {n}</b>{extra}</div><div class="arrow">&darr;</div>'

    body = (
        box("Screened", c.screened)
        + box("MRI with Modic changes (MRI criterion met)", c.mri_modic)
        + box("Excluded", c.excluded, f"<ul>{reasons}</ul>")
        + box("Pending (criteria unknown)", c.pending)
        + box("Eligible", c.eligible)
        + box("Consented and enrolled", c.consented)
        + f'<div class="arms">{arms}</div>'
    )
    title = html.escape(f"CONSORT flow: {c.trial} ({c.version})")
    style = (
        "body{font-family:sans-serif}.box{border:1px solid #333;padding:.5em 1em;margin:0 auto;width:22em;"
        "text-align:center}.arrow{text-align:center;font-size:1.5em}.arms{display:flex;gap:1em;justify-content:center}"
        ".arms .box{margin:0}"
    )
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{style}</style></head>"
    return HTMLResponse(page + f"<body><h1>{title}</h1>{body}</body></html>")
