"""i14 episodes: screening episodes (index date, birth and onset dates), frozen decisions, enrolment, allocation

Revision ID: i14_episodes
Revises: i12_nordic_record
Create Date: 2026-11-29 16:10:00

Existing rows keep their meaning: screening records get no index date (they are judged at the
evaluation date as before, until an index date is recorded); no decision is frozen or amended; the
new tables start empty. The 2007 registry rule set now reads its own questions
(``danish_speak_understand``, ``nrs_actual_pain``): existing ``danish`` and ``nrs_back`` answers were
asked with the paper's wording and keep serving the 2012 version only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i14_episodes"
down_revision: str | None = "i12_nordic_record"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("screening_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("index_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("date_of_birth", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("symptom_onset_date", sa.Date(), nullable=True))
    with op.batch_alter_table("eligibility_decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("amendment", sa.JSON(), nullable=True))
    op.create_table(
        "enrolments",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("patient_id", sa.String(), nullable=False),
        sa.Column("trial", sa.String(length=64), nullable=False),
        sa.Column("rule_version", sa.String(length=64), nullable=False),
        sa.Column("screening_id", sa.String(), nullable=False),
        sa.Column("consent_date", sa.Date(), nullable=False),
        sa.Column("consent_by", sa.String(length=200), nullable=False),
        sa.Column("decision", sa.JSON(), nullable=False),
        sa.Column("enrolled_by", sa.String(), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["enrolled_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.ForeignKeyConstraint(["screening_id"], ["screening_records.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("patient_id", "trial"),
    )
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enrolments_patient_id"), ["patient_id"], unique=False)
    op.create_table(
        "allocations",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("trial", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.String(), nullable=False),
        sa.Column("scheme_version", sa.String(length=64), nullable=False),
        sa.Column("arm", sa.String(length=64), nullable=False),
        sa.Column("levels", sa.JSON(), nullable=False),
        sa.Column("imbalance", sa.JSON(), nullable=False),
        sa.Column("ranking", sa.JSON(), nullable=False),
        sa.Column("probabilities", sa.JSON(), nullable=False),
        sa.Column("draw", sa.Float(), nullable=False),
        sa.Column("allocated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["enrolment_id"], ["enrolments.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("enrolment_id"),
        sa.UniqueConstraint("trial", "sequence"),
    )
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_allocations_trial"), ["trial"], unique=False)
    op.create_table(
        "allocation_streams",
        sa.Column("trial", sa.String(length=64), nullable=False),
        sa.Column("seed", sa.String(length=128), nullable=False),
        sa.Column("allocated", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("trial"),
    )


def downgrade() -> None:
    op.drop_table("allocation_streams")
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_allocations_trial"))
    op.drop_table("allocations")
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrolments_patient_id"))
    op.drop_table("enrolments")
    with op.batch_alter_table("eligibility_decisions", schema=None) as batch_op:
        batch_op.drop_column("amendment")
        batch_op.drop_column("frozen_at")
    with op.batch_alter_table("screening_records", schema=None) as batch_op:
        batch_op.drop_column("symptom_onset_date")
        batch_op.drop_column("date_of_birth")
        batch_op.drop_column("index_date")
