"""Parsing and validating a ratings matrix: units (rows) × raters (columns) of category labels.

The contract (``docs/contract.md#python-api``): a sequence of units, each a sequence
of one rating per rater; ``None`` or NaN is a missing rating; labels are ``str`` or ``int``;
``categories=`` gives the full ordered category list, otherwise the sorted observed labels. An
explicit category list keeps unused categories on the scale (weights are defined on category
positions), and missing ratings are never turned into a category.

Forms accepted: nested lists, numpy integer / float (NaN missing) / ``str`` / ``bytes`` / object
arrays, and pandas DataFrames (one column per rater; ``None``, NaN and ``pd.NA`` missing). Labels are
coded with whole-array numpy operations (``str`` arrays) or one C-level hashing pass (object arrays and
lists), never by a Python loop over the ratings; the type of a label is kept, so ``1``, ``"1"`` and
``True`` never fall together (bools are refused).
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Union

import numpy as np
import numpy.typing as npt

from grading.errors import GradingError

Label = str | int
"""A category label: a string or an integer (bools are refused)."""

Clusters = Union[Sequence[object], npt.NDArray[Any], "ParsedClusters"]
"""One cluster (patient) label per unit: any hashable labels, an integer array (the fast form), or
:class:`ParsedClusters` (parsed once and shared by the statistics of one comparison)."""

MISSING = -1
"""The code of a missing rating in :attr:`RatingsMatrix.codes`."""

_DENSE_INT_RANGE = 1 << 20


class AgreementInputError(GradingError):
    """Ratings, categories, weights or clusters that cannot be used to compute agreement."""


@dataclass(frozen=True, eq=False)
class RatingsMatrix:
    """Ratings coded as category positions: ``codes[unit, rater]`` in ``0..q-1``, ``-1`` when missing."""

    codes: npt.NDArray[np.intp]
    categories: tuple[Label, ...]

    @property
    def n_units(self) -> int:
        """Number of rows (units), including units with missing ratings."""
        return int(self.codes.shape[0])

    @property
    def n_raters(self) -> int:
        """Number of columns (raters)."""
        return int(self.codes.shape[1])

    @property
    def q(self) -> int:
        """Number of categories on the scale (used or not)."""
        return len(self.categories)

    @cached_property
    def row_patterns(self) -> npt.NDArray[np.intp]:
        """Each unit's number among the distinct rows of ``codes``, numbered in order of first appearance.

        Every per-unit quantity of a statistic is a function of the unit's row, so the units of one
        number can be counted together: the bootstrap of every statistic on this matrix then resamples
        one table of counts per cluster (:func:`grading.agreement.result.pattern_sums`). Read-only.
        """
        codes = self.codes
        if codes.shape[1] == 0:
            return np.zeros(codes.shape[0], dtype=np.intp)
        base = self.q + 1
        if base ** codes.shape[1] < 1 << 62:
            radix = base ** np.arange(codes.shape[1], dtype=np.int64)
            keys = (codes.astype(np.int64) + 1) @ radix
        else:
            keys = np.unique(codes, axis=0, return_inverse=True)[1].reshape(-1)
        patterns, _ = first_appearance_numbers(keys)
        patterns.setflags(write=False)
        return patterns

    @cached_property
    def memo(self) -> dict[object, Any]:
        """What the statistics computed on this matrix share (functions of its read-only codes)."""
        return {}

    def counts(self) -> npt.NDArray[np.float64]:
        """``r[i, k]``: how many raters put unit ``i`` in category ``k`` (units × q; read-only, computed once)."""
        return self._counts

    @cached_property
    def _counts(self) -> npt.NDArray[np.float64]:
        flat = _row_offsets(self.n_units, self.n_raters, self.q)
        flat += self.codes.reshape(-1)
        if self.codes.size and int(self.codes.min()) < 0:
            flat = flat[self.codes.reshape(-1) >= 0]
        counts = np.bincount(flat, minlength=self.n_units * self.q).reshape(self.n_units, self.q).astype(np.float64)
        counts.setflags(write=False)
        return counts


def _row_offsets(n_units: int, n_raters: int, q: int) -> npt.NDArray[np.intp]:
    """``unit * q`` for each rating of a units × raters matrix read row by row (a fresh array): added to
    the ratings' category positions, one ``bincount`` counts every unit's categories. (``np.repeat``
    then an in-place add is several times faster than broadcasting over the narrow rows.)"""
    return np.repeat(np.arange(n_units, dtype=np.intp) * q, n_raters)


def first_appearance_numbers(
    keys: npt.NDArray[np.integer[Any]],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Each key's number among the distinct keys in order of first appearance, and where each number
    first appears; a look-up table over the keys' range when it is narrow, else ``np.unique`` first."""
    n = keys.size
    if n == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    low = int(keys.min())
    span = int(keys.max()) - low + 1
    if span > max(4 * n, 1024):
        keys = np.unique(keys, return_inverse=True)[1].reshape(-1)
        low, span = 0, int(keys.max()) + 1
    shifted = (keys - low).astype(np.intp, copy=False)
    first = np.full(span, n, dtype=np.intp)
    np.minimum.at(first, shifted, np.arange(n, dtype=np.intp))
    present = np.flatnonzero(first < n)
    order = np.argsort(first[present], kind="stable")
    number = np.empty(span, dtype=np.intp)
    number[present[order]] = np.arange(present.size, dtype=np.intp)
    numbers: npt.NDArray[np.intp] = number[shifted]
    return numbers, first[present[order]]


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(float(value))
    return False


