"""nordic record: the grading protocol and the numbering reference of each grading version, and the
protocol of each reliability study

What it does to existing rows: nothing is rewritten. ``grading_versions.protocol`` and
``reliability_studies.protocol`` are added with the server default ``nordic-2007`` (type and size, the
only variables graded before), so every existing version and study reads as the core protocol it was
made under. ``grading_versions.numbering`` is added as NULL: how the levels were identified was not
recorded. The endplates JSON of existing versions is untouched: its entries keep ``type``, ``size``
and ``extension_pct``, and the size boundaries of ``extension_pct`` (0 → A, more than 0 up to 25 → B,
more than 25 up to 50 → C, more than 50 → D) are the ones they were validated with, so each stored
size and each eligibility decision stays as it was. A not-assessable endplate is a new kind of entry
(``{"not_assessable", "note"}``) that no existing row holds.

Revision ID: i12_nordic_record
Revises: 0004_imaging
Create Date: 2026-11-29 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i12_nordic_record"
down_revision: str | None = "0004_imaging"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("grading_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("protocol", sa.String(length=40), nullable=False, server_default="nordic-2007"))
        batch_op.add_column(sa.Column("numbering", sa.JSON(), nullable=True))
    with op.batch_alter_table("reliability_studies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("protocol", sa.String(length=40), nullable=False, server_default="nordic-2007"))


def downgrade() -> None:
    with op.batch_alter_table("reliability_studies", schema=None) as batch_op:
        batch_op.drop_column("protocol")
    with op.batch_alter_table("grading_versions", schema=None) as batch_op:
        batch_op.drop_column("numbering")
        batch_op.drop_column("protocol")
