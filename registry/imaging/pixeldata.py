"""Byte-level checks of a file's pixel data element, without decoding it: that it is there and not cut short.

The caller has read the header and stands at the first byte after it; these functions read the pixel
data element's tag and length (and, for encapsulated pixel data, walk its items by their lengths) and
answer with the problem in words, or ``None``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

import pydicom

_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)
_UNDEFINED_LENGTH = 0xFFFFFFFF

_NATIVE_SYNTAXES = frozenset(
    {
        pydicom.uid.ImplicitVRLittleEndian,
        pydicom.uid.ExplicitVRLittleEndian,
        pydicom.uid.ExplicitVRBigEndian,
    }
)


@dataclass(frozen=True)
class PixelDataLayout:
    """What the header says about the pixel data: how it is encoded and how much of it there must be.

    ``implicit_vr``/``little_endian`` are the dataset's encoding as read (``None`` when unknown).
    """

    transfer_syntax_uid: str
    implicit_vr: bool | None
    little_endian: bool | None
    frames: int
    rows: int
    columns: int
    samples_per_pixel: int
    bits_allocated: int

    @property
    def native_bytes(self) -> int:
        """The length native (uncompressed) pixel data needs."""
        return self.rows * self.columns * self.samples_per_pixel * self.frames * self.bits_allocated // 8


def pixel_data_problem(fp: BinaryIO, size: int, layout: PixelDataLayout) -> str | None:
    """Check cheaply, without decoding, that pixel data exists at ``fp`` and is not cut short (a file of
    ``size`` bytes); native syntaxes are checked against the matrix size."""
    if layout.transfer_syntax_uid == pydicom.uid.DeflatedExplicitVRLittleEndian:
        return None
    start = fp.tell()
    head = fp.read(12)
    if len(head) < 8:
        return "no pixel data"
    implicit, little = layout.implicit_vr, layout.little_endian
    if implicit is None or little is None:
        implicit, little = layout.transfer_syntax_uid == pydicom.uid.ImplicitVRLittleEndian, True
    group, element = struct.unpack("<HH" if little else ">HH", head[:4])
    if (group << 16 | element) not in _PIXEL_TAGS:
        return "no pixel data"
    if not implicit:
        length = struct.unpack("<I" if little else ">I", head[8:12])[0]
        value_start = start + 12
    else:
        length = struct.unpack("<I", head[4:8])[0]
        value_start = start + 8
    if length == _UNDEFINED_LENGTH:
        return _fragments_problem(fp, value_start, size, layout.frames)
    if value_start + length > size:
        return f"pixel data cut short: {size - value_start} of {length} bytes present"
    if layout.transfer_syntax_uid in _NATIVE_SYNTAXES and length < layout.native_bytes:
        return (
            f"pixel data too short: {length} bytes for {layout.frames} frame(s) of {layout.rows}x{layout.columns}"
            f" needing {layout.native_bytes}"
        )
    return None


def _fragments_problem(fp: BinaryIO, position: int, size: int, frames: int) -> str | None:
    """Walk the items of encapsulated pixel data (offset table, fragments, delimiter) by their lengths:
    a file cut short, a malformed item or fewer fragments than frames is a problem."""
    items = 0
    while True:
        fp.seek(position)
        item = fp.read(8)
        if len(item) < 8:
            return "pixel data cut short: its fragments end without the sequence delimiter"
        group, element, length = struct.unpack("<HHI", item)
        if (group, element) == (0xFFFE, 0xE0DD):
            break
        if (group, element) != (0xFFFE, 0xE000):
            return f"pixel data malformed: ({group:04X},{element:04X}) where a fragment item was expected"
        position += 8 + length
        items += 1
        if position > size:
            return f"pixel data cut short: a fragment of {length} bytes runs past the end of the file"
    if items - 1 < frames:
        return f"pixel data has {max(0, items - 1)} fragment(s) for {frames} frame(s)"
    return None