def _as_label(value: object, where: str) -> Label:
    """One rating as a label; integral floats become ints (data read with NaN for missing)."""
    if isinstance(value, bool | np.bool_):
        raise AgreementInputError(f"rating {value!r} at {where} is a bool; allowed: str or int category labels")
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode()
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isfinite(number) and number.is_integer():
            return int(number)
    raise AgreementInputError(
        f"rating {value!r} at {where} is not a category label; allowed: str or int labels, None or NaN for missing"
    )


def _sort_labels(labels: set[Label]) -> tuple[Label, ...]:
    kinds = {type(label) for label in labels}
    if len(kinds) > 1:
        example_str = next(label for label in labels if isinstance(label, str))
        example_int = next(label for label in labels if isinstance(label, int))
        raise AgreementInputError(
            f"ratings mix str and int labels ({example_str!r} and {example_int!r}); "
            "use one kind or give categories= explicitly"
        )
    return tuple(sorted(labels))


def parse_categories(categories: Sequence[object] | None) -> tuple[Label, ...] | None:
    """Validate an explicit ordered category list: labels, no duplicates, at least one."""
    if categories is None:
        return None
    if isinstance(categories, str | bytes):
        raise AgreementInputError(f"categories must be a list of labels, got the string {categories!r}")
    parsed = tuple(_as_label(c, "categories") for c in categories)
    if not parsed:
        raise AgreementInputError("categories is empty; give at least one category label")
    seen: set[Label] = set()
    for label in parsed:
        if label in seen:
            raise AgreementInputError(f"category {label!r} appears twice in categories {list(parsed)!r}")
        seen.add(label)
    return parsed


def _codes_from_int_array(
    values: npt.NDArray[np.integer[Any]], categories: tuple[Label, ...] | None
) -> tuple[npt.NDArray[np.intp], tuple[Label, ...]]:
    """Fast path for integer arrays without missing ratings: O(n) through a lookup table."""
    if values.size == 0:
        return np.zeros(values.shape, dtype=np.intp), categories or ()
    low, high = int(values.min()), int(values.max())
    if categories is None:
        if high - low < _DENSE_INT_RANGE:
            present = np.flatnonzero(np.bincount((values - low).ravel(), minlength=high - low + 1)) + low
        else:
            present = np.unique(values)
        categories = tuple(int(v) for v in present)
    int_positions = {c: i for i, c in enumerate(categories) if isinstance(c, int)}
    if high - low < _DENSE_INT_RANGE:
        lookup = np.full(high - low + 1, MISSING, dtype=np.intp)
        for label, position in int_positions.items():
            if low <= label <= high:
                lookup[label - low] = position
        codes = lookup[values - low]
    else:
        keys = np.array(sorted(int_positions), dtype=np.int64)
        positions = np.array([int_positions[k] for k in keys], dtype=np.intp)
        found = np.searchsorted(keys, values)
        found = np.clip(found, 0, max(len(keys) - 1, 0))
        codes = (
            np.where(keys[found] == values, positions[found], MISSING)
            if len(keys)
            else np.full(values.shape, MISSING, dtype=np.intp)
        )
    bad = codes == MISSING
    if bad.any():
        unit, rater = (int(i) for i in np.argwhere(bad)[0])
        raise AgreementInputError(
            f"rating {int(values[unit, rater])!r} at unit {unit}, rater {rater} is not a category; "
            f"allowed: {list(categories)!r}"
        )
    return codes.astype(np.intp, copy=False), categories


