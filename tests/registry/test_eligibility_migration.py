"""The tables created by the Alembic migrations (eligibility included) match the SQLModel tables."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

from registry.db import get_engine, migrate
from registry.models import load_all


def test_migrations_match_the_models(database_url: str) -> None:
    load_all()  # every table, for the comparison
    engine = get_engine(database_url)
    migrate(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
        counter = connection.execute(text("SELECT id, value FROM eligibility_feed_counter")).all()
    assert diff == []
    assert [tuple(row) for row in counter] == [(1, 0)]  # the single feed counter row exists from the start
