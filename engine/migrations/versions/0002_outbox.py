"""The outbox of reminders, each deadline's next send instant, and store metadata.

Revision ID: 0002
Revises: 0001
Create Date: 2026-05-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("deadlines") as batch:
        batch.add_column(sa.Column("next_send_at", TS))
        batch.add_column(sa.Column("materialised_through", TS))
        batch.create_index("ix_deadlines_next_send_at", ["next_send_at"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("deadline_id", sa.Integer, sa.ForeignKey("deadlines.id")),
        sa.Column("stage", sa.String(100), nullable=False),
        sa.Column("repeat", sa.Integer, nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("recipient_name", sa.String(300)),
        sa.Column("send_at", TS, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("message_id", sa.String(200)),
        sa.Column("claim_token", sa.String(64)),
        sa.Column("claimed_at", TS),
        sa.Column("sent_at", TS),
        sa.Column("reported_in", sa.Integer),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint(
            "deadline_id", "stage", "repeat", "recipient", name="uq_outbox_instance"
        ),
    )
    op.create_index(
        "uq_outbox_summary",
        "outbox",
        ["stage", "repeat", "recipient"],
        unique=True,
        sqlite_where=sa.text("deadline_id IS NULL"),
        postgresql_where=sa.text("deadline_id IS NULL"),
    )
    op.create_index("ix_outbox_state_next", "outbox", ["state", "next_attempt_at"])
    op.create_table(
        "store_meta",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("store_meta")
    op.drop_table("outbox")
    with op.batch_alter_table("deadlines") as batch:
        batch.drop_index("ix_deadlines_next_send_at")
        batch.drop_column("materialised_through")
        batch.drop_column("next_send_at")
