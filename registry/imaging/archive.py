"""Read ``.zip`` archives in memory, within limits, without any member path reaching the file system.

Limits guard against zip bombs: the number of members, the total uncompressed size and the expansion
ratio of each member (uncompressed / compressed). The sizes the archive declares are checked first and
the bytes actually inflated are counted again while reading, since a forged header can lie.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from registry.imaging.errors import ArchiveError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ArchiveLimits:
    """The most an archive may hold."""

    max_members: int = 20_000
    max_total_bytes: int = 1 << 30
    max_ratio: float = 100.0


def is_zip(data: bytes) -> bool:
    """True when ``data`` starts like a zip archive (local file header or empty-archive record)."""
    return data[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def _dropped(name: str) -> str | None:
    """Why a member is not read, or None to read it (names are only ever used in messages)."""
    path = PurePosixPath(name.replace("\\", "/"))  # archives made on Windows may separate with '\\'
    if "__MACOSX" in path.parts or path.name.startswith("."):
        return "hidden or macOS metadata file; not read"
    if path.name == "DICOMDIR":
        return "DICOMDIR index; the images it lists are read as members of their own"
    return None


def iter_zip_members(
    data: bytes, source: str, limits: ArchiveLimits | None = None
) -> Iterator[tuple[str, bytes | ArchiveError]]:
    """Yield ``(name for messages, bytes)`` for every file member of the archive in ``data``.

    The name is ``"<source>:<member path>"`` and is used only in messages. A member that is not read
    (a hidden or macOS metadata file, DICOMDIR) or cannot be read (encrypted,
    corrupt) is yielded with an :class:`ArchiveError` naming the reason instead of bytes. Raises
    :class:`ArchiveError` for an unreadable archive or one that breaks a limit: before any member is
    yielded when the declared sizes already do.
    """
    limits = limits or ArchiveLimits()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        files = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise ArchiveError(source, f"not a readable zip archive ({exc})") from None
    if len(files) > limits.max_members:
        raise ArchiveError(source, f"{len(files)} members; at most {limits.max_members} are allowed")
    reasons = {info.filename: _dropped(info.filename) for info in files}
    members = [info for info in files if reasons[info.filename] is None]
    declared = sum(info.file_size for info in members)
    if declared > limits.max_total_bytes:
        raise ArchiveError(source, f"{declared} bytes uncompressed; at most {limits.max_total_bytes} bytes are allowed")
    for name, reason in reasons.items():
        if reason is not None:
            yield f"{source}:{name}", ArchiveError(f"{source}:{name}", reason)
    total = 0
    with archive:
        for info in members:
            name = f"{source}:{info.filename}"
            if info.flag_bits & 0x1:
                yield name, ArchiveError(name, "member is encrypted")
                continue
            if info.file_size > 1 << 16 and info.file_size > limits.max_ratio * max(1, info.compress_size):
                raise ArchiveError(
                    name,
                    f"expands {info.file_size / max(1, info.compress_size):.0f}-fold; at most {limits.max_ratio:g}",
                )
            chunks: list[bytes] = []
            size = 0
            failure: ArchiveError | None = None
            try:
                with archive.open(info) as member:
                    while chunk := member.read(_CHUNK):
                        size += len(chunk)
                        total += len(chunk)
                        if size > info.file_size or total > limits.max_total_bytes:
                            raise ArchiveError(name, "inflates beyond its declared size or the archive limit")
                        if size > 1 << 16 and size > limits.max_ratio * max(1, info.compress_size):
                            raise ArchiveError(name, f"expands more than {limits.max_ratio:g}-fold")
                        if total > 1 << 20 and total > limits.max_ratio * len(data):
                            raise ArchiveError(source, f"the archive expands more than {limits.max_ratio:g}-fold")
                        chunks.append(chunk)
            # An unsupported compression method raises a subclass of RuntimeError.
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError) as exc:
                failure = ArchiveError(name, f"member cannot be read ({exc})")
            yield name, failure if failure is not None else b"".join(chunks)
