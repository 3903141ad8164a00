"""Closed vocabularies in the tables are StrEnum columns: stored as their value text, read back as members."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import StatementError
from sqlmodel import select

from registry.db import get_engine, session_scope
from registry.models import GradingKind, PullOutcome, PullStatus, Role, User
from registry.models.base import EnumText


@pytest.mark.parametrize("vocabulary", [Role, GradingKind, PullStatus, PullOutcome])
def test_the_registry_vocabularies_are_str_enums(vocabulary: type) -> None:
    assert all(isinstance(member, str) and member == member.value for member in vocabulary)


def test_a_role_is_stored_as_its_text_and_read_back_as_a_member(database_url: str) -> None:
    engine = get_engine(database_url)
    with session_scope(engine, write=True) as session:
        session.add(User(name="enum-probe", role=Role.allocation_manager))
        session.commit()
    with session_scope(engine) as session:
        stored = session.execute(text("SELECT role FROM users WHERE name = 'enum-probe'")).scalar_one()
        user = session.exec(select(User).where(User.name == "enum-probe")).one()
        by_role = session.exec(select(User.name).where(User.role == Role.allocation_manager)).all()
    assert stored == "allocation_manager"
    assert user.role is Role.allocation_manager
    assert by_role == ["enum-probe"]


def test_an_unknown_value_is_refused_naming_the_allowed_ones(database_url: str) -> None:
    engine = get_engine(database_url)
    refused = pytest.raises(StatementError, match="Role 'superuser' is unknown; allowed: admin, radiologist")
    with refused, session_scope(engine, write=True) as session:
        session.add(User(name="enum-bad", role="superuser"))  # type: ignore[arg-type]
        session.commit()
    assert EnumText(Role, 20).process_result_value("screener", None) is Role.screener