def _as_array(ratings: object) -> npt.NDArray[Any]:
    """The ratings as a 2-D numpy array; lists become object arrays (``1``, ``"1"`` and ``True`` stay apart)."""
    if isinstance(ratings, np.ndarray):
        array = ratings
    elif hasattr(ratings, "to_numpy") and not isinstance(ratings, str | bytes):
        # a pandas DataFrame (one column per rater): its values, string columns as objects
        array = np.asarray(ratings.to_numpy())
    elif isinstance(ratings, Sequence) and not isinstance(ratings, str | bytes):
        rows = list(ratings)
        width = _uniform_width(rows)
        if width is not None:
            flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=object, count=len(rows) * width)
            array = flat.reshape(len(rows), width)
        else:
            array = _rows_to_array(rows)
    else:
        raise AgreementInputError(
            "ratings must be a sequence of units, each a sequence of one rating per rater; "
            f"got {type(ratings).__name__}"
        )
    if array.ndim != 2:
        raise AgreementInputError(f"ratings must be 2-D (units × raters), got an array with shape {array.shape}")
    return array


def _uniform_width(rows: list[Any]) -> int | None:
    """The common length of ``rows`` when every one is a sequence (not a string), else None.

    Rows that are all lists (or all tuples), the usual case, are checked in one pass: ``list.__len__``
    refuses anything that is not a list, so taking the lengths also checks the kind."""
    first = type(rows[0]) if rows else None
    if first is list or first is tuple:
        with contextlib.suppress(TypeError):  # a row of another kind: the general check below
            widths = set(map(first.__len__, rows))
            return widths.pop() if len(widths) == 1 else None
    row_kinds = set(map(type, rows))
    widths = set(map(len, rows)) if all(_is_row_kind(kind) for kind in row_kinds) else set()
    return widths.pop() if len(widths) == 1 else None


class Vocabulary(dict[Any, int]):
    """Labels numbered in order of first appearance; looking up a new label numbers it."""

    def __missing__(self, key: object) -> int:
        code = self[key] = len(self)
        return code


def _parse_text_rows(ratings: object, fixed: tuple[Label, ...] | None) -> RatingsMatrix | None:
    """The fast path of a list of rows of string labels (``None`` missing): None when it does not apply.

    One C-level pass (``map`` of a dict look-up over the chained rows) numbers the labels as they come;
    the few distinct ones are then sorted. Only when every distinct element is a ``str`` (or ``None``)
    is the result used: an element equal to a ``str`` is a ``str``, so ``1`` and ``True`` are never
    taken for labels here and go the checking path.
    """
    if not isinstance(ratings, list | tuple) or not ratings:
        return None
    rows = list(ratings)
    width = _uniform_width(rows)
    if not width or not all(isinstance(v, str) or v is None for v in rows[0]):
        return None
    vocabulary = Vocabulary()
    try:
        raw = np.fromiter(
            map(vocabulary.__getitem__, itertools.chain.from_iterable(rows)), dtype=np.intp, count=len(rows) * width
        )
    except TypeError:  # an unhashable element: the checking path names it
        return None
    if not all(isinstance(key, str) or key is None for key in vocabulary):
        return None
    labels = tuple(sorted(str(key) for key in vocabulary if key is not None))
    position = {label: i for i, label in enumerate(labels)}
    lookup = np.array([MISSING if key is None else position[str(key)] for key in vocabulary], dtype=np.intp)
    coded = lookup[raw]
    rated = coded != MISSING
    shape = (len(rows), width)
    complete = bool(rated.all())
    local = coded if complete else coded[rated]
    group = (None if complete else rated, local.astype(np.int64, copy=False), labels)
    codes, cats = _place_labels(raw.size, [group], fixed, shape)
    return RatingsMatrix(codes.reshape(shape), cats)


def _is_row_kind(kind: type) -> bool:
    return issubclass(kind, Sequence | np.ndarray) and not issubclass(kind, str | bytes)


def _rows_to_array(rows: list[Any]) -> npt.NDArray[Any]:
    """The slow, checking path of a list of rows: names the first row that is not one rating per rater."""
    widths = set()
    for index, row in enumerate(rows):
        if not isinstance(row, Sequence) or isinstance(row, str | bytes):
            raise AgreementInputError(f"unit {index} is {row!r}, not a sequence of ratings (one per rater)")
        widths.add(len(row))
    if len(widths) > 1:
        first = len(rows[0])
        odd = next(i for i, row in enumerate(rows) if len(row) != first)
        raise AgreementInputError(
            f"unit {odd} has {len(rows[odd])} ratings but unit 0 has {first}; "
            "every unit needs one entry per rater (None for missing)"
        )
    width = widths.pop() if widths else 0
    array = np.empty((len(rows), width), dtype=object)
    for index, row in enumerate(rows):
        array[index, :] = list(row) if width else []
    return array


