"""A partial index on the outbox rows being sent (``state = 'sending'``): the daemon's
every check asks for the oldest claim among them (next_wake), which read the whole
outbox without it (10 ms at 100,000 rows, twice a minute, forever: the idle daemon's
main cost). Few rows are ever being sent, so the index is tiny.

Revision ID: 0006_outbox_sending_index
Revises: 0005_portal_notices
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_outbox_sending_index"
down_revision = "0005_portal_notices"
branch_labels = None
depends_on = None

SENDING = sa.text("state = 'sending'")


def upgrade() -> None:
    op.create_index(
        "ix_outbox_sending",
        "outbox",
        ["claimed_at"],
        sqlite_where=SENDING,
        postgresql_where=SENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_sending", table_name="outbox")
