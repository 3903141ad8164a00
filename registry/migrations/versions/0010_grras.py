"""grras: what a reliability report states about its set-up (GRRAS), read-2 labels, exported orders

Revision ID: i10a_grras
Revises: i11_security
Create Date: 2026-11-29 19:30:00

``reliability_studies``: ``sampling`` and ``sampling_note`` (how the cases were chosen),
``blinded_to`` (what raters did not see) and ``order_scheme`` (how the raters' orders derive from
the seed). Existing studies keep NULL sampling, an empty blinding list (the report then lists only
what the service enforces) and the scheme ``record-shuffle`` they were drawn with.

``reliability_raters``: ``role`` and ``experience_years``, NULL (not recorded) on existing rows.

``reliability_cases.read2_label``: the label shown on read 2; NULL on existing cases, which keep
showing their read-1 label on read 2 as they did.

``reliability_worklist_items.series_viewed``: T2, STIR or T2+STIR as the workstation reported it;
NULL on reads made before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i10a_grras"
down_revision: str | None = "i11_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reliability_studies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sampling", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("sampling_note", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("blinded_to", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(
            sa.Column("order_scheme", sa.String(length=20), nullable=False, server_default="record-shuffle")
        )
    with op.batch_alter_table("reliability_raters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("experience_years", sa.Float(), nullable=True))
    with op.batch_alter_table("reliability_cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("read2_label", sa.String(length=20), nullable=True))
        batch_op.create_unique_constraint("uq_reliability_cases_read2_label", ["read2_label"])
    with op.batch_alter_table("reliability_worklist_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("series_viewed", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reliability_worklist_items", schema=None) as batch_op:
        batch_op.drop_column("series_viewed")
    with op.batch_alter_table("reliability_cases", schema=None) as batch_op:
        batch_op.drop_constraint("uq_reliability_cases_read2_label", type_="unique")
        batch_op.drop_column("read2_label")
    with op.batch_alter_table("reliability_raters", schema=None) as batch_op:
        batch_op.drop_column("experience_years")
        batch_op.drop_column("role")
    with op.batch_alter_table("reliability_studies", schema=None) as batch_op:
        batch_op.drop_column("order_scheme")
        batch_op.drop_column("blinded_to")
        batch_op.drop_column("sampling_note")
        batch_op.drop_column("sampling")
