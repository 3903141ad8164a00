"""A column table of export variables and its writers: CSV, Stata ``.dta`` and Parquet.

Categorical values are held as their integer codes (``-1`` = missing). CSV writes their labels,
Parquet a dictionary (an R factor) of the labels, Stata the codes with value labels attached;
every format carries the variable labels it can hold.
"""

from __future__ import annotations

import datetime as dt
import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from pandas.io import stata as stata_io
from pandas.io.stata import StataWriterUTF8

from registry.exports.codebook import Kind, Variable

MISSING = -1
"""The code of a missing categorical value."""


@dataclass(frozen=True)
class Column:
    """The values of one variable: integer codes for categorical variables, else plain values.

    Text values are ``str`` or ``None``; dates ``datetime64[D]`` and timestamps ``datetime64[us]`` in
    UTC (NaT = missing); numbers floats (NaN = missing). :func:`dates` and :func:`timestamps` make them.
    """

    variable: Variable
    values: np.ndarray[Any, Any]

    def __post_init__(self) -> None:
        if self.values.ndim != 1:
            raise ValueError(f"column {self.variable.name}: values must be one-dimensional")


@dataclass(frozen=True)
class Table:
    """Columns of equal length, in export order."""

    columns: tuple[Column, ...]

    def __post_init__(self) -> None:
        lengths = {len(c.values) for c in self.columns}
        if len(lengths) > 1:
            raise ValueError(f"columns differ in length: {sorted(lengths)}")
        names = [c.variable.name for c in self.columns]
        stata = {c.variable.stata_name for c in self.columns}
        if len(set(names)) != len(names) or len(stata) != len(names):
            raise ValueError(f"column names (and their 32-character Stata forms) must be distinct: {names}")

    @property
    def variables(self) -> tuple[Variable, ...]:
        return tuple(c.variable for c in self.columns)

    def __len__(self) -> int:
        return len(self.columns[0].values) if self.columns else 0


def text_column(variable: Variable, values: Sequence[str | None]) -> Column:
    return Column(variable, np.array(values, dtype=object))


