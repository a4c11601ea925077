"""Tables of the web portal (issue 8): reports, attachments, extensions,
acknowledgements, one-off notices for the daemon to mail, and sign-in links.

Plain SQLAlchemy tables on the store's metadata; the schema is owned by the
migration ``0004_portal``. Instants go through :class:`~engine.store.tables.UTCDateTime`.
"""

from __future__ import annotations

import sqlalchemy as sa

from engine.store.tables import UTCDateTime, metadata

#: Report states: waiting for the focal point, confirmed, returned, or closed at once.
R_PENDING, R_CONFIRMED, R_RETURNED, R_DIRECT = "pending", "confirmed", "returned", "direct"
#: Extension request states.
X_PENDING, X_APPROVED, X_REFUSED = "pending", "approved", "refused"

reports = sa.Table(
    "reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("deadline_id", sa.Integer, sa.ForeignKey("deadlines.id"), nullable=False),
    sa.Column("reported_by", sa.String(320), nullable=False),
    sa.Column("reported_at", UTCDateTime, nullable=False),
    sa.Column("doc_number", sa.String(200)),
    sa.Column("doc_date", sa.Date),
    sa.Column("note", sa.Text),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("decided_by", sa.String(320)),
    sa.Column("decided_at", UTCDateTime),
    sa.Column("decision_reason", sa.Text),
    sa.Index("ix_reports_deadline", "deadline_id"),
)

attachments = sa.Table(
    "attachments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("report_id", sa.Integer, sa.ForeignKey("reports.id"), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Index("ix_attachments_report", "report_id"),
)

extensions = sa.Table(
    "extensions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("deadline_id", sa.Integer, sa.ForeignKey("deadlines.id"), nullable=False),
    sa.Column("requested_by", sa.String(320), nullable=False),
    sa.Column("requested_at", UTCDateTime, nullable=False),
    sa.Column("old_due", sa.Date, nullable=False),
    sa.Column("new_due", sa.Date, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("decided_by", sa.String(320)),
    sa.Column("decided_at", UTCDateTime),
    sa.Column("decision_reason", sa.Text),
    sa.Index("ix_extensions_deadline", "deadline_id"),
)

acknowledgements = sa.Table(
    "acknowledgements",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("deadline_id", sa.Integer, sa.ForeignKey("deadlines.id"), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("deadline_id", "recipient", name="uq_ack_deadline_recipient"),
)

#: One-off messages (report to confirm, report returned, sign-in link) that the web
#: process queues and the daemon sends; the web process never sends mail itself.
notices = sa.Table(
    "notices",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("deadline_id", sa.Integer, sa.ForeignKey("deadlines.id")),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime),
    sa.Column("last_error", sa.Text),
    # Retried like digests (migration 0005_portal_notices): failed tries so far, the
    # earliest next try (NULL: at once), when a process claimed it (``sending``), and
    # the failure summary that reported it.
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("claimed_at", UTCDateTime),
    sa.Column("reported_in", sa.Integer),
    sa.Index("ix_notices_state", "state"),
)

#: Sign-in links requested (rate limit; each link works once).
signins = sa.Table(
    "signins",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("nonce", sa.String(64), nullable=False, unique=True),
    sa.Column("requested_at", UTCDateTime, nullable=False),
    sa.Column("from_addr", sa.String(100)),
    sa.Column("used_at", UTCDateTime),
    sa.Index("ix_signins_email_at", "email", "requested_at"),
)
