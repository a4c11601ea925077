"""Audit log: refuse TRUNCATE on PostgreSQL; record the OS user beside the actor.

``--by`` is self-declared; ``os_user`` is the login of the process that made the
change (and, once the portal exists, its signed-in identity goes in ``actor``).

Revision ID: 0003_audit_truncate
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_audit_truncate"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (no batch copy on SQLite: that would drop the audit triggers).
    op.add_column("audit_log", sa.Column("os_user", sa.String(200), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # Row triggers (0001) do not fire on TRUNCATE; a statement trigger does.
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
    op.drop_column("audit_log", "os_user")