def parse_ratings(ratings: object, categories: Sequence[object] | None = None) -> RatingsMatrix:
    """Turn a units × raters ratings matrix into category codes, validating everything up front.

    Accepts nested sequences, numpy arrays (integer, float with NaN, ``str``/``bytes`` or object) and
    pandas DataFrames (one column per rater). Labels are coded with numpy, never element by element in
    Python. Raises :class:`AgreementInputError` naming the first bad value (with its unit and rater)
    and the allowed ones.
    """
    fixed = parse_categories(categories)
    text_rows = _parse_text_rows(ratings, fixed)
    if text_rows is not None:
        return text_rows
    array = _as_array(ratings)
    if array.dtype.kind in "iu":
        codes, cats = _codes_from_int_array(array, fixed)
        return RatingsMatrix(codes, cats)
    if array.dtype.kind == "b":
        return _parse_object_array(array.astype(object), fixed)
    if array.dtype.kind == "f":
        missing = np.isnan(array)
        integral = np.isfinite(array) & (array == np.round(array))
        bad = ~missing & ~integral
        if bad.any():
            unit, rater = (int(i) for i in np.argwhere(bad)[0])
            raise AgreementInputError(
                f"rating {float(array[unit, rater])!r} at unit {unit}, rater {rater} is not a category label; "
                "allowed: str or int labels, None or NaN for missing"
            )
        if fixed is None:
            fixed = tuple(int(v) for v in np.unique(array[~missing]))
        fill = next((c for c in fixed if isinstance(c, int)), None)
        if fill is None or missing.all():
            if not missing.all():
                return _parse_object_array(array.astype(object), fixed)
            return RatingsMatrix(np.full(array.shape, MISSING, dtype=np.intp), fixed)
        as_int = np.where(missing, fill, array).astype(np.int64)
        codes, _ = _codes_from_int_array(as_int, fixed)
        codes[missing] = MISSING
        return RatingsMatrix(codes, fixed)
    if array.dtype.kind in "US":
        flat = array.ravel()
        inverse, labels = _code_strings(flat)
        codes, cats = _place_labels(flat.size, [(None, inverse, labels)], fixed, array.shape)
        return RatingsMatrix(codes.reshape(array.shape), cats)
    return _parse_object_array(array, fixed)


_SAMPLE = 4096
"""How many evenly spaced values guess the distinct values before every value is looked up."""


