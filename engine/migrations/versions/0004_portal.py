"""The web portal: reports with attachments, extensions, acknowledgements, notices,
sign-in links; deadlines keep their original due date and the reported instant.

Revision ID: 0004_portal
Revises: 0003_audit_truncate
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_portal"
down_revision = "0003_perf_fingerprint"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("deadlines") as batch:
        batch.add_column(sa.Column("original_due", sa.Date))
        batch.add_column(sa.Column("reported_at", TS))
    op.create_index("ix_deadlines_status_due", "deadlines", ["status", "due"])
    op.create_index("ix_deadlines_due", "deadlines", ["due"])
    # An extension gives a deadline a new ladder: the due date joins the outbox key.
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("due", sa.Date))
    op.execute(
        "UPDATE outbox SET due = (SELECT deadlines.due FROM deadlines "
        "WHERE deadlines.id = outbox.deadline_id) WHERE deadline_id IS NOT NULL"
    )
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("uq_outbox_instance", type_="unique")
        batch.create_unique_constraint(
            "uq_outbox_instance", ["deadline_id", "due", "stage", "repeat", "recipient"]
        )
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("deadline_id", sa.Integer, sa.ForeignKey("deadlines.id"), nullable=False),
        sa.Column("reported_by", sa.String(320), nullable=False),
        sa.Column("reported_at", TS, nullable=False),
        sa.Column("doc_number", sa.String(200)),
        sa.Column("doc_date", sa.Date),
        sa.Column("note", sa.Text),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("decided_by", sa.String(320)),
        sa.Column("decided_at", TS),
        sa.Column("decision_reason", sa.Text),
    )
    op.create_index("ix_reports_deadline", "reports", ["deadline_id"])
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("report_id", sa.Integer, sa.ForeignKey("reports.id"), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
    )
    op.create_index("ix_attachments_report", "attachments", ["report_id"])
    op.create_table(
        "extensions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("deadline_id", sa.Integer, sa.ForeignKey("deadlines.id"), nullable=False),
        sa.Column("requested_by", sa.String(320), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("old_due", sa.Date, nullable=False),
        sa.Column("new_due", sa.Date, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("decided_by", sa.String(320)),
        sa.Column("decided_at", TS),
        sa.Column("decision_reason", sa.Text),
    )
    op.create_index("ix_extensions_deadline", "extensions", ["deadline_id"])
    op.create_table(
        "acknowledgements",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("deadline_id", sa.Integer, sa.ForeignKey("deadlines.id"), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.UniqueConstraint("deadline_id", "recipient", name="uq_ack_deadline_recipient"),
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("deadline_id", sa.Integer, sa.ForeignKey("deadlines.id")),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_notices_state", "notices", ["state"])
    op.create_table(
        "signins",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False, unique=True),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("from_addr", sa.String(100)),
        sa.Column("used_at", TS),
    )
    op.create_index("ix_signins_email_at", "signins", ["email", "requested_at"])


def downgrade() -> None:
    op.drop_table("signins")
    op.drop_table("notices")
    op.drop_table("acknowledgements")
    op.drop_table("extensions")
    op.drop_table("attachments")
    op.drop_table("reports")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("uq_outbox_instance", type_="unique")
        batch.create_unique_constraint(
            "uq_outbox_instance", ["deadline_id", "stage", "repeat", "recipient"]
        )
        batch.drop_column("due")
    op.drop_index("ix_deadlines_due", "deadlines")
    op.drop_index("ix_deadlines_status_due", "deadlines")
    with op.batch_alter_table("deadlines") as batch:
        batch.drop_column("reported_at")
        batch.drop_column("original_due")
