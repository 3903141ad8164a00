"""A series' display window: centre and width in output units (after the modality rescale).

The one rule of what makes a usable window (docs/imaging.md#display): the centre is a finite number
and the width a finite number above zero. The DICOM reader (WindowCenter/WindowWidth at ingest), the
stored series (the window recorded at ingest), the renderer (header values and the caller's
``?wc=&ww=``) all ask here.
"""

from __future__ import annotations

import math


def usable_center(value: object) -> float | None:
    """``value`` as a window centre, or None when it is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def usable_width(value: object) -> float | None:
    """``value`` as a window width, or None when it is not a finite number above zero."""
    width = usable_center(value)
    return width if width is not None and width > 0 else None


def usable_window(center: object, width: object) -> tuple[float, float] | None:
    """``(centre, width)`` when both make a usable window, else None."""
    usable = usable_center(center), usable_width(width)
    return None if usable[0] is None or usable[1] is None else (usable[0], usable[1])
