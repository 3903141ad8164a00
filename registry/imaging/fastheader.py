"""A fast path for the common case: the header of a Part 10 file whose dataset is explicit VR little endian.

Ingestion reads a few dozen top-level attributes of every file; pydicom's general reader spends most of
its time building every element of the header. This reader walks the elements of the header once,
keeps the raw bytes of the attributes asked for, and skips the rest, including sequences. It gives up
(returns ``None``) on anything it does not handle itself, and the caller then uses pydicom: big endian,
implicit VR or deflated datasets, a wanted attribute that is a sequence (Enhanced MR functional groups),
an undefined length it cannot walk, or a malformed header. ``tests/registry/test_imaging_readers.py``
checks that both readers give the same result on every corpus file.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any, cast

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import BaseTag
from pydicom.valuerep import EXPLICIT_VR_LENGTH_16, EXPLICIT_VR_LENGTH_32

_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})
_VR_LAYOUT = {
    str(vr).encode("ascii"): str(vr).encode("ascii") in _LONG_VRS
    for vr in (*EXPLICIT_VR_LENGTH_16, *EXPLICIT_VR_LENGTH_32)
}
"""Every VR of PS3.5 §6.2, and whether its length takes 4 bytes after 2 reserved ones (else 2 bytes)."""
_VR_NAMES = {vr: vr.decode("ascii") for vr in _VR_LAYOUT}
"""Each VR's bytes as text, decoded once."""
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})
_EXPLICIT_LITTLE = "1.2.840.10008.1.2.1"
_ENCAPSULATED_PREFIXES = ("1.2.840.10008.1.2.4.", "1.2.840.10008.1.2.5")
"""Transfer syntaxes whose dataset is explicit VR little endian: native explicit, JPEG family, RLE."""

_META_TAGS = frozenset({0x00020002, 0x00020003, 0x00020010})
"""MediaStorageSOPClassUID, MediaStorageSOPInstanceUID, TransferSyntaxUID."""

_unpack_tag = struct.Struct("<HH").unpack_from
_unpack_short = struct.Struct("<HH2sH").unpack_from
"""Group, element, VR and the 2-byte length of an explicit VR element (the length is 4 bytes after the VR
for the long VRs)."""
_unpack_u16 = struct.Struct("<H").unpack_from
_unpack_u32 = struct.Struct("<I").unpack_from


class _GiveUp(Exception):
    """The header needs the general reader."""


def _element(buffer: bytes, pos: int) -> tuple[int, bytes, int, int]:
    """(tag, VR, value length, value offset) of the explicit VR little endian element at ``pos``."""
    if pos + 8 > len(buffer):
        raise _GiveUp
    group, element = _unpack_tag(buffer, pos)
    vr = buffer[pos + 4 : pos + 6]
    if not (65 <= vr[0] <= 90 and 65 <= vr[1] <= 90):
        raise _GiveUp
    if vr in _LONG_VRS:
        if pos + 12 > len(buffer):
            raise _GiveUp
        return (group << 16) | element, vr, _unpack_u32(buffer, pos + 8)[0], pos + 12
    return (group << 16) | element, vr, _unpack_u16(buffer, pos + 6)[0], pos + 8


def _skip_sequence(buffer: bytes, pos: int) -> int:
    """The offset after an undefined-length sequence whose items start at ``pos``."""
    while True:
        if pos + 8 > len(buffer):
            raise _GiveUp
        group, element = _unpack_tag(buffer, pos)
        tag, length = (group << 16) | element, _unpack_u32(buffer, pos + 4)[0]
        pos += 8
        if tag == _SEQUENCE_END:
            return pos
        if tag != _ITEM:
            raise _GiveUp
        if length != _UNDEFINED:
            pos += length
            continue
        while True:  # the elements of an undefined-length item, up to its delimiter
            if pos + 8 > len(buffer):
                raise _GiveUp
            group, element = _unpack_tag(buffer, pos)
            if (group << 16) | element == _ITEM_END:
                pos += 8
                break
            _, vr, length, value = _element(buffer, pos)
            if length == _UNDEFINED:
                if vr != b"SQ":
                    raise _GiveUp
                pos = _skip_sequence(buffer, value)
            else:
                pos = value + length


def read_fast(buffer: bytes, wanted: Iterable[int]) -> tuple[FastHeader, int] | None:
    """The wanted top-level attributes of a Part 10 header (a :class:`FastHeader`, read with
    :func:`header_value`), and the offset of the pixel data element (``len(buffer)`` when there is none);
    ``None`` when pydicom must read it.

    ``buffer`` may be the start of the file only: reaching its end before the pixel data gives up.
    ``wanted`` is best a frozenset of plain ``int`` tags, made once (see :func:`tag_set`).
    """
    try:
        return _read(buffer, wanted if isinstance(wanted, frozenset) else tag_set(wanted))
    except (_GiveUp, struct.error, IndexError, UnicodeDecodeError):
        return None


