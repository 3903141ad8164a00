"""need to know: assignments, the registrar privilege, patient identifiers encrypted at rest

Revision ID: i11_need_to_know
Revises: i17a_jobs
Create Date: 2026-11-29 19:40:00

``assignments``: which radiologist may read which study. Filled for what each radiologist already
had in hand: the studies they registered and the studies they graded clinically. Every other study
is reached by a radiologist only once an admin assigns it.

``users.registrar``: may register studies and upload images (false for everyone: an admin grants it).

``patients``: the hospital id, name, birth date and sex of every row are encrypted with
``MODIC_PATIENT_KEY`` (:mod:`registry.crypto`), and ``hospital_id_index`` (the keyed blind index of the
hospital id) replaces the index on the hospital id. Needs the key when there are patients. The columns
are changed with ``ADD``/``DROP``/``RENAME COLUMN`` rather than by copying the table (SQLite's batch
mode), because other tables' foreign keys point at ``patients``; on SQLite the two new ``NOT NULL``
columns keep the empty default they were added with.
"""

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from registry import crypto
from registry.models.base import UTCDateTime, new_id, utcnow

revision: str = "i11_need_to_know"
down_revision: str | None = "i17a_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PLAIN = ("hospital_id", "name", "birth_date", "sex")


def _iso(value: Any) -> str | None:
    """A stored date as ISO text (SQLite returns text, PostgreSQL a date)."""
    return None if value is None else value if isinstance(value, str) else value.isoformat()


def upgrade() -> None:
    op.add_column("users", sa.Column("registrar", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "assignments",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("study_id", sa.String(), nullable=False),
        sa.Column("assigned_by", sa.String(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["assigned_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["study_id"], ["studies.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "study_id"),
    )
    op.create_index(op.f("ix_assignments_study_id"), "assignments", ["study_id"], unique=False)
    op.create_index(op.f("ix_assignments_user_id"), "assignments", ["user_id"], unique=False)
    _assign_what_radiologists_had()
    _encrypt_patients()


def _assign_what_radiologists_had() -> None:
    bind = op.get_bind()
    registered = bind.execute(
        sa.text(
            "SELECT s.created_by, s.id FROM studies s JOIN users u ON u.id = s.created_by WHERE u.role = 'radiologist'"
        )
    ).all()
    graded = bind.execute(
        sa.text(
            "SELECT DISTINCT g.rater_id, g.study_id FROM gradings g JOIN users u ON u.id = g.rater_id "
            "WHERE u.role = 'radiologist' AND g.kind = 'clinical'"
        )
    ).all()
    pairs = sorted({(user_id, study_id) for user_id, study_id in [*registered, *graded]})
    if pairs:
        table = sa.table(
            "assignments",
            sa.column("id"),
            sa.column("user_id"),
            sa.column("study_id"),
            sa.column("assigned_at", UTCDateTime()),
        )
        now = utcnow()
        bind.execute(
            table.insert(), [{"id": new_id(), "user_id": u, "study_id": s, "assigned_at": now} for u, s in pairs]
        )


def _encrypt_patients() -> None:
    bind = op.get_bind()
    op.add_column("patients", sa.Column("hospital_id_index", sa.String(length=64), nullable=False, server_default=""))
    op.add_column("patients", sa.Column("hospital_id_enc", sa.Text(), nullable=False, server_default=""))
    for column in _PLAIN[1:]:
        op.add_column("patients", sa.Column(f"{column}_enc", sa.Text(), nullable=True))
    rows = bind.execute(sa.text("SELECT id, hospital_id, name, birth_date, sex FROM patients")).all()
    if rows:
        cipher = crypto.cipher()  # PatientKeyError, naming the setting, when the key is missing

        def seal(value: str | None, column: str) -> str | None:
            return None if value is None else cipher.encrypt(value, column)

        bind.execute(
            sa.text(
                "UPDATE patients SET hospital_id_index = :index, hospital_id_enc = :hospital_id, name_enc = :name, "
                "birth_date_enc = :birth_date, sex_enc = :sex WHERE id = :id"
            ),
            [
                {
                    "id": row.id,
                    "index": cipher.blind_index(row.hospital_id),
                    "hospital_id": seal(row.hospital_id, "hospital_id"),
                    "name": seal(row.name, "name"),
                    "birth_date": seal(_iso(row.birth_date), "birth_date"),
                    "sex": seal(row.sex, "sex"),
                }
                for row in rows
            ],
        )
    op.drop_index("ix_patients_hospital_id", table_name="patients")
    _replace_columns(bind, "_enc")
    op.create_index(op.f("ix_patients_hospital_id_index"), "patients", ["hospital_id_index"], unique=True)
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE patients ALTER COLUMN hospital_id_index DROP DEFAULT")
        op.execute("ALTER TABLE patients ALTER COLUMN hospital_id DROP DEFAULT")


def _replace_columns(bind: Any, suffix: str) -> None:
    """Drop the columns of :data:`_PLAIN` and give their names to the ones ending in ``suffix``."""
    for column in _PLAIN:
        op.execute(f"ALTER TABLE patients DROP COLUMN {column}")
        op.execute(f"ALTER TABLE patients RENAME COLUMN {column}{suffix} TO {column}")


def downgrade() -> None:
    bind = op.get_bind()
    op.add_column("patients", sa.Column("hospital_id_plain", sa.String(length=64), nullable=False, server_default=""))
    op.add_column("patients", sa.Column("name_plain", sa.String(length=200), nullable=True))
    op.add_column("patients", sa.Column("birth_date_plain", sa.Date(), nullable=True))
    op.add_column("patients", sa.Column("sex_plain", sa.String(length=1), nullable=True))
    rows = bind.execute(sa.text("SELECT id, hospital_id, name, birth_date, sex FROM patients")).all()
    if rows:
        cipher = crypto.cipher()

        def unseal(value: str | None, column: str) -> str | None:
            return None if value is None else cipher.decrypt(value, column)

        table = sa.table(
            "patients",
            sa.column("id"),
            sa.column("hospital_id_plain"),
            sa.column("name_plain"),
            sa.column("birth_date_plain", sa.Date()),
            sa.column("sex_plain"),
        )
        for row in rows:
            birth = unseal(row.birth_date, "birth_date")
            bind.execute(
                table.update()
                .where(table.c.id == row.id)
                .values(
                    hospital_id_plain=unseal(row.hospital_id, "hospital_id"),
                    name_plain=unseal(row.name, "name"),
                    birth_date_plain=None if birth is None else dt.date.fromisoformat(birth),
                    sex_plain=unseal(row.sex, "sex"),
                )
            )
    op.drop_index(op.f("ix_patients_hospital_id_index"), table_name="patients")
    op.execute("ALTER TABLE patients DROP COLUMN hospital_id_index")
    _replace_columns(bind, "_plain")
    op.create_index("ix_patients_hospital_id", "patients", ["hospital_id"], unique=True)
    op.drop_index(op.f("ix_assignments_user_id"), table_name="assignments")
    op.drop_index(op.f("ix_assignments_study_id"), table_name="assignments")
    op.drop_table("assignments")
    op.execute("ALTER TABLE users DROP COLUMN registrar")
