"""sr store: deliveries of grading SRs to the archive

Revision ID: i15_sr_store
Revises: i10a_grras
Create Date: 2026-11-29 20:05:00

``sr_deliveries``: one row per grading version and destination archive once its SR was sent or tried
(status ``sent`` or ``retrying`` with the next attempt's time and the archive's last answer). A version
with no row for the configured destination is waiting to be sent.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i15_sr_store"
down_revision: str | None = "i10a_grras"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sr_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grading_version_id", sa.Integer(), nullable=False),
        sa.Column("destination", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["grading_version_id"], ["grading_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("grading_version_id", "destination"),
    )
    op.create_index("ix_sr_deliveries_grading_version_id", "sr_deliveries", ["grading_version_id"])


def downgrade() -> None:
    op.drop_index("ix_sr_deliveries_grading_version_id", table_name="sr_deliveries")
    op.drop_table("sr_deliveries")
