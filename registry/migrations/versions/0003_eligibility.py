"""eligibility: screening records, decisions, feed counter

Revision ID: 0003_eligibility
Revises: 0002_reliability
Create Date: 2026-11-22 02:35:11.403677
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_eligibility"
down_revision: str | None = "0002_reliability"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "eligibility_feed_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(sa.table("eligibility_feed_counter", sa.column("id"), sa.column("value")), [{"id": 1, "value": 0}])
    op.create_table(
        "screening_records",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("patient_id", sa.String(), nullable=False),
        sa.Column("trial", sa.String(length=64), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("patient_id", "trial"),
    )
    with op.batch_alter_table("screening_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_screening_records_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "eligibility_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.String(), nullable=False),
        sa.Column("trial", sa.String(length=64), nullable=False),
        sa.Column("rule_version", sa.String(length=64), nullable=False),
        sa.Column("study_id", sa.String(), nullable=True),
        sa.Column("grading_id", sa.String(), nullable=True),
        sa.Column("grading_version", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("imaging", sa.String(length=20), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("evaluation_date", sa.Date(), nullable=False),
        sa.Column("next_change", sa.Date(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["grading_id"],
            ["gradings.id"],
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
        ),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["studies.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("patient_id", "trial", "rule_version"),
        sa.UniqueConstraint("seq"),
    )
    with op.batch_alter_table("eligibility_decisions", schema=None) as batch_op:
        batch_op.create_index("ix_eligibility_decisions_feed", ["trial", "rule_version", "seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_eligibility_decisions_next_change"), ["next_change"], unique=False)
        batch_op.create_index(batch_op.f("ix_eligibility_decisions_patient_id"), ["patient_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("eligibility_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_eligibility_decisions_patient_id"))
        batch_op.drop_index(batch_op.f("ix_eligibility_decisions_next_change"))
        batch_op.drop_index("ix_eligibility_decisions_feed")

    op.drop_table("eligibility_decisions")
    with op.batch_alter_table("screening_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_screening_records_patient_id"))

    op.drop_table("screening_records")
    op.drop_table("eligibility_feed_counter")
