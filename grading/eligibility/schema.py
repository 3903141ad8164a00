"""Reading rule-set files: every error names the file and the field (a JSON path) at fault."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from grading.errors import GradingError


class RuleSetError(GradingError):
    """A rule-set file that breaks the format; ``file`` and ``field`` locate the problem."""

    def __init__(self, file: str, path: str, reason: str):
        super().__init__(f"{file}: {path}: {reason}" if path else f"{file}: {reason}", field=path or None)
        self.file = file
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class LocatedValue:
    """A value inside a rule-set file with its location, for typed access with located errors."""

    file: str
    path: str
    value: object

    def error(self, reason: str) -> RuleSetError:
        """An error located at this node."""
        return RuleSetError(self.file, self.path, reason)

    def _join(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def mapping(self, allowed: Iterable[str] | None = None) -> Mapping[str, object]:
        """The node as an object; with ``allowed``, any other key is an error naming it."""
        if not isinstance(self.value, Mapping):
            raise self.error(f"expected an object, got {self.value!r}")
        if allowed is not None:
            names = list(allowed)
            for key in self.value:
                if key not in names:
                    raise RuleSetError(self.file, self._join(str(key)), f"unknown key; allowed: {', '.join(names)}")
        return self.value

    def child(self, key: str) -> LocatedValue:
        """The required member ``key``."""
        data = self.mapping()
        if key not in data:
            raise RuleSetError(self.file, self._join(key), "is required")
        return LocatedValue(self.file, self._join(key), data[key])

    def optional(self, key: str) -> LocatedValue | None:
        """The member ``key`` or ``None`` when absent."""
        data = self.mapping()
        return LocatedValue(self.file, self._join(key), data[key]) if key in data else None

    def members(self) -> list[tuple[str, LocatedValue]]:
        """The members of an object, in file order."""
        return [(str(k), LocatedValue(self.file, self._join(str(k)), v)) for k, v in self.mapping().items()]

    def elements(self) -> list[LocatedValue]:
        """The elements of a non-empty list."""
        if not isinstance(self.value, list) or not self.value:
            raise self.error(f"expected a non-empty list, got {self.value!r}")
        return [LocatedValue(self.file, f"{self.path}[{i}]", v) for i, v in enumerate(self.value)]

    def string(self) -> str:
        """A non-empty string."""
        if not isinstance(self.value, str) or not self.value.strip():
            raise self.error(f"expected a non-empty string, got {self.value!r}")
        return self.value

    def choice(self, allowed: Iterable[str]) -> str:
        """A string from the closed set ``allowed``."""
        names = list(allowed)
        if self.value not in names:
            raise self.error(f"{self.value!r} is not allowed; allowed: {', '.join(names)}")
        return str(self.value)

    def number(self) -> float:
        """A finite number (JSON integer or real)."""
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)) or not math.isfinite(self.value):
            raise self.error(f"expected a number, got {self.value!r}")
        return float(self.value)

    def positive_integer(self) -> int:
        """An integer of at least 1."""
        if isinstance(self.value, bool) or not isinstance(self.value, int) or self.value < 1:
            raise self.error(f"expected an integer of at least 1, got {self.value!r}")
        return self.value

    def boolean(self) -> bool:
        """``true`` or ``false``."""
        if not isinstance(self.value, bool):
            raise self.error(f"expected true or false, got {self.value!r}")
        return self.value
