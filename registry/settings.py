"""Typed settings read from the environment (``MODIC_*``) with safe defaults."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from grading.field_strength import DEFAULT_FIELD_STRENGTH_T
from registry.imaging.archive import ArchiveLimits


class Settings(BaseSettings):
    """Service settings; every field can be set as ``MODIC_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="MODIC_", extra="ignore")

    database_url: str = Field(default="sqlite:///./modic.db", description="SQLAlchemy URL of the registry database")
    data_dir: Path = Field(default=Path("./modic-data"), description="where image files are kept")
    expected_field_strength_t: float = Field(
        default=DEFAULT_FIELD_STRENGTH_T, gt=0, description="field strength the site scans at"
    )
    worker_threads: int = Field(default=8, ge=1, le=200, description="threads serving blocking requests")
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
    max_upload_bytes: int = Field(default=512 * 1024 * 1024, gt=0, description="largest accepted upload")
    pacs_dicomweb_url: str | None = Field(default=None, description="DICOMweb base URL of the PACS (https for TLS)")
    pacs_dicomweb_username: str | None = Field(default=None, description="HTTP basic user name for DICOMweb")
    pacs_dicomweb_password: SecretStr | None = Field(default=None, description="HTTP basic password for DICOMweb")
    pacs_dicomweb_ca_file: Path | None = Field(
        default=None, description="CA certificates to check the DICOMweb server against (default: the system's)"
    )
    pacs_dimse_address: str | None = Field(default=None, description="HOST:PORT of the PACS's DICOM service")
    pacs_called_ae: str | None = Field(default=None, description="AE title of the PACS's DICOM service")
    pacs_calling_ae: str = Field(default="MODIC", description="our AE title, also the C-MOVE destination")
    pacs_store_host: str = Field(default="127.0.0.1", description="where our Storage SCP listens during a pull")
    pacs_store_port: int = Field(default=11113, gt=0, lt=65536, description="port of that Storage SCP")
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

    def archive_limits(self) -> ArchiveLimits:
        """The limits of the .zip archives this service reads."""
        return ArchiveLimits(self.max_archive_members, self.max_archive_bytes, self.max_archive_ratio)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()
