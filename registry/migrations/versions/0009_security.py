"""security: token expiry and the revocation counter

Revision ID: i11_security
Revises: i15_pulls
Create Date: 2026-11-29 16:20:00

``api_tokens.expires_at``: when a token stops being accepted. Existing tokens get NULL, which means
"never expires", as they did before; tokens issued from now on expire after
``MODIC_TOKEN_LIFETIME_DAYS``.

``revocations``: one row whose ``epoch`` is raised by every revocation (a token revoked, a user
disabled) in the same transaction; each process compares it every second with the value it last saw
and forgets the tokens it has cached when it changed. Starts at 0.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i11_security"
down_revision: str | None = "i15_pulls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    revocations = op.create_table(
        "revocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(revocations, [{"id": 1, "epoch": 0}])


def downgrade() -> None:
    op.drop_table("revocations")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
