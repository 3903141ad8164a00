"""Errors of the imaging adapters: each names the file (or archive member) and the reason."""

from __future__ import annotations

from registry.errors import InvalidInput


class ImagingError(InvalidInput):
    """A file that cannot be used; ``source`` names it, ``reason`` says why (without the name).

    Part of the registry's error family: the API answers 422 with the message.
    """

    def __init__(self, source: str, reason: str):
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class NotDicomError(ImagingError):
    """The file is not DICOM (no DICM preamble and no SOP Class UID, or unreadable)."""


class NotMRImageError(ImagingError):
    """The file is DICOM but not an MR image (CT, a structured report, spectroscopy, …)."""


class InvalidDicomError(ImagingError):
    """An MR image whose header lacks what ingestion needs (UIDs, matrix) or whose pixel data is cut short."""


class ArchiveError(ImagingError):
    """A ``.zip`` archive that is unreadable or breaks a limit (size, members, expansion ratio)."""


class NiftiError(ImagingError):
    """A NIfTI file that cannot be read, or whose study metadata is missing."""


class RenderError(ImagingError):
    """A slice whose pixels cannot be decoded or rendered."""