class FastMeta:
    """The file meta information :func:`read_fast` keeps: each element as its tag, VR and raw value bytes."""

    __slots__ = ("_dataset", "elements")

    def __init__(self, elements: dict[int, tuple[str, bytes, int]]):
        self.elements = elements
        """Tag → (VR, raw value, offset of the value in the buffer)."""
        self._dataset: Dataset | None = None

    def get(self, keyword: str, default: Any = None) -> Any:
        """The value of ``keyword`` (as :func:`header_value` reads it), or ``default`` when missing."""
        value = header_value(self, keyword)
        return default if value is None else value

    def dataset(self) -> Dataset:
        """The elements as a pydicom dataset of raw elements (decoded by pydicom when accessed), built once."""
        if self._dataset is None:
            self._dataset = self._build()
        return self._dataset

    def _build(self) -> Dataset:
        return FileMetaDataset(self._raw())

    def _raw(self) -> dict[BaseTag, DataElement | RawDataElement]:
        return {
            (key := canonical_tag(tag)): RawDataElement(key, vr, len(raw), raw, offset, False, True)
            for tag, (vr, raw, offset) in self.elements.items()
        }


class FastHeader(FastMeta):
    """What :func:`read_fast` keeps of a header: each wanted attribute as its tag, VR and raw value bytes
    (explicit VR little endian), nothing decoded yet, and the file meta information likewise.

    Values are read with :func:`header_value`. For the few values it does not decode itself, the same
    raw elements are handed to pydicom as a dataset, built once, when first needed (:meth:`dataset`).
    """

    __slots__ = ("file_meta",)
    original_encoding = (False, True)
    """Explicit VR, little endian: the only encoding this reader accepts (as pydicom's ``original_encoding``)."""

    def __init__(self, elements: dict[int, tuple[str, bytes, int]], file_meta: FastMeta):
        super().__init__(elements)
        self.file_meta = file_meta

    def _build(self) -> Dataset:
        dataset = Dataset(self._raw())
        dataset.file_meta = cast(FileMetaDataset, self.file_meta.dataset())
        dataset.set_original_encoding(False, True, None)
        return dataset


def tag_set(tags: Iterable[int]) -> frozenset[int]:
    """Tags as a frozenset of plain ints: looking one up never calls :class:`~pydicom.tag.BaseTag`'s
    ``__eq__`` (a Python method), as it would for a set of BaseTag values."""
    return frozenset(int(tag) for tag in tags)


def canonical_tag(tag: int) -> BaseTag:
    """The one :class:`~pydicom.tag.BaseTag` of this process for ``tag``: the elements read here are keyed
    by it and :func:`fast_value` looks them up with it, so that the dictionary finds the key by identity
    instead of calling BaseTag's ``__eq__``."""
    key = _CANONICAL.get(tag)
    if key is None:
        key = _CANONICAL.setdefault(tag, BaseTag(tag))
    return key


_CANONICAL: dict[int, BaseTag] = {}


def _read(buffer: bytes, wanted: frozenset[int]) -> tuple[FastHeader, int]:
    if len(buffer) < 132 or buffer[128:132] != b"DICM":
        raise _GiveUp
    pos = 132
    meta_elements: dict[int, tuple[str, bytes, int]] = {}
    syntax = ""
    while pos + 8 <= len(buffer) and _unpack_u16(buffer, pos)[0] == 0x0002:
        tag, vr, length, value = _element(buffer, pos)
        if length == _UNDEFINED or value + length > len(buffer):
            raise _GiveUp
        if tag in _META_TAGS:
            raw = buffer[value : value + length]
            meta_elements[tag] = (vr.decode("ascii"), raw, value)
            if tag == 0x00020010:
                syntax = raw.decode("ascii").rstrip("\x00 ").strip()
        pos = value + length
    if syntax != _EXPLICIT_LITTLE and not syntax.startswith(_ENCAPSULATED_PREFIXES):
        raise _GiveUp
    elements: dict[int, tuple[str, bytes, int]] = {}
    size = len(buffer)
    vr_names = _VR_NAMES
    # _element inlined: this loop runs for every element of every header read.
    while pos < size:
        if pos + 8 > size:
            raise _GiveUp
        group, number, vr, length = _unpack_short(buffer, pos)
        long = _VR_LAYOUT.get(vr)
        if long is None:
            raise _GiveUp  # not a VR: not explicit VR little endian after all, or a malformed header
        if long:
            if pos + 12 > size:
                raise _GiveUp
            length = _unpack_u32(buffer, pos + 8)[0]
            value = pos + 12
        else:
            value = pos + 8
        tag = (group << 16) | number
        if group >= 0x7FE0:
            if tag in _PIXEL_TAGS:
                break
            if group == 0xFFFE:
                raise _GiveUp
        if length == _UNDEFINED:
            if vr != b"SQ" or tag in wanted:
                raise _GiveUp
            pos = _skip_sequence(buffer, value)
            continue
        if value + length > size:
            raise _GiveUp
        if tag in wanted:
            if vr == b"SQ":
                raise _GiveUp
            elements[tag] = (vr_names[vr], buffer[value : value + length], value)
        pos = value + length
    return FastHeader(elements, FastMeta(meta_elements)), pos


