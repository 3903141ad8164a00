"""Queries of the exports: every grading version, current versions, pseudonyms, decisions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, cast, type_coerce
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from registry.models import EligibilityDecision, Grading, GradingVersion, Instance, Patient, Series, Study
from registry.repositories import eligibility as eligibility_repo
from registry.repositories.eligibility import CountingGrading

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
"""The SOP class assumed for an image whose header did not record one."""

_VERSIONS = (
    sa_select(
        col(Patient.pseudonym),
        col(Study.id),
        cast(col(Study.study_date), String),
        col(Grading.id),
        type_coerce(col(Grading.kind), String),
        col(Grading.rater_id),
        col(GradingVersion.version),
        cast(col(GradingVersion.at), String),
        cast(col(GradingVersion.endplates), String),
        col(GradingVersion.protocol),
        cast(col(GradingVersion.numbering), String),
        cast(col(Grading.created_at), String),
    )
    .join(Grading, col(GradingVersion.grading_id) == col(Grading.id))
    .join(Study, col(Grading.study_id) == col(Study.id))
    .join(Patient, col(Study.patient_id) == col(Patient.id))
)


def _version_order(row: Any) -> tuple[Any, ...]:
    """By patient, study (date, missing first; then id), grading (created, then id) and version. The
    creation time is the database's text, which orders as the times do (:data:`grading.eligibility.counting.Time`)."""
    return (row[0], row[2] or "", row[1], row[11], row[3], row[6])


def grading_versions(session: Session) -> list[Any]:
    """Every version of every grading: (pseudonym, study id, study date, grading id, kind, rater id,
    version, recorded at, endplates as JSON text, protocol, numbering as JSON text or NULL, grading
    created at), by patient, study, grading and version.

    Dates, times and endplates come as text, to be parsed in bulk rather than row by row. The rows are
    sorted here: the database's sort would move every row's endplates text with it (more than a
    second for 100,000 versions on SQLite), Python sorts only references.
    """
    rows = list(session.connection().execute(_VERSIONS))
    rows.sort(key=_version_order)
    return rows


COUNTING_CONTEXT = (
    col(Grading.rater_id),
    cast(col(GradingVersion.at), String),
    col(GradingVersion.protocol),
    cast(col(GradingVersion.numbering), String),
)
"""What the wide export adds to the grading that counts: its rater id, and its current version's time
(the database's text, UTC), protocol and numbering (JSON text or NULL)."""


def counting_in_context(session: Session) -> dict[str, tuple[CountingGrading, tuple[Any, ...]]]:
    """Per patient with a clinical grading: the grading that counts and its :data:`COUNTING_CONTEXT`."""
    return eligibility_repo.counting_gradings_with(session, *COUNTING_CONTEXT)


def pseudonyms(session: Session) -> dict[str, str]:
    """Patient id to pseudonym."""
    return {
        patient_id: pseudonym
        for patient_id, pseudonym in session.execute(sa_select(col(Patient.id), col(Patient.pseudonym)))
    }


def decisions(session: Session, trial: str, rule_version: str) -> list[EligibilityDecision]:
    """The current decisions of one rule set, by patient id."""
    statement = (
        sa_select(EligibilityDecision)
        .where(col(EligibilityDecision.trial) == trial, col(EligibilityDecision.rule_version) == rule_version)
        .order_by(col(EligibilityDecision.patient_id))
    )
    return list(session.scalars(statement))


def graded_images(session: Session, series_ids: list[str]) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """Per series (in the order given): its Series Instance UID and (SOP Class UID, SOP Instance UID)
    of each image, in slice order, once per instance (a multi-frame image has several rows)."""
    result = []
    for series_id in series_ids:
        series = session.get(Series, series_id)
        if series is None:
            continue
        rows = session.execute(
            sa_select(col(Instance.sop_instance_uid), col(Instance.header))
            .where(col(Instance.series_id) == series_id)
            .order_by(col(Instance.slice_index))
        )
        images: dict[str, str] = {}
        for sop_instance_uid, header in rows:
            images.setdefault(sop_instance_uid, header.get("sop_class_uid") or MR_IMAGE_STORAGE)
        result.append((series.series_instance_uid, tuple((c, i) for i, c in images.items())))
    return result
