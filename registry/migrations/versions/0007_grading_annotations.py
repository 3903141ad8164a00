"""annotations: level labels and height-fraction measurements kept with each grading version

Adds two nullable JSON columns to ``grading_versions``: ``levels`` (the vertebral level labels the
rater placed, in patient coordinates) and ``measurements`` (height-fraction measurements). Existing
versions keep their meaning: NULL in both says that no labels or measurements were recorded with
them, which is what happened.

Revision ID: i16_annotations
Revises: i14_episodes
Create Date: 2026-11-29 16:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i16_annotations"
down_revision: str | None = "i14_episodes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("grading_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("levels", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("measurements", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("grading_versions", schema=None) as batch_op:
        batch_op.drop_column("measurements")
        batch_op.drop_column("levels")
