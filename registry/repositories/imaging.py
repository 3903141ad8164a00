"""Queries on image instances and the series they are placed in; the JSON shape of a stored header.

An instance row keeps the values of :class:`grading.series.InstanceHeader` (none identifies the
patient) so that a study can be re-classified when more of its images arrive; this module is the only
one that turns that JSON back into a header.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import TextClause, bindparam, text, update
from sqlmodel import Session, col, select

from grading.series import InstanceHeader
from registry.models import Instance, Series, Study
from registry.models.base import new_ids

InstanceKey = tuple[str, int]
"""An image of a study: its SOP Instance UID and frame index."""

Placement = tuple[str | None, int | None]
"""Where an image goes: its series id and slice index, ``(None, None)`` when no stack holds it."""

_HEADER_FIELDS = tuple(f.name for f in dataclasses.fields(InstanceHeader))
_TUPLE_FIELDS = frozenset(f.name for f in dataclasses.fields(InstanceHeader) if "tuple" in str(f.type))


def header_to_json(header: InstanceHeader) -> dict[str, Any]:
    """The header as JSON values (tuples become lists)."""
    values = (getattr(header, name) for name in _HEADER_FIELDS)
    return {name: list(v) if isinstance(v, tuple) else v for name, v in zip(_HEADER_FIELDS, values, strict=True)}


def header_from_json(data: Mapping[str, Any]) -> InstanceHeader:
    """The header stored by :func:`header_to_json` (keys it does not know are ignored)."""
    values: dict[str, Any] = {
        k: tuple(v) if k in _TUPLE_FIELDS and isinstance(v, list) else v for k, v in data.items() if k in _HEADER_FIELDS
    }
    return InstanceHeader(**values)


@dataclass(frozen=True)
class StoredInstance:
    """An image already recorded for a study, with its header and where it is placed."""

    id: str
    key: InstanceKey
    placement: Placement
    header: InstanceHeader


@dataclass(frozen=True)
class NewInstance:
    """An image to record: its header and the transfer syntax of its file."""

    header: InstanceHeader
    transfer_syntax_uid: str


def study_by_uid_for_update(session: Session, study_instance_uid: str) -> Study | None:
    """The study with this StudyInstanceUID, its row locked until the transaction ends on PostgreSQL
    (SQLite has one writer at a time anyway)."""
    statement = select(Study).where(Study.study_instance_uid == study_instance_uid)
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    return session.exec(statement).first()


def instances_of_study(session: Session, study_id: str) -> dict[InstanceKey, StoredInstance]:
    """Every image recorded for a study, by key."""
    rows = session.execute(
        select(
            Instance.id,  # type: ignore[call-overload]
            Instance.sop_instance_uid,
            Instance.frame_index,
            Instance.series_id,
            Instance.slice_index,
            Instance.header,
        ).where(Instance.study_id == study_id)
    ).all()
    return {
        (row.sop_instance_uid, row.frame_index): StoredInstance(
            row.id,
            (row.sop_instance_uid, row.frame_index),
            (row.series_id, row.slice_index),
            header_from_json(row.header),
        )
        for row in rows
    }


def move_instance(session: Session, instance_id: str, placement: Placement) -> None:
    """Place a recorded image in another series or slice (or in none)."""
    session.execute(
        update(Instance).where(col(Instance.id) == instance_id).values(series_id=placement[0], slice_index=placement[1])
    )


_INSTANCES = Instance.__table__  # type: ignore[attr-defined]
ROWS_PER_INSERT = 100
"""Images recorded by one multi-row INSERT (9 values each: 900, below the 999 bound parameters older SQLite
allows a statement). One statement instead of one execution per row: on SQLite, each execution gives up
the interpreter lock and has to win it back from the threads retrieving images."""


def add_instances(
    session: Session,
    study_id: str,
    instances: Iterable[tuple[NewInstance, Placement]],
    now: dt.datetime,
) -> None:
    """Record new images of a study, each with its placement, in one statement per :data:`ROWS_PER_INSERT`."""
    pending = list(instances)
    values = [
        {
            "id": record_id,
            "study_id": study_id,
            "sop_instance_uid": new.header.sop_instance_uid,
            "frame_index": new.header.frame_index,
            "series_id": placement[0],
            "slice_index": placement[1],
            "transfer_syntax_uid": new.transfer_syntax_uid[:64],
            "header": header_to_json(new.header),
            "created_at": now,
        }
        for record_id, (new, placement) in zip(new_ids(len(pending)), pending, strict=True)
    ]
    connection = session.connection()
    for start in range(0, len(values), ROWS_PER_INSERT):
        rows = values[start : start + ROWS_PER_INSERT]
        parameters = {f"{name}_{index}": value for index, row in enumerate(rows) for name, value in row.items()}
        connection.execute(_insert_rows(len(rows)), parameters)


_INSTANCE_COLUMNS = (
    *("id", "study_id", "sop_instance_uid", "frame_index", "series_id", "slice_index"),
    *("transfer_syntax_uid", "header", "created_at"),
)


@functools.lru_cache(maxsize=64)
def _insert_rows(count: int) -> TextClause:
    """An INSERT of ``count`` instance rows whose values are named parameters (``id_0``, ``header_0``, ...)
    typed as their columns: a textual statement, because SQLAlchemy does not cache the compiled form of a
    multi-row ``insert().values()``, while this one is compiled once per row count."""
    names = ", ".join(_INSTANCE_COLUMNS)
    rows = ", ".join("(" + ", ".join(f":{c}_{i}" for c in _INSTANCE_COLUMNS) + ")" for i in range(count))
    typed = [bindparam(f"{c}_{i}", type_=_INSTANCES.c[c].type) for i in range(count) for c in _INSTANCE_COLUMNS]
    return text(f"INSERT INTO {_INSTANCES.name} ({names}) VALUES {rows}").bindparams(*typed)


def series_of_study(session: Session, study_id: str) -> list[Series]:
    """The series rows of one study."""
    return list(session.exec(select(Series).where(Series.study_id == study_id)))


def series_with_study_uid(session: Session, series_id: str) -> tuple[Series, str] | None:
    """A series and the StudyInstanceUID of its study, in one query."""
    statement = (
        select(Series, Study.study_instance_uid)
        .join(Study, col(Study.id) == col(Series.study_id))
        .where(Series.id == series_id)
    )
    row = session.exec(statement).first()
    return None if row is None else (row[0], row[1])


def instance_at(session: Session, series_id: str, slice_index: int) -> Instance | None:
    """The image at one slice position of a series."""
    return session.exec(
        select(Instance).where(Instance.series_id == series_id, col(Instance.slice_index) == slice_index)
    ).first()


def headers_of_series(session: Session, series_id: str) -> Sequence[tuple[int | None, InstanceHeader]]:
    """The slice index and header of every image of a series, in slice order."""
    rows = session.exec(
        select(Instance).where(Instance.series_id == series_id).order_by(col(Instance.slice_index))
    ).all()
    return [(row.slice_index, header_from_json(row.header)) for row in rows]
