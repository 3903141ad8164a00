"""Analysis exports for researchers and admins: gradings, eligibility, REDCap, the codebook.

Pseudonyms only. The builders live in :mod:`registry.exports`; this router picks the format.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from api.deps import SessionDep, require_roles
from grading.eligibility import default_catalog
from registry.exports import redcap
from registry.exports.codebook import codebook
from registry.exports.eligibility import eligibility_table, eligibility_variables
from registry.exports.gradings import Shape, gradings_table
from registry.exports.table import Table, to_csv, to_parquet, to_stata
from registry.models import Role, User
from registry.services.eligibility import rule_set_of

router = APIRouter(prefix="/exports", tags=["exports"])

ResearcherOrAdmin = Annotated[User, Depends(require_roles(Role.researcher, Role.admin))]

_FORMATS: dict[str, tuple[Callable[[Table], bytes], str]] = {
    "csv": (to_csv, "text/csv; charset=utf-8"),
    "dta": (to_stata, "application/x-stata-dta"),
    "parquet": (to_parquet, "application/vnd.apache.parquet"),
}


def _check_format(extension: str, offered: tuple[str, ...]) -> None:
    if extension not in offered:
        raise HTTPException(404, f"format {extension!r} is not offered here; allowed: {', '.join(offered)}")


def _attachment(content: bytes, media_type: str, filename: str) -> Response:
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


def _file(table: Table, name: str, extension: str) -> Response:
    write, media_type = _FORMATS[extension]
    return _attachment(write(table), media_type, f"{name}.{extension}")


@router.get("/gradings.{extension}")
def export_gradings(
    extension: str,
    _user: ResearcherOrAdmin,
    session: SessionDep,
    shape: Annotated[Shape, Query(description="long: a row per version × endplate; wide: a row per patient")] = (
        Shape.LONG
    ),
) -> Response:
    """Every grading version (long) or the grading that counts per patient (wide): CSV, Stata or Parquet."""
    _check_format(extension, ("csv", "dta", "parquet"))
    return _file(gradings_table(session, shape), f"gradings_{shape.value}", extension)


@router.get("/eligibility.{extension}")
def export_eligibility(
    extension: str,
    _user: ResearcherOrAdmin,
    session: SessionDep,
    trial: Annotated[str, Query(description="trial id, e.g. NCT00454792", min_length=1, max_length=64)],
    version: Annotated[str | None, Query(description="rule-set version (default: the trial's default)")] = None,
) -> Response:
    """Each patient's current decision for a rule set, each criterion's status and the screening answers."""
    _check_format(extension, ("csv", "dta"))
    rule_set = rule_set_of(trial, version)
    return _file(eligibility_table(session, rule_set), f"eligibility_{rule_set.trial}_{rule_set.version}", extension)


@router.get("/redcap/dictionary.csv")
def redcap_dictionary(_user: ResearcherOrAdmin) -> Response:
    """The REDCap data dictionary of the Modic grading instrument."""
    return _attachment(redcap.data_dictionary(), "text/csv; charset=utf-8", "modic_grading_dictionary.csv")


@router.get("/redcap/records.csv")
def redcap_records(_user: ResearcherOrAdmin, session: SessionDep) -> Response:
    """One REDCap record per patient (the grading that counts), ready for REDCap's data import."""
    return _attachment(redcap.records(session), "text/csv; charset=utf-8", "modic_grading_records.csv")


@router.get("/codebook.json")
def export_codebook(_user: ResearcherOrAdmin) -> dict[str, Any]:
    """Every export's variables (labels, types, coded categories) and the Nordic definitions."""
    catalog = default_catalog()
    return codebook(
        {
            f"{rule_set.trial}_{rule_set.version}": eligibility_variables(rule_set)
            for trial in catalog.trials
            for rule_set in catalog.versions(trial)
        }
    )
