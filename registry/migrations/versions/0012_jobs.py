"""jobs: background work that runs once across processes

Revision ID: i17a_jobs
Revises: i15_sr_store
Create Date: 2026-11-29 19:30:00

``background_jobs``: one row per periodic job (the date re-evaluation of eligibility): how many times
it ran, when it last started and finished, on which host and process, and the error that ended it.
A process that holds the job's lock skips the job when another ran it less than one period ago.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i17a_jobs"
down_revision: str | None = "i15_sr_store"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "background_jobs",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("node", sa.String(length=200), nullable=False),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("background_jobs")
