"""Index the audit log by entity, so "the newest event change" is one index look-up.

Materialisation is skipped when nothing it depends on changed (issue 13); the events'
high-water mark is the id of the newest audit row about an event: every event recorded
or removed appends one in the same transaction, and ids of the append-only log never
go back (unlike ``events.id``, which SQLite reuses after the newest row is deleted).

Revision ID: 0003_perf_fingerprint
Revises: 0003_audit_truncate
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0003_perf_fingerprint"
down_revision = "0003_audit_truncate"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_entity_id", "audit_log", ["entity", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_entity_id", table_name="audit_log")