# ----------------------------------------------------------------------------------- element values

_ASCII_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "IS", "TM", "UI"})
"""Value representations whose characters are ASCII by definition: decoded here without pydicom's hooks."""
_TEXT_VRS = frozenset({"LO", "SH", "PN", "ST", "LT", "UC", "UT"})
"""Text that depends on the character set, decoded here only when it is plain ASCII (no escape sequences)."""
_BINARY_VRS = {"US": ("H", 2), "SS": ("h", 2), "UL": ("I", 4), "SL": ("i", 4)}
_NO_FAST_PATH = object()


def _fast_raw(element: RawDataElement) -> Any:
    """The value of a raw element of a common VR, decoded directly (a large share of ingest time otherwise)."""
    vr = element.VR
    if vr is None:
        try:
            vr = dictionary_VR(element.tag)
        except KeyError:
            return _NO_FAST_PATH
    raw = element.value
    if raw is None:
        return ""
    return _decode(vr, raw, element.is_little_endian)


def _decode(vr: str, raw: bytes, little_endian: bool = True) -> Any:
    """The value of raw bytes of a common VR, or :data:`_NO_FAST_PATH` when pydicom must decode it."""
    if len(raw) == 0:
        return ""
    if vr in _TEXT_VRS and raw.isascii() and b"\x1b" not in raw:
        text = raw.decode("ascii").rstrip("\x00 ").strip()
        if vr in ("LO", "SH", "PN") and "\\" in text:
            return [part.strip() for part in text.split("\\")]
        return text
    if vr in _ASCII_VRS:
        text = raw.decode("ascii", "replace").rstrip("\x00 ").strip()
        if "\\" in text:
            return [part.strip() for part in text.split("\\")]
        return text
    binary = _BINARY_VRS.get(vr)
    if binary is not None:
        code, size = binary
        if len(raw) % size:
            return _NO_FAST_PATH
        # the element's own byte order: that of the dataset it was read from
        values = struct.unpack(("<" if little_endian else ">") + code * (len(raw) // size), raw)
        return values[0] if len(values) == 1 else list(values)
    return _NO_FAST_PATH


def header_value(header: FastMeta, keyword: str) -> Any:
    """The value of the attribute ``keyword`` of a header read by :func:`read_fast` (``None`` when missing
    or malformed): decoded here from the raw bytes for the common VRs, by pydicom otherwise, as
    :func:`fast_value` reads a dataset."""
    tag = _TAG_NUMBERS.get(keyword)
    if tag is None:
        tag = _tag_number(keyword)
        if tag is None:
            return None
    element = header.elements.get(tag)
    if element is None:
        return None
    value = _decode(element[0], element[1])
    return fast_value(header.dataset(), keyword) if value is _NO_FAST_PATH else value


def _tag_number(keyword: str) -> int | None:
    """The tag of ``keyword`` as a plain int, kept for the next lookup; ``None`` for an unknown keyword."""
    number = tag_for_keyword(keyword)
    if number is None:
        return None
    _TAG_NUMBERS[keyword] = int(number)
    return int(number)


_TAG_NUMBERS: dict[str, int] = {}


def fast_value(ds: Dataset, keyword: str) -> Any:
    """The value of the attribute ``keyword`` of ``ds`` (``None`` when missing or malformed), decoded here
    from the raw bytes for the common VRs and by pydicom otherwise: :func:`registry.imaging.dicom.plain_value`
    gives the same values through pydicom's public API only."""
    tag = _TAGS.get(keyword)
    if tag is None:
        number = _tag_number(keyword)
        if number is None:
            return None
        tag = _TAGS[keyword] = canonical_tag(number)
    try:
        # The element as stored (raw until first accessed); Dataset.get_item without its tag conversions.
        element = ds._dict.get(tag)
    except Exception:  # a malformed element counts as missing
        return None
    if element is None:
        return None
    if isinstance(element, RawDataElement):
        value = _fast_raw(element)
        if value is not _NO_FAST_PATH:
            return value
        try:
            return ds[tag].value
        except Exception:  # a malformed value (bad VR, bad length) counts as missing
            return None
    return element.value


_TAGS: dict[str, BaseTag] = {}
