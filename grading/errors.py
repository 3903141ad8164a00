"""The one exception family of the pure domain."""

from __future__ import annotations


class GradingError(ValueError):
    """A value that breaks a rule of the domain.

    ``endplate`` and ``field`` locate the problem when it concerns one endplate of a grading,
    so that faces (HTTP, the web form) can point at the right row and control.
    """

    def __init__(self, message: str, *, endplate: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.endplate = endplate
        self.field = field


class GradingErrors(GradingError):
    """Several problems found at once in one grading (every endplate is checked)."""

    def __init__(self, errors: list[GradingError]):
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors
