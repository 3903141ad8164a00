"""A reliability study's raw reads and the raters' case orders, for re-analysis elsewhere (docs/agreement.md#raw-reads).

Patients appear by pseudonym, raters by rater pseudonym; no hospital id, name, study date, DICOM UID,
registry id or free-text note. A case is named by its read-1 label (``case``); ``read_label`` is the
label the rater saw on that read.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import pandas as pd
from sqlmodel import Session

from grading.protocols import get_protocol
from registry.errors import NotFound
from registry.exports.raters import rater_pseudonym
from registry.models import Grading, OrderScheme, Patient, ReliabilityStudy, Study
from registry.repositories import gradings as gradings_repo
from registry.repositories import reliability as repo

READ_FIELDS: tuple[str, ...] = ("type", "size", "extension_pct", "not_assessable")
"""The per-endplate values of a read, before the protocol's own variables."""

KEYS: tuple[str, ...] = ("case", "patient", "endplate")
"""What identifies a row of the wide form."""


class ReadsShape(enum.Enum):
    """The layout of the reads export."""

    long = "long"
    """One row per case × rater × read × endplate."""
    wide = "wide"
    """One row per case × endplate; each rater's read in its own columns, ``<field>_<rater>_r<read>``."""


@dataclass(frozen=True)
class StudyReads:
    """Every done read of a study (long) and every planned read's position (the orders)."""

    reads: pd.DataFrame
    orders: pd.DataFrame
    fields: tuple[str, ...]


def study_reads(session: Session, study_id: str) -> StudyReads:
    """The raw reads and the orders of reliability study ``study_id``."""
    study = session.get(ReliabilityStudy, study_id)
    if study is None:
        raise NotFound(f"reliability study {study_id!r} does not exist")
    protocol = get_protocol(study.protocol)
    extras = tuple(v.name for v in protocol.extra_variables)
    cases = {c.id: c for c in repo.cases_of(session, study.id)}
    pseudonyms: dict[str, str] = {}
    for case in cases.values():
        registry_study = session.get(Study, case.study_id)
        patient = None if registry_study is None else session.get(Patient, registry_study.patient_id)
        pseudonyms[case.id] = "" if patient is None else patient.pseudonym
    derivable = study.order_scheme == OrderScheme.sha256.value
    reads: list[dict[str, object]] = []
    orders: list[dict[str, object]] = []
    for item in repo.items_of(session, study.id):
        case = cases[item.case_id]
        rater = rater_pseudonym(item.rater_id)
        common = {
            "case": case.label,
            "read_label": case.label_of(item.read),
            "patient": pseudonyms[case.id],
            "rater": rater,
            "read": item.read,
            "position": item.position,
        }
        done = item.grading_id is not None
        scheme = study.order_scheme
        orders.append({**common, "done": done, "seed": study.seed, "order_scheme": scheme, "derivable": derivable})
        if item.grading_id is None:
            continue
        grading = session.get(Grading, item.grading_id)
        assert grading is not None
        version = gradings_repo.version_of(session, grading.id, grading.current_version)
        assert version is not None
        for g in protocol.parse(version.endplates).endplates:
            row: dict[str, object] = {
                **common,
                "endplate": g.endplate.value,
                "type": None if g.type is None else str(g.type),
                "size": None if g.size is None else g.size.value,
                "extension_pct": g.extension_pct,
                "not_assessable": None if g.not_assessable is None else g.not_assessable.value,
            }
            row.update({name: g.variable(name) for name in extras})
            row.update({"series_viewed": item.series_viewed, "read_at": item.completed_at})
            reads.append(row)
    fields = READ_FIELDS + extras
    columns = ["case", "read_label", "patient", "rater", "read", "position", "endplate", *fields]
    frame = pd.DataFrame(reads, columns=[*columns, "series_viewed", "read_at"])
    order_columns = ["rater", "read", "position", "case", "read_label", "patient", "done", "seed", "order_scheme",
                     "derivable"]  # fmt: skip
    order_frame = pd.DataFrame(orders, columns=order_columns).sort_values(["rater", "read", "position"])
    return StudyReads(frame, order_frame.reset_index(drop=True), fields)


def reads_wide(reads: StudyReads) -> pd.DataFrame:
    """One row per case × endplate; for each rater and read its values, read label, position, series
    and time, in columns ``<field>_<rater pseudonym without the dash>_r<read>``."""
    frame = reads.reads
    values = [*reads.fields, "read_label", "position", "series_viewed", "read_at"]
    if frame.empty:
        return pd.DataFrame(columns=list(KEYS))
    wide = frame.pivot(index=list(KEYS), columns=["rater", "read"], values=values)
    wide.columns = [f"{field}_{rater.replace('-', '')}_r{read}" for field, rater, read in wide.columns]
    ordered = sorted(wide.columns, key=lambda name: (name.rsplit("_", 2)[1:], values.index(name.rsplit("_", 2)[0])))
    return wide[ordered].reset_index()


def to_csv(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV with a header row; missing values empty, timestamps ISO 8601 in UTC."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]) or column.startswith("read_at"):
            out[column] = [_iso(v) for v in out[column]]
    text: str = out.to_csv(index=False, lineterminator="\n")
    return text.encode()


def _iso(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return ""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return str(stamp.tz_convert("UTC").isoformat().replace("+00:00", "Z"))
