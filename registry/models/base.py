"""Column types and helpers shared by the tables."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, TypeVar

from sqlalchemy import DateTime, String
from sqlalchemy.types import TypeDecorator

from registry.records import as_utc
from registry.records import new_id as new_id  # re-exported: registry.models.base.new_id
from registry.records import new_ids as new_ids
from registry.records import utcnow as utcnow


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as UTC and always returned UTC-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


E = TypeVar("E", bound=enum.StrEnum)


class EnumText(TypeDecorator[E]):
    """A closed vocabulary in a text column: its members' values are stored (the column stays a plain
    ``VARCHAR``, so no migration and no database enum type), and rows are read back as members."""

    impl = String
    cache_ok = True

    def __init__(self, enum_type: type[E], length: int):
        super().__init__(length)
        self.enum_type = enum_type

    def process_bind_param(self, value: E | str | None, dialect: Any) -> str | None:
        # A member, or its value (e.g. in a filter); anything else is refused with the allowed values.
        return None if value is None else str(self._member(value).value)

    def process_result_value(self, value: str | None, dialect: Any) -> E | None:
        return None if value is None else self._member(value)

    def _member(self, value: object) -> E:
        try:
            return self.enum_type(str(value))
        except ValueError:
            allowed = ", ".join(m.value for m in self.enum_type)
            raise ValueError(f"{self.enum_type.__name__} {value!r} is unknown; allowed: {allowed}") from None