def _dense_rank(values: npt.NDArray[Any]) -> tuple[npt.NDArray[np.int64], int]:
    """Each value's rank among the distinct values (order kept) and the number of distinct values.

    The distinct values of an evenly spaced sample are sorted and every value is found by binary
    search; values the sample missed are added and searched again. With few distinct labels this is
    O(n log k) instead of the O(n log n) sort of ``np.unique``.
    """
    if values.size == 0:
        return np.zeros(0, dtype=np.int64), 0
    distinct = np.unique(values[:: max(1, values.size // _SAMPLE)])
    position = np.minimum(np.searchsorted(distinct, values), distinct.size - 1)
    found = distinct[position] == values
    if not found.all():
        distinct = np.union1d(distinct, values[~found])
        position = np.searchsorted(distinct, values)
    return position.astype(np.int64, copy=False), int(distinct.size)


def _code_strings(values: npt.NDArray[Any]) -> tuple[npt.NDArray[np.int64], tuple[str, ...]]:
    """Code a 1-D ``str`` (or ``bytes``) numpy array as positions in its sorted distinct labels.

    Labels of at most 8 characters, each below 256 (every Modic label), take :func:`_code_short_strings`;
    others are read as unsigned integers: characters (one byte each when every code point is below
    256, else four), packed big-endian into 64-bit words so that integer order is the strings'
    lexicographic order, i.e. Python's ``sorted`` order. The words are ranked one after the other and
    combined. Every step is a whole-array numpy operation.
    """
    n = values.size
    if n == 0:
        return np.zeros(0, dtype=np.int64), ()
    short = _code_short_strings(values)
    if short is not None:
        return short
    unit = 4 if values.dtype.kind == "U" else 1
    width = values.dtype.itemsize // unit
    characters = np.ascontiguousarray(values).view(np.uint32 if unit == 4 else np.uint8).reshape(n, width)
    if unit == 4 and width and int(characters.max()) < 256:
        characters, unit = characters.astype(np.uint8), 1
    big_endian = np.dtype(">u4") if unit == 4 else np.dtype("u1")
    per_word = 8 // unit
    words = -(-width // per_word)
    packed = np.zeros((n, max(words, 1) * per_word), dtype=big_endian)
    packed[:, :width] = characters
    keys = packed.view(np.dtype(">u8")).astype(np.uint64)
    code, distinct = _dense_rank(keys[:, 0])
    for word in range(1, keys.shape[1]):
        rank, word_distinct = _dense_rank(keys[:, word])
        if word_distinct > 1:
            code, distinct = _dense_rank(code * word_distinct + rank)
    first = np.empty(distinct, dtype=np.intp)
    first[code[::-1]] = np.arange(n - 1, -1, -1, dtype=np.intp)
    labels = tuple(_text(values[i]) for i in first)
    return code, labels


_FIBONACCI = np.uint64(0x9E3779B97F4A7C15)
"""2^64 divided by the golden ratio (odd): multiplying by it spreads keys over the high bits
(Knuth, TAOCP vol. 3, §6.4, multiplicative hashing)."""


def _code_short_strings(values: npt.NDArray[Any]) -> tuple[npt.NDArray[np.int64], tuple[str, ...]] | None:
    """:func:`_code_strings` for labels of at most 8 characters below 256 (None for other arrays).

    Each label's characters are its 8 bytes, so one 64-bit integer per label is the label itself
    (numpy pads a fixed-width string with NULs, which it also strips). The distinct keys of an evenly
    spaced sample get the slots of a small table, found by multiplicative hashing with as many bits as
    keep them apart. Every value is looked up in that table and checked against the key stored there:
    the check is exact, so a label the sample missed is found, added, and the look-up repeated.
    """
    n = values.size
    contiguous = np.ascontiguousarray(values)
    if values.dtype.kind == "U":
        width = values.dtype.itemsize // 4
        if width > 8 or (width and _widest_character(contiguous) >= 256):
            return None
        characters = contiguous.view(np.uint32).astype(np.uint8).reshape(n, width)
    else:
        width = values.dtype.itemsize
        if width > 8:
            return None
        characters = contiguous.view(np.uint8).reshape(n, width)
    if width == 8:
        packed = np.ascontiguousarray(characters)
    else:
        packed = np.zeros((n, 8), dtype=np.uint8)
        packed[:, :width] = characters
    keys = packed.view(np.uint64).reshape(n)
    distinct = np.unique(keys[:: max(1, n // _SAMPLE)])
    while True:
        bits = _table_bits(distinct)
        if bits is None:
            return None
        slots = _slots(keys, bits)
        # An empty slot holds a key that hashes elsewhere (0 goes to slot 0; 1 to a slot above it).
        table = np.zeros(1 << bits, dtype=np.uint64)
        table[0] = 1
        where = _slots(distinct, bits)
        table[where] = distinct
        found = table[slots] == keys
        if found.all():
            break
        distinct = np.union1d(distinct, keys[~found])
    raw = distinct.astype("<u8").view(np.uint8).reshape(-1, 8)
    texts = [bytes(row).rstrip(b"\0") for row in raw]
    decoded = [text.decode("latin-1") if values.dtype.kind == "U" else text.decode() for text in texts]
    order = sorted(range(len(decoded)), key=decoded.__getitem__)
    position = np.zeros(1 << bits, dtype=np.int64)
    position[where[order]] = np.arange(len(order), dtype=np.int64)
    codes: npt.NDArray[np.int64] = position[slots]
    return codes, tuple(decoded[i] for i in order)


def _slots(keys: npt.NDArray[np.uint64], bits: int) -> npt.NDArray[np.intp]:
    """The ``bits``-bit multiplicative hash (:data:`_FIBONACCI`) of each key: its slot in the table of
    :func:`_code_short_strings` (below ``2**bits``, so the unsigned result is read as an index without
    a cast)."""
    hashed = keys * _FIBONACCI
    hashed >>= np.uint64(64 - bits)
    slots: npt.NDArray[np.intp] = hashed.view(np.intp)
    return slots


_TABLE_BITS = 22
"""The largest look-up table :func:`_code_short_strings` builds (4 Mi slots); more distinct labels than
it can keep apart go the general path."""


def _widest_character(values: npt.NDArray[np.str_]) -> int:
    """An upper bound of the code points of a contiguous ``str`` array below 256 exactly when they all are
    (one OR over the characters, 64 bits at a time when the width allows)."""
    if values.dtype.itemsize % 8 == 0:
        bits = int(np.bitwise_or.reduce(values.view(np.uint64)))
        return max(bits & 0xFFFFFFFF, bits >> 32)
    return int(np.bitwise_or.reduce(values.view(np.uint32)))


def _table_bits(keys: npt.NDArray[np.uint64]) -> int | None:
    """The fewest bits of multiplicative hash (:data:`_FIBONACCI`) that give each of ``keys`` its own
    slot (at most :data:`_TABLE_BITS`), None when there are none."""
    bits = max(1, (int(keys.size) - 1).bit_length())
    while bits <= _TABLE_BITS:
        if np.unique(_slots(keys, bits)).size == keys.size:
            return bits
        bits += 1
    return None


def _is_text_or_missing(kind: type) -> bool:
    return issubclass(kind, str) or kind is type(None) or _is_pandas_missing(kind)


def _code_objects(
    values: npt.NDArray[Any], distinct: dict[Any, None] | None = None
) -> tuple[npt.NDArray[np.intp], tuple[str, ...]]:
    """Code a 1-D object array of Python strings (``None``/pandas ``NA`` allowed, coded ``-1``).

    One hashing pass collects the distinct objects (C-level; a string caches its hash), the few
    distinct labels are sorted, and one ``map`` over a dict look-up codes every element.
    """
    if distinct is None:
        distinct = dict.fromkeys(values)
    labels = tuple(sorted({str(key) for key in distinct if isinstance(key, str)}))
    position = {label: i for i, label in enumerate(labels)}
    lookup = {key: position[str(key)] if isinstance(key, str) else MISSING for key in distinct}
    return np.fromiter(map(lookup.__getitem__, values), dtype=np.intp, count=values.size), labels


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _place_labels(
    n: int,
    groups: list[tuple[npt.NDArray[np.bool_] | None, npt.NDArray[np.int64], tuple[Label, ...]]],
    fixed: tuple[Label, ...] | None,
    shape: tuple[int, ...],
) -> tuple[npt.NDArray[np.intp], tuple[Label, ...]]:
    """Codes on the scale from groups of coded labels (``mask``, local codes, the group's labels); a
    ``None`` mask (one group only) is every rating.

    The scale is ``fixed`` or the sorted observed labels (one kind only); a label off the scale, or of
    another kind than the scale's label (``1`` against ``"1"``), is refused at its first occurrence.
    """
    if fixed is None:
        observed = [label for _, _, labels in groups for label in labels]
        cats = _sort_labels(set(observed)) if observed else ()
    else:
        cats = fixed
    position = {(type(label), label): i for i, label in enumerate(cats)}
    codes = None if len(groups) == 1 and groups[0][0] is None else np.full(n, MISSING, dtype=np.intp)
    for mask, local, labels in groups:
        lookup = np.array([position.get((type(label), label), MISSING) for label in labels], dtype=np.intp)
        if np.array_equal(lookup, np.arange(lookup.size)):
            placed = local.astype(np.intp, copy=False)  # the labels are the scale, in its order
        else:
            placed = lookup[local] if lookup.size else np.zeros(0, dtype=np.intp)
        if (lookup == MISSING).any() and (placed == MISSING).any():
            first = int(np.argmax(placed == MISSING))
            where = first if mask is None else int(np.flatnonzero(mask)[first])
            unit, rater = divmod(where, shape[1])
            raise AgreementInputError(
                f"rating {labels[int(local[first])]!r} at unit {unit}, rater {rater} is not a category; "
                f"allowed: {list(cats)!r}"
            )
        if codes is None:
            codes = placed
        else:
            codes[mask] = placed
    assert codes is not None
    return codes, cats


def _is_pandas_missing(kind: type) -> bool:
    """pandas' ``NA`` and ``NaT`` (told by their type's name: ``grading`` does not import pandas)."""
    return kind.__name__ in ("NAType", "NaTType")


def _parse_object_array(array: npt.NDArray[Any], fixed: tuple[Label, ...] | None) -> RatingsMatrix:
    """Code an object array by the type of each element (found with one ``map(type, ...)`` pass).

    ``str``/``np.str_`` labels are coded with :func:`_code_strings`, integers with ``np.unique``;
    ``None``, NaN and pandas' ``NA`` are missing; integral floats are integers; bools and anything else
    are refused. Because the type is kept, ``1``, ``"1"`` and ``True`` never fall together.
    """
    flat = array.ravel()
    n = flat.size
    shape = array.shape if array.ndim == 2 else (n, 1)
    try:
        distinct: dict[Any, None] | None = dict.fromkeys(flat)
    except TypeError:  # an unhashable element: refused below with its place
        distinct = None
    if distinct is not None and all(_is_text_or_missing(type(key)) for key in distinct):
        # only str and missing objects: an object equal to a str key is a str (1 == True, never 1 == "1")
        coded, text_labels = _code_objects(flat, distinct)
        rated = coded != MISSING
        codes, cats = _place_labels(n, [(rated, coded[rated].astype(np.int64), text_labels)], fixed, shape)
        return RatingsMatrix(codes.reshape(array.shape), cats)
    kinds = np.fromiter(map(type, flat), dtype=object, count=n)
    present_kinds = dict.fromkeys(kinds)
    string_mask = np.zeros(n, dtype=bool)
    int_mask = np.zeros(n, dtype=bool)
    int_values = np.zeros(n, dtype=np.int64)
    bad = np.zeros(n, dtype=bool)
    bools = np.zeros(n, dtype=bool)
    for kind in present_kinds:
        mask = kinds == kind
        if kind is type(None) or _is_pandas_missing(kind):
            continue
        if issubclass(kind, bool | np.bool_):
            bools |= mask
        elif issubclass(kind, str):
            string_mask |= mask
        elif issubclass(kind, int | np.integer):
            int_mask |= mask
            int_values[mask] = flat[mask].astype(np.int64)
        elif issubclass(kind, float | np.floating):
            numbers = flat[mask].astype(np.float64)
            integral = np.isfinite(numbers) & (numbers == np.round(numbers))
            bad[np.flatnonzero(mask)[~np.isnan(numbers) & ~integral]] = True
            whole = np.flatnonzero(mask)[integral]
            int_mask[whole] = True
            int_values[whole] = numbers[integral].astype(np.int64)
        else:
            bad |= mask
    if (bad | bools).any():
        where = int(np.argmax(bad | bools))
        unit, rater = divmod(where, shape[1])
        value = flat[where]
        if bools[where]:
            raise AgreementInputError(
                f"rating {value!r} at unit {unit}, rater {rater} is a bool; allowed: str or int category labels"
            )
        raise AgreementInputError(
            f"rating {value!r} at unit {unit}, rater {rater} is not a category label; "
            "allowed: str or int labels, None or NaN for missing"
        )
    groups: list[tuple[npt.NDArray[np.bool_] | None, npt.NDArray[np.int64], tuple[Label, ...]]] = []
    if string_mask.any():
        strings = flat if string_mask.all() else flat[string_mask]
        coded, text_labels = _code_objects(strings)
        groups.append((string_mask, coded.astype(np.int64), text_labels))
    if int_mask.any():
        distinct, inverse = np.unique(int_values[int_mask], return_inverse=True)
        groups.append((int_mask, inverse.reshape(-1).astype(np.int64), tuple(int(v) for v in distinct)))
    codes, cats = _place_labels(n, groups, fixed, shape)
    return RatingsMatrix(codes.reshape(array.shape), cats)


def is_first_appearance_numbering(index: npt.NDArray[np.integer[Any]]) -> bool:
    """Whether ``index`` already numbers its values 0, 1, 2, … in order of first appearance.

    True when it starts at 0 and each value is at most one above the largest value before it (so every
    smaller value has appeared). Then ``np.unique``'s dense renumbering would give it back unchanged;
    the check is a few whole-array operations instead of a sort.
    """
    if index.size == 0:
        return True
    if int(index[0]) != 0:
        return False
    running = np.maximum.accumulate(index)
    return bool((index >= 0).all() and (index[1:] <= running[:-1] + 1).all())


class ParsedClusters:
    """Clusters already parsed (:func:`parse_clusters`) for one set of units, with a memo of what the
    statistics derive from them (the cluster index of a subset of the units, how the units of a subset
    fall into rating patterns), so the statistics of one comparison parse and group them once.

    Accepted wherever ``clusters=`` is; the index is read-only, and the memo holds only functions of the
    index and of the read-only arrays it is keyed by.
    """

    __slots__ = ("index", "memo")

    def __init__(self, clusters: Clusters, n_units: int) -> None:
        index = parse_clusters(clusters, n_units).copy()
        index.setflags(write=False)
        self.index: npt.NDArray[np.intp] = index
        self.memo: dict[object, Any] = {}

    def __len__(self) -> int:
        return int(self.index.size)


def parse_clusters(clusters: Clusters | ParsedClusters | None, n_units: int) -> npt.NDArray[np.intp]:
    """Cluster index per unit (``0..G-1``); each unit is its own cluster when ``clusters`` is None."""
    if clusters is None:
        return np.arange(n_units, dtype=np.intp)
    if isinstance(clusters, ParsedClusters):
        if clusters.index.size != n_units:
            raise AgreementInputError(
                f"clusters has {clusters.index.size} labels but ratings have {n_units} units; give one per unit"
            )
        return clusters.index
    if isinstance(clusters, str | bytes):
        raise AgreementInputError(f"clusters must be one label per unit, got the string {clusters!r}")
    if isinstance(clusters, np.ndarray) and clusters.dtype.kind in "iu" and clusters.ndim == 1:
        if clusters.size != n_units:
            raise AgreementInputError(
                f"clusters has {clusters.size} labels but ratings have {n_units} units; give one per unit"
            )
        if is_first_appearance_numbering(clusters):
            return clusters.astype(np.intp, copy=False)
        _, first, inverse = np.unique(clusters, return_index=True, return_inverse=True)
        # number the clusters in order of first appearance, as for any other labels
        order = np.empty(first.size, dtype=np.intp)
        order[np.argsort(first, kind="stable")] = np.arange(first.size, dtype=np.intp)
        renumbered: npt.NDArray[np.intp] = order[inverse.reshape(-1)]
        return renumbered
    labels = list(clusters)
    if len(labels) != n_units:
        raise AgreementInputError(
            f"clusters has {len(labels)} labels but ratings have {n_units} units; give one per unit"
        )
    index: dict[object, int] = {}
    out = np.empty(n_units, dtype=np.intp)
    for unit, label in enumerate(labels):
        if _is_missing(label):
            raise AgreementInputError(
                f"cluster of unit {unit} is missing ({label!r}); every unit needs a cluster label"
            )
        try:
            out[unit] = index.setdefault(label, len(index))
        except TypeError:
            raise AgreementInputError(f"cluster {label!r} of unit {unit} is not hashable") from None
    return out


_MAX_FAST_CELLS = 50_000_000


def _int_array(ratings: object) -> npt.NDArray[np.integer[Any]] | None:
    if isinstance(ratings, np.ndarray) and ratings.ndim == 2 and ratings.dtype.kind in "iu" and ratings.size:
        return ratings
    return None


def _positions_of_observed(
    array: npt.NDArray[np.integer[Any]], low: int, totals: npt.NDArray[Any], categories: tuple[Label, ...] | None
) -> tuple[npt.NDArray[np.intp], tuple[Label, ...]]:
    """For every observed raw value ``low + j`` (``totals[j] > 0``): its position on the scale."""
    observed = np.flatnonzero(totals)
    if categories is None:
        return np.arange(observed.size, dtype=np.intp), tuple(int(low + j) for j in observed)
    position = {c: i for i, c in enumerate(categories) if isinstance(c, int)}
    positions = np.empty(observed.size, dtype=np.intp)
    for k, j in enumerate(observed):
        found = position.get(int(low + j))
        if found is None:
            unit, rater = (int(i) for i in np.argwhere(array == low + j)[0])
            raise AgreementInputError(
                f"rating {int(low + j)!r} at unit {unit}, rater {rater} is not a category; "
                f"allowed: {list(categories)!r}"
            )
        positions[k] = found
    return positions, categories


def int_array_counts(
    ratings: object, categories: Sequence[object] | None
) -> tuple[npt.NDArray[np.float64], tuple[Label, ...], int] | None:
    """Fast path of the category counts ``r[i, k]`` of an integer array (no missing ratings possible).

    One ``bincount`` over ``unit * range + (value - min)``, then the observed values are mapped to
    scale positions. ``None`` when ``ratings`` is not an integer array or its value range is too wide.
    """
    array = _int_array(ratings)
    if array is None:
        return None
    fixed = parse_categories(categories)
    low, high = int(array.min()), int(array.max())
    width = high - low + 1
    n_units, n_raters = array.shape
    if width > _DENSE_INT_RANGE or n_units * width > _MAX_FAST_CELLS:
        return None
    flat = _row_offsets(n_units, n_raters, width)
    shifted = array.reshape(-1) if low == 0 else array.reshape(-1) - low  # in 0..width-1
    flat += shifted.astype(np.intp, copy=False)
    raw = np.bincount(flat, minlength=n_units * width).reshape(n_units, width).astype(np.float64)
    totals = np.ones(n_units) @ raw  # column sums as a product: faster than sum(axis=0)
    positions, cats = _positions_of_observed(array, low, totals, fixed)
    observed = np.flatnonzero(totals)
    if observed.size == width and len(cats) == width and np.array_equal(positions, np.arange(width)):
        counts = raw
    else:
        counts = np.zeros((n_units, len(cats)))
        counts[:, positions] = raw[:, observed]
    return counts, cats, int(n_raters)


def int_array_pairs(
    ratings: object, categories: Sequence[object] | None
) -> tuple[npt.NDArray[np.float64], tuple[Label, ...], Callable[[], npt.NDArray[np.intp]]] | None:
    """Fast path of a two-rater integer array: the q × q table, the scale and (lazily) each unit's cell."""
    array = _int_array(ratings)
    if array is None or array.shape[1] != 2:
        return None
    fixed = parse_categories(categories)
    low, high = int(array.min()), int(array.max())
    width = high - low + 1
    if width * width > _MAX_FAST_CELLS:
        return None
    shifted = array if low == 0 else array - low
    raw_pair = shifted[:, 0] * width + shifted[:, 1]
    raw = np.bincount(raw_pair, minlength=width * width).reshape(width, width)
    totals = raw.sum(axis=0) + raw.sum(axis=1)
    positions, cats = _positions_of_observed(array, low, totals, fixed)
    q = len(cats)
    observed = np.flatnonzero(totals)
    table = np.zeros((q, q))
    table[np.ix_(positions, positions)] = raw[np.ix_(observed, observed)]

    def cells() -> npt.NDArray[np.intp]:
        lookup = np.zeros(width, dtype=np.intp)
        lookup[observed] = positions
        cell: npt.NDArray[np.intp] = (lookup[shifted[:, 0]] * q + lookup[shifted[:, 1]]).astype(np.intp)
        return cell

    return table, cats, cells
