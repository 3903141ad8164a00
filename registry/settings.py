"""Typed settings read from the environment (``MODIC_*``) with safe defaults."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from grading.field_strength import DEFAULT_FIELD_STRENGTH_T
from registry.imaging.archive import ArchiveLimits


class SrIdentity(StrEnum):
    """Whom a grading's DICOM SR names (the site's policy, ``MODIC_SR_IDENTITY``)."""

    pseudonym = "pseudonym"
    """The patient and the rater by their pseudonyms; no name, birth date or sex (the default)."""
    hospital = "hospital"
    """The hospital's patient id, name, birth date and sex, and the rater's user name: for SRs that go
    back to the hospital's own PACS, to be filed with the patient's images there."""


class ImageStoreKind(StrEnum):
    """Where the images are kept (docs/imaging.md#image-stores)."""

    dir = "dir"
    """Files under ``MODIC_DATA_DIR`` (local, or storage every host mounts)."""
    dicomweb = "dicomweb"
    """A DICOM archive at ``MODIC_IMAGE_STORE_URL``: STOW-RS to store, WADO-RS to read, QIDO-RS to look up."""


class BackgroundMode(StrEnum):
    """Whether a ``modic serve`` process takes part in the site's periodic background work."""

    auto = "auto"
    """It competes for each periodic job; the first process to take the job's lock runs it."""
    off = "off"
    """It never runs periodic jobs (e.g. a process kept for interactive requests)."""


class LogFormat(StrEnum):
    """How ``modic serve`` writes its log lines."""

    text = "text"
    """Plain lines for a terminal."""
    json = "json"
    """One JSON object per line (time, level, logger, message, and the request's fields)."""


class Settings(BaseSettings):
    """Service settings; every field can be set as ``MODIC_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="MODIC_", extra="ignore")

    database_url: str = Field(default="sqlite:///./modic.db", description="SQLAlchemy URL of the registry database")
    data_dir: Path = Field(default=Path("./modic-data"), description="where image files are kept")
    image_store: ImageStoreKind = Field(
        default=ImageStoreKind.dir, description="where images are kept: dir (MODIC_DATA_DIR) or dicomweb"
    )
    image_store_url: str | None = Field(default=None, description="DICOMweb base URL of the image archive")
    image_store_username: str | None = Field(default=None, description="HTTP basic user name for the image archive")
    image_store_password: SecretStr | None = Field(
        default=None, description="HTTP basic password for the image archive"
    )
    image_store_ca_file: Path | None = Field(
        default=None, description="CA certificates to check the image archive against (default: the system's)"
    )
    image_cache_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=0,
        description="most bytes of archive images each process keeps in memory for rendering (0: no cache)",
    )
    expected_field_strength_t: float = Field(
        default=DEFAULT_FIELD_STRENGTH_T, gt=0, description="field strength the site scans at"
    )
    worker_threads: int = Field(default=8, ge=1, le=200, description="threads serving blocking requests")
    report_processes: int = Field(
        default=0, ge=0, le=256, description="processes for a large agreement report (0: one per core; 1: none)"
    )
    token_cache_seconds: float = Field(
        default=10, ge=0, le=300, description="how long a checked token is trusted without a query (0: never)"
    )
    token_lifetime_days: float = Field(
        default=90, ge=0, description="how long a newly issued API token is accepted (0: it does not expire)"
    )
    revocation_check_seconds: float = Field(
        default=1.0, gt=0, le=2, description="how often each process checks for revoked tokens and disabled users"
    )
    auth_failures_allowed: int = Field(
        default=20, ge=1, description="bad tokens one client may send per window before it must wait (429)"
    )
    auth_failure_window_seconds: float = Field(default=60, gt=0, description="the window of auth_failures_allowed")
    background: BackgroundMode = Field(
        default=BackgroundMode.auto, description="whether this process may run periodic background work (auto, off)"
    )
    reevaluation_interval_seconds: float = Field(
        default=3600, gt=0, description="how often the site re-evaluates decisions with date criteria"
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="bearer token that reads /metrics (unset: /metrics is not served)"
    )
    log_format: LogFormat = Field(default=LogFormat.text, description="log lines as text or json")
    max_upload_bytes: int = Field(default=512 * 1024 * 1024, gt=0, description="largest accepted upload")
    pacs_dicomweb_url: str | None = Field(default=None, description="DICOMweb base URL of the PACS (https for TLS)")
    pacs_dicomweb_username: str | None = Field(default=None, description="HTTP basic user name for DICOMweb")
    pacs_dicomweb_password: SecretStr | None = Field(default=None, description="HTTP basic password for DICOMweb")
    pacs_dicomweb_ca_file: Path | None = Field(
        default=None, description="CA certificates to check the DICOMweb server against (default: the system's)"
    )
    pacs_dicomweb_parallel: int = Field(
        default=2, ge=1, le=16, description="how many series a DICOMweb pull retrieves at once (WADO-RS requests)"
    )
    pacs_dimse_address: str | None = Field(default=None, description="HOST:PORT of the PACS's DICOM service")
    pacs_called_ae: str | None = Field(default=None, description="AE title of the PACS's DICOM service")
    pacs_calling_ae: str = Field(default="MODIC", description="our AE title, also the C-MOVE destination")
    pacs_store_host: str = Field(default="127.0.0.1", description="where our Storage SCP listens during a pull")
    pacs_store_port: int = Field(default=11113, gt=0, lt=65536, description="port of that Storage SCP")
    sr_identity: SrIdentity = Field(
        default=SrIdentity.pseudonym,
        description="whom grading SRs name: 'pseudonym' (patient and rater pseudonyms) or 'hospital' (the "
        "hospital's patient id, name, birth date and sex, and the rater's user name; for the hospital's own PACS)",
    )
    sr_store_url: str | None = Field(
        default=None, description="DICOMweb base URL the SR of every grading version is stored to (STOW-RS)"
    )
    sr_store_username: str | None = Field(default=None, description="HTTP basic user name for the SR store")
    sr_store_password: SecretStr | None = Field(default=None, description="HTTP basic password for the SR store")
    sr_store_ca_file: Path | None = Field(
        default=None, description="CA certificates to check the SR store against (default: the system's)"
    )
    sr_store_retry_seconds: float = Field(
        default=30, gt=0, description="first wait before an SR the archive did not take is sent again (doubling)"
    )
    max_upload_files: int = Field(default=10_000, gt=0, description="most file parts in one upload")
    max_archive_members: int = Field(default=20_000, gt=0, description="most files in one .zip archive")
    max_archive_bytes: int = Field(
        default=1024 * 1024 * 1024,
        gt=0,
        description="most bytes one .zip archive may inflate to (counted while inflating)",
    )
    max_archive_ratio: float = Field(
        default=100, gt=1, description="most an archive or one member may expand (inflated / compressed bytes)"
    )
    max_json_body_bytes: int = Field(
        default=1024 * 1024, gt=0, description="largest JSON or other non-multipart request body"
    )
    patient_key: SecretStr | None = Field(
        default=None,
        description="key of the patient identifiers encrypted at rest (32 bytes, URL-safe base64; `modic key new`)",
    )
    max_field_chars: int = Field(
        default=10_000, gt=0, description="longest string in a JSON body, path or query parameter"
    )

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError(f"MODIC_DATABASE_URL {value!r} is not supported; use sqlite:///PATH or postgresql://...")
        return value

    @model_validator(mode="after")
    def _store_reachable(self) -> Settings:
        if self.image_store is ImageStoreKind.dicomweb:
            url = self.image_store_url or ""
            if not url.startswith(("http://", "https://")):
                raise ValueError(
                    f"MODIC_IMAGE_STORE_URL {self.image_store_url!r} must be an http:// or https:// DICOMweb URL "
                    "when MODIC_IMAGE_STORE is dicomweb"
                )
        return self

    def archive_limits(self) -> ArchiveLimits:
        """The limits of the .zip archives this service reads."""
        return ArchiveLimits(self.max_archive_members, self.max_archive_bytes, self.max_archive_ratio)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()
