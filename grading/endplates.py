"""The 11 lumbosacral endplates graded by the project, from upper L1 to upper S1.

Identifiers follow ``docs/nordic.md#endplates`` and are used everywhere (API, database,
exports). A disc level ``Lx-Ly`` is bordered by ``Lx_inf`` above and ``Ly_sup`` below.
"""

from __future__ import annotations

import enum


class Endplate(enum.Enum):
    """One vertebral endplate, named by vertebra and side (sup = upper, inf = lower)."""

    L1_sup = "L1_sup"
    """Superior (upper) endplate of L1, below the T12-L1 disc."""
    L1_inf = "L1_inf"
    """Inferior (lower) endplate of L1, above the L1-L2 disc."""
    L2_sup = "L2_sup"
    """Superior endplate of L2, below the L1-L2 disc."""
    L2_inf = "L2_inf"
    """Inferior endplate of L2, above the L2-L3 disc."""
    L3_sup = "L3_sup"
    """Superior endplate of L3, below the L2-L3 disc."""
    L3_inf = "L3_inf"
    """Inferior endplate of L3, above the L3-L4 disc."""
    L4_sup = "L4_sup"
    """Superior endplate of L4, below the L3-L4 disc."""
    L4_inf = "L4_inf"
    """Inferior endplate of L4, above the L4-L5 disc."""
    L5_sup = "L5_sup"
    """Superior endplate of L5, below the L4-L5 disc."""
    L5_inf = "L5_inf"
    """Inferior endplate of L5, above the L5-S1 disc."""
    S1_sup = "S1_sup"
    """Superior endplate of S1, below the L5-S1 disc."""

    @property
    def vertebra(self) -> str:
        """The vertebra the endplate belongs to, e.g. ``L4``."""
        return self.value.split("_")[0]

    @property
    def is_superior(self) -> bool:
        """True for the upper endplate of its vertebra."""
        return self.value.endswith("_sup")

    @property
    def label(self) -> str:
        """A human label, e.g. ``L4 inferior``."""
        return f"{self.vertebra} {'superior' if self.is_superior else 'inferior'}"

    @classmethod
    def parse(cls, text: str) -> Endplate:
        """The endplate named by ``text``; the error lists the allowed ids."""
        try:
            return cls(text)
        except ValueError:
            raise ValueError(f"unknown endplate {text!r}; allowed: {', '.join(e.value for e in cls)}") from None


ENDPLATES: tuple[Endplate, ...] = tuple(Endplate)
"""All 11 endplates in anatomical order, cranial to caudal."""
ENDPLATE_IDS: tuple[str, ...] = tuple(e.value for e in ENDPLATES)
"""Their ids (the keys of a stored grading), in the same order: read once, since a member's
``.value`` is a property call each time."""


class DiscLevel(enum.Enum):
    """A lumbar disc level, bordered by two endplates."""

    L1_L2 = "L1-L2"
    L2_L3 = "L2-L3"
    L3_L4 = "L3-L4"
    L4_L5 = "L4-L5"
    L5_S1 = "L5-S1"

    @property
    def endplates(self) -> tuple[Endplate, Endplate]:
        """The (upper, lower) endplates that border the disc."""
        upper, lower = self.value.split("-")
        return Endplate(f"{upper}_inf"), Endplate(f"{lower}_sup")


def disc_level_of(endplate: Endplate) -> DiscLevel | None:
    """The disc level an endplate borders; ``None`` for L1_sup (its disc, T12-L1, is not graded)."""
    for level in DiscLevel:
        if endplate in level.endplates:
            return level
    return None
