"""The one exception family of the registry; ``api.errors`` maps each to an HTTP status."""

from __future__ import annotations


class RegistryError(Exception):
    """Base of every error the registry raises on purpose."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(RegistryError):
    """The named record does not exist (or is not visible to the caller)."""


class AlreadyExists(RegistryError):
    """A record with the same unique key exists; ``existing_id`` names it."""

    def __init__(self, message: str, existing_id: str | None = None):
        super().__init__(message)
        self.existing_id = existing_id


class StudyOfAnotherPatient(AlreadyExists):
    """A study whose UID is already registered for another patient: the same conflict whether the study
    is registered (JSON) or its images are uploaded; ``existing_id`` names the registered study."""

    def __init__(self, study_instance_uid: str, existing_id: str, consequence: str = ""):
        message = f"study_instance_uid {study_instance_uid!r} is already registered for another patient"
        super().__init__(f"{message}; {consequence}" if consequence else message, existing_id)


class Conflict(RegistryError):
    """The action does not fit the record's state (e.g. enrolling a patient who is not eligible)."""


class Forbidden(RegistryError):
    """The caller's role or identity does not allow the action."""


class InvalidInput(RegistryError):
    """Input that is well-formed but breaks a registry rule; ``field`` names the input, when one does."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class PreconditionRequired(RegistryError):
    """An update came without the version it expects (no ``If-Match``)."""


class PreconditionFailed(RegistryError):
    """An update expected a version that is no longer current (stale ``If-Match``)."""


class PayloadTooLarge(RegistryError):
    """An upload or archive exceeds a configured limit."""


class Cancelled(RegistryError):
    """Work stopped because the client that asked for it has gone."""
