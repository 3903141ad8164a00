"""pulls: pull requests from a PACS and one outcome row per requested patient

Adds two new tables; no existing row changes.

Revision ID: i15_pulls
Revises: i16_annotations
Create Date: 2026-11-29 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i15_pulls"
down_revision: str | None = "i16_annotations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pulls",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=False),
        sa.Column("archive", sa.String(length=300), nullable=False),
        sa.Column("since", sa.Date(), nullable=True),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("patients_total", sa.Integer(), nullable=False),
        sa.Column("patients_done", sa.Integer(), nullable=False),
        sa.Column("series_fetched", sa.Integer(), nullable=False),
        sa.Column("instances_fetched", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["requested_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("pulls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pulls_request_key"), ["request_key"], unique=False)
    op.create_table(
        "pull_items",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("pull_id", sa.String(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.String(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.Column("studies", sa.Integer(), nullable=False),
        sa.Column("series", sa.Integer(), nullable=False),
        sa.Column("instances", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.ForeignKeyConstraint(["pull_id"], ["pulls.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pull_id", "row"),
    )
    with op.batch_alter_table("pull_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pull_items_pull_id"), ["pull_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pull_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pull_items_pull_id"))
    op.drop_table("pull_items")
    with op.batch_alter_table("pulls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pulls_request_key"))
    op.drop_table("pulls")
