""":mod:`registry.quick_settings` and :mod:`registry.dbapi` read what ``Settings`` and SQLAlchemy read, the
same way: every field of ``Settings`` is in ``FIELDS`` with its kind, default, bounds and choices; a
value the quick reader vouches for is one ``Settings`` takes, as the same value; and a database URL
the driver is opened with directly gets SQLAlchemy's own connection arguments."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any, get_args

import annotated_types
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import make_url

from registry import quick_settings
from registry.dbapi import postgresql_arguments, sqlite_path
from registry.settings import Settings


def _kind(annotation: Any) -> tuple[str, bool, tuple[str, ...]]:
    """The kind of a ``Settings`` annotation, whether it may be None, and a choice's values."""
    arguments = [a for a in get_args(annotation) if a is not type(None)] or [annotation]
    optional = len(arguments) < len(get_args(annotation))
    (kind,) = arguments
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return "choice", optional, tuple(str(m.value) for m in kind)
    names = {str: "text", Path: "path", SecretStr: "secret", int: "int", float: "float"}
    return names[kind], optional, ()


def _plain(value: Any) -> Any:
    """A ``Settings`` value as :func:`quick_settings.read` gives it."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def test_every_setting_is_declared_alike() -> None:
    assert list(quick_settings.FIELDS) == list(Settings.model_fields)
    for name, info in Settings.model_fields.items():
        field = quick_settings.FIELDS[name]
        kind, optional, choices = _kind(info.annotation)
        assert (field.kind, field.optional, field.choices) == (kind, optional, choices), name
        assert field.default == _plain(info.default), name
        bounds = {"ge": None, "gt": None, "le": None, "lt": None}
        for constraint in info.metadata:
            for bound in bounds:
                if isinstance(constraint, getattr(annotated_types, bound.capitalize())):
                    bounds[bound] = getattr(constraint, bound)
        assert bounds == {b: getattr(field, b) for b in bounds}, name


def test_the_checks_across_fields_are_the_ones_read_knows() -> None:
    """``read`` repeats the two validators of ``Settings``: a new one must be added there too."""
    decorators = Settings.__pydantic_decorators__
    assert set(decorators.field_validators) == {"_supported_database"}
    assert set(decorators.model_validators) == {"_store_reachable"}


def test_read_gives_the_defaults_and_reads_names_without_case() -> None:
    values = quick_settings.read(environ={})
    assert values == {name: _plain(info.default) for name, info in Settings.model_fields.items()}
    values = quick_settings.read({"database_url": "sqlite:///x.db"}, {"modic_Worker_Threads": "12", "OTHER": "1"})
    assert values is not None and values["worker_threads"] == 12 and values["database_url"] == "sqlite:///x.db"


@pytest.mark.parametrize(
    ("environ", "refusal"),
    [
        ({"MODIC_DATABASE_URL": "mysql://db/modic"}, "is not supported"),
        ({"MODIC_IMAGE_STORE": "dicomweb"}, "must be an http:// or https:// DICOMweb URL"),
        ({"MODIC_IMAGE_STORE": "dicomweb", "MODIC_IMAGE_STORE_URL": "ftp://x"}, "must be an http://"),
        ({"MODIC_WORKER_THREADS": "0"}, "greater than or equal to 1"),
        ({"MODIC_REVOCATION_CHECK_SECONDS": "2.5"}, "less than or equal to 2"),
        ({"MODIC_LOG_FORMAT": "xml"}, "'text' or 'json'"),
    ],
)
def test_what_settings_refuse_read_does_not_vouch_for(
    environ: dict[str, str], refusal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert quick_settings.read(environ=environ) is None
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError, match=refusal):
        Settings()


_TEXTS = st.text(alphabet="0123456789.+-_eE xabc/:", max_size=12) | st.sampled_from(
    ["0", "1", "007", "1.5", "2", "300", "65535", "65536", "dicomweb", "json", "hospital", "off", "", " 3"]
)


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(sorted(quick_settings.FIELDS)), value=_TEXTS)
def test_a_value_read_vouches_for_is_one_settings_takes_alike(name: str, value: str) -> None:
    if name == "database_url":
        value = "sqlite:///" + value
    values = quick_settings.read({name: value}, environ={})
    if values is None:
        return
    assert _plain(getattr(Settings(**{name: value}), name)) == values[name]  # type: ignore[arg-type]


_URLS = [
    "postgresql://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg://modic:s%40cret%2F1@db.example:6543/modic%20reg",
    "postgresql://db/modic",
    "postgresql://[::1]:5432/modic",
    "postgresql:///modic",
    "postgresql://user@/modic",
    "postgresql://u:@h/d",
    "postgresql://h1,h2/modic",
]


@pytest.mark.parametrize("url", _URLS)
def test_postgresql_is_opened_with_sqlalchemys_arguments(url: str) -> None:
    arguments = postgresql_arguments(url)
    assert arguments is not None
    assert arguments == PGDialect_psycopg().create_connect_args(make_url(url))[1]


@pytest.mark.parametrize(
    "url", ["sqlite:///modic.db", "sqlite:////var/lib/modic/modic.db", "sqlite:///./a%20b.db", "sqlite:///x/../y.db"]
)
def test_sqlite_is_opened_on_sqlalchemys_file(url: str) -> None:
    path = sqlite_path(url)
    assert path is not None
    assert [path] == SQLiteDialect_pysqlite().create_connect_args(make_url(url))[0]


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "postgresql://modic:p@ss:word@db/modic",
        "sqlite:///:memory:",
        "sqlite:///file:modic.db?mode=ro&uri=true",
        "sqlite:///modic.db?timeout=5",
        "postgresql://db/modic?sslmode=require",
        "postgresql://",
    ],
)
def test_other_urls_are_left_to_sqlalchemy(url: str) -> None:
    assert sqlite_path(url) is None and postgresql_arguments(url) is None