def dates_from_text(values: Sequence[str | None]) -> np.ndarray[Any, Any]:
    """ISO dates as the database returns them as text, parsed at once (None → NaT)."""
    return np.array(pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601")).astype("datetime64[D]")


def timestamps_from_text(values: Sequence[str | None]) -> np.ndarray[Any, Any]:
    """Timestamps as the database returns them as text (UTC, with or without an offset), parsed at once."""
    parsed = pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601", utc=True)
    return np.array(parsed.dt.tz_localize(None)).astype("datetime64[us]")


def _arrow(table: Table) -> pa.Table:
    """Categoricals as dictionaries of their labels, dates as dates, timestamps in UTC, missing as null."""
    arrays: list[pa.Array] = []
    for column in table.columns:
        variable, values = column.variable, column.values
        if variable.vocabulary is not None:
            categories = variable.vocabulary.categories
            position = np.full(max(c.code for c in categories) + 1, MISSING, dtype=np.int16)
            for i, category in enumerate(categories):
                position[category.code] = i
            missing = values < 0
            indices = pa.array(position[np.maximum(values, 0)], type=pa.int16(), mask=missing)
            arrays.append(pa.DictionaryArray.from_arrays(indices, [c.label for c in categories]))
        elif variable.kind is Kind.DATETIME:
            arrays.append(pa.array(values, type=pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC")))
        elif variable.kind is Kind.INTEGER:
            numbers = values.astype(np.float64)
            missing = np.isnan(numbers)
            arrays.append(pa.array(np.where(missing, 0, numbers).astype(np.int64), mask=missing))
        elif variable.kind is Kind.TEXT:
            arrays.append(pa.array(values, type=pa.string()))
        else:
            arrays.append(pa.array(values, from_pandas=True))
    fields = [
        pa.field(c.variable.name, a.type, metadata={"label": c.variable.label})
        for c, a in zip(table.columns, arrays, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def dates(values: Sequence[dt.date | None]) -> np.ndarray[Any, Any]:
    """Dates as a ``datetime64[D]`` column (None → NaT)."""
    return np.array(values, dtype="datetime64[D]")  # numpy reads dates and None (NaT) in one pass


def timestamps(values: Sequence[dt.datetime | None]) -> np.ndarray[Any, Any]:
    """UTC-aware datetimes as a ``datetime64[us]`` column in UTC (None → NaT)."""
    return np.array(
        [
            np.datetime64("NaT") if v is None else np.datetime64(v.astimezone(dt.UTC).replace(tzinfo=None), "us")
            for v in values
        ],
        dtype="datetime64[us]",
    )


def _timestamp_text(values: np.ndarray[Any, Any]) -> pa.Array:
    """UTC timestamps as CSV text, ``YYYY-MM-DD HH:MM:SS.ffffffZ`` (Arrow's own format for them; missing
    empty), each distinct value formatted once: Arrow formats a zoned timestamp slowly, and the long
    export repeats each version's time once per endplate."""
    distinct, inverse = np.unique(values, return_inverse=True)
    text = np.char.add(np.char.replace(np.datetime_as_string(distinct, unit="us"), "T", " "), "Z")
    indices = pa.array(inverse.reshape(-1).astype(np.int32), mask=np.isnat(values))
    return pa.DictionaryArray.from_arrays(indices, pa.array(text, type=pa.string()))


def to_csv(table: Table) -> bytes:
    """UTF-8 CSV with a header row; categorical values as their labels, dates ISO 8601, missing empty."""
    arrow = _arrow(table)
    for i, column in enumerate(table.columns):
        if column.variable.kind is Kind.DATETIME:
            arrow = arrow.set_column(i, column.variable.name, _timestamp_text(column.values))
    # The CSV writer takes plain strings, not dictionaries.
    arrow = arrow.cast(
        pa.schema([pa.field(f.name, pa.string()) if pa.types.is_dictionary(f.type) else f for f in arrow.schema])
    )
    sink = io.BytesIO()
    pa_csv.write_csv(arrow, sink, pa_csv.WriteOptions(quoting_style="needed"))
    return sink.getvalue()


def to_parquet(table: Table) -> bytes:
    """Parquet: categorical values as dictionaries of their labels (R factors), each field's label in its metadata."""
    sink = io.BytesIO()
    pq.write_table(_arrow(table), sink)
    return sink.getvalue()


def to_stata(table: Table) -> bytes:
    """Stata 14+ ``.dta`` (format 118): categorical values as integers with value labels, variable
    labels on every variable, dates as ``%td`` and timestamps as ``%tc`` (UTC)."""
    data: dict[str, Any] = {}
    value_labels: dict[str, dict[float, str]] = {}
    dates: dict[str, str] = {}
    texts: dict[str, _Text] = {}
    for column in table.columns:
        variable, values = column.variable, column.values
        name = variable.stata_name
        if variable.vocabulary is not None:
            missing = values < 0
            data[name] = np.where(missing, np.nan, values) if missing.any() else values.astype(np.int8)
            value_labels[name] = {float(k): v for k, v in variable.vocabulary.labels.items()}
        elif variable.kind is Kind.TEXT:
            text = texts[name] = _Text.of(values)
            data[name] = text.values()
        elif variable.kind in (Kind.DATE, Kind.DATETIME):
            data[name] = values.astype("datetime64[ns]")
            dates[name] = "td" if variable.kind is Kind.DATE else "tc"
        elif variable.kind is Kind.INTEGER and not np.isnan(values.astype(np.float64)).any():
            data[name] = values.astype(np.int64)
        else:
            data[name] = values
    sink = io.BytesIO()
    _StataWriter(
        texts,
        sink,
        pd.DataFrame(data, copy=False),
        convert_dates=dates,
        write_index=False,
        variable_labels={c.variable.stata_name: c.variable.label[:80] for c in table.columns},
        version=118,
        value_labels=value_labels,
    ).write_file()
    return sink.getvalue()


@dataclass(frozen=True)
class _Text:
    """A text column as its distinct values and one index per row (missing → empty): a column repeats
    its values (the long export, 11 rows per version), and each distinct one is encoded once."""

    codes: np.ndarray[Any, Any]
    distinct: np.ndarray[Any, Any]
    """The distinct values (``str`` objects)."""

    @classmethod
    def of(cls, values: np.ndarray[Any, Any]) -> _Text:
        codes, distinct = pd.factorize(values)  # None → -1
        distinct = np.asarray(distinct, dtype=object)
        if len(codes) and codes.min() < 0:
            distinct = np.append(distinct, "")
            codes = np.where(codes < 0, len(distinct) - 1, codes)
        return cls(codes, distinct)

    def values(self) -> np.ndarray[Any, Any]:
        """The column as an object array (references to the distinct values)."""
        values: np.ndarray[Any, Any] = self.distinct[self.codes]
        return values

    def encoded(self) -> np.ndarray[Any, Any]:
        """The distinct values as UTF-8, fixed width (``S``)."""
        text = self.distinct.astype(str) if len(self.distinct) else np.array([], dtype="U1")
        try:
            return text.astype(bytes)  # ASCII (identifiers, pseudonyms): one C-level pass
        except UnicodeEncodeError:
            return np.char.encode(text, "utf-8")


class _StataWriter(StataWriterUTF8):  # type: ignore[misc]
    """pandas' Stata 118 writer, with its text columns encoded and padded by numpy, each distinct value
    once, instead of one Python call per value (which costs seconds per million strings).

    The two methods replaced are pandas' own (``_encode_strings``, ``_prepare_data`` of pandas 2.x)
    with only the string handling vectorised; the read-back tests hold the result to ``read_stata``.
    """

    def __init__(self, texts: dict[str, _Text], *args: Any, **kwargs: Any) -> None:
        self._texts = texts
        self._encoded: dict[str, np.ndarray[Any, Any]] = {}
        """The encoded distinct values of each text column written as a fixed-width string."""
        super().__init__(*args, **kwargs)

    def _encode_strings(self) -> None:
        for col in self.data:
            text = self._texts.get(col)
            if text is None or not len(self.data[col]):
                continue
            encoded = text.encoded()
            if encoded.dtype.itemsize <= self._max_string_length:
                self._encoded[col] = encoded
                # pandas sizes the column from these values (references to the distinct ones).
                self.data[col] = pd.Series(encoded.astype(object)[text.codes], index=self.data.index, name=col)

    def _prepare_data(self) -> np.recarray[Any, Any]:
        data = self.data
        for i, col in enumerate(data):
            if i in self._convert_dates:
                data[col] = stata_io._datetime_to_stata_elapsed_vec(data[col], self.fmtlist[i])
        data = self._convert_strls(data)
        native = self._byteorder == stata_io._set_endianness(sys.byteorder)
        arrays, dtypes = [], []
        for i, col in enumerate(data):
            typ = self.typlist[i]
            if typ <= self._max_string_length:
                if col in self._encoded:
                    arrays.append(self._encoded[col].astype(f"S{typ}")[self._texts[col].codes])
                else:
                    arrays.append(data[col].fillna(b"").to_numpy(dtype=object).astype(f"S{typ}"))
                dtypes.append((str(col), f"S{typ}"))
            else:
                values = data[col].to_numpy()
                dtype = values.dtype if native else values.dtype.newbyteorder(self._byteorder)
                arrays.append(values.astype(dtype))
                dtypes.append((str(col), dtype))
        return np.rec.fromarrays(arrays, dtype=dtypes)
