"""Queries of the exports: every grading version, current versions, pseudonyms, decisions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from registry.models import EligibilityDecision, Grading, GradingVersion, Instance, Patient, Series, Study
from registry.repositories.gradings import CURRENT_VERSION

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
"""The SOP class assumed for an image whose header did not record one."""

_VERSIONS = (
    sa_select(
        col(Patient.pseudonym),
        col(Study.id),
        cast(col(Study.study_date), String),
        col(Grading.id),
        col(Grading.kind),
        col(Grading.rater_id),
        col(GradingVersion.version),
        cast(col(GradingVersion.at), String),
        cast(col(GradingVersion.endplates), String),
        col(GradingVersion.protocol),
        cast(col(GradingVersion.numbering), String),
    )
    .join(Grading, col(GradingVersion.grading_id) == col(Grading.id))
    .join(Study, col(Grading.study_id) == col(Study.id))
    .join(Patient, col(Study.patient_id) == col(Patient.id))
    .order_by(
        col(Patient.pseudonym),
        col(Study.study_date),
        col(Study.id),
        col(Grading.created_at),
        col(Grading.id),
        col(GradingVersion.version),
    )
)


def grading_versions(session: Session) -> list[Any]:
    """Every version of every grading: (pseudonym, study id, study date, grading id, kind, rater id,
    version, recorded at, endplates as JSON text, protocol, numbering as JSON text or NULL), by
    patient, study, grading and version.

    Dates, times and endplates come as text, to be parsed in bulk rather than row by row.
    """
    return list(session.connection().execute(_VERSIONS))


_CURRENT = sa_select(
    col(Grading.id),
    col(Grading.rater_id),
    col(GradingVersion.at),
    col(GradingVersion.protocol),
    col(GradingVersion.numbering),
).join(GradingVersion, CURRENT_VERSION)


@dataclass(frozen=True)
class CurrentVersion:
    """Who a grading belongs to and what its current version was recorded with."""

    rater_id: str
    at: dt.datetime
    protocol: str
    numbering: dict[str, Any] | None


def current_version_contexts(session: Session) -> dict[str, CurrentVersion]:
    """Grading id to its rater and its current version's time, protocol and numbering."""
    return {row[0]: CurrentVersion(*row[1:]) for row in session.execute(_CURRENT)}


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
