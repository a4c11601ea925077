"""Portal notices are retried like digests: attempts, next attempt, when a process
claimed one (a claim left by a dead process is taken back), and the failure summary
that reported a notice that failed for good.

Revision ID: 0005_portal_notices
Revises: 0004_portal
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_portal_notices"
down_revision = "0004_portal"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("next_attempt_at", TS))
        batch.add_column(sa.Column("claimed_at", TS))
        batch.add_column(sa.Column("reported_in", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.drop_column("reported_in")
        batch.drop_column("claimed_at")
        batch.drop_column("next_attempt_at")
        batch.drop_column("attempts")
