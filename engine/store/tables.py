"""The tracking store's tables (SQLModel): events, deadlines, outbox, audit log.

Instants are stored in UTC through :class:`UTCDateTime`: an aware datetime goes in,
an aware UTC datetime comes out (SQLite hands back naive values, which are UTC by
construction); a naive datetime is refused rather than guessed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

#: Deadline states. ``cancelled``: the rule or the occurrence no longer exists.
OPEN, DONE, WAIVED, CANCELLED = "open", "done", "waived", "cancelled"
#: The unit reported completion in the portal; the focal point has not confirmed yet.
REPORTED = "reported"
CLOSED_BY_USER = (DONE, WAIVED)

#: Outbox states. ``sending`` is a claim held by one process while it sends.
PENDING, SENDING, SENT, SUPERSEDED, FAILED = "pending", "sending", "sent", "superseded", "failed"

#: Stage name of the daily failure summary rows (no deadline).
FAILURE_SUMMARY = "failure-summary"


class UTCDateTime(TypeDecorator):
    """``DateTime(timezone=True)`` that stores UTC and always returns aware UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} refused: pass an aware instant")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class EventRow(SQLModel, table=True):
    """Something that happened (a TTHC published...): starts ``after`` rules."""

    __tablename__ = "events"
    __table_args__ = (sa.UniqueConstraint("type", "event_id", name="uq_events_type_id"),)

    id: int | None = Field(default=None, primary_key=True)
    type: str = Field(max_length=100)
    event_id: str = Field(max_length=200)
    date: date
    attrs: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    recorded_by: str = Field(max_length=200)
    recorded_at: datetime = Field(sa_type=UTCDateTime)


class DeadlineRow(SQLModel, table=True):
    """One (rule, key) occurrence and where it stands."""

    __tablename__ = "deadlines"
    __table_args__ = (
        sa.UniqueConstraint("rule_id", "key", name="uq_deadlines_rule_key"),
        # The portal's lists and reports select by status and due date.
        sa.Index("ix_deadlines_status_due", "status", "due"),
        sa.Index("ix_deadlines_due", "due"),
    )

    id: int | None = Field(default=None, primary_key=True)
    rule_id: str = Field(max_length=200)
    key: str = Field(max_length=200)
    title: str = Field(sa_type=sa.Text)
    plan_item: str | None = Field(default=None, max_length=50)
    due: date
    lead: str = Field(max_length=200)
    coordinating: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    status: str = Field(default=OPEN, max_length=20)
    evidence: str | None = Field(default=None, sa_type=sa.Text)  # evidence or reason
    closed_by: str | None = Field(default=None, max_length=200)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    #: UTC instant of the next stage instance not yet put in the outbox; NULL = none.
    next_send_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    #: Stage instances at or before this instant are already in the outbox.
    materialised_through: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: The due date the rule gives, kept once an approved extension moved ``due``.
    original_due: date | None = None
    #: When the unit reported completion (on time or late is judged by this instant).
    reported_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OutboxRow(SQLModel, table=True):
    """One (deadline, due date, stage, repeat, recipient) mail, at most once.

    The due date is part of the key so that an approved extension (portal) gives the
    deadline a new ladder whose stages are mailed again for the new date.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        sa.UniqueConstraint(
            "deadline_id", "due", "stage", "repeat", "recipient", name="uq_outbox_instance"
        ),
        # Failure summaries have no deadline; NULLs never collide in a unique key.
        sa.Index(
            "uq_outbox_summary",
            "stage",
            "repeat",
            "recipient",
            unique=True,
            sqlite_where=sa.text("deadline_id IS NULL"),
            postgresql_where=sa.text("deadline_id IS NULL"),
        ),
        sa.Index("ix_outbox_state_next", "state", "next_attempt_at"),
        # The oldest claim (next_wake, at every check of the daemon) without reading the
        # whole outbox: only the few rows being sent (migration 0006).
        sa.Index(
            "ix_outbox_sending",
            "claimed_at",
            sqlite_where=sa.text("state = 'sending'"),
            postgresql_where=sa.text("state = 'sending'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    deadline_id: int | None = Field(default=None, foreign_key="deadlines.id")
    #: The deadline's due date this ladder instance was computed from.
    due: date | None = None
    stage: str = Field(max_length=100)
    repeat: int = 0
    recipient: str = Field(max_length=320)
    recipient_name: str | None = Field(default=None, max_length=300)
    send_at: datetime = Field(sa_type=UTCDateTime)
    state: str = Field(default=PENDING, max_length=20)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    message_id: str | None = Field(default=None, max_length=200)
    claim_token: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: A failed row is reported once, in this failure-summary row (outbox id).
    reported_in: int | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class AuditRow(SQLModel, table=True):
    """Append-only: every change, who made it, why, old and new values."""

    __tablename__ = "audit_log"
    # The newest change of an entity kind (the events' high-water mark of materialise).
    __table_args__ = (sa.Index("ix_audit_entity_id", "entity", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=50)
    entity: str = Field(max_length=20)  # event | deadline | outbox | rule
    entity_id: int | None = None
    rule_id: str | None = Field(default=None, max_length=200)
    key: str | None = Field(default=None, max_length=200)
    old: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    new: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    reason: str | None = Field(default=None, sa_type=sa.Text)
    # The OS login of the process that wrote the entry (``actor`` may be `--by`).
    os_user: str | None = Field(default=None, max_length=200)


class MetaRow(SQLModel, table=True):
    """Small key/value facts about the store (the fingerprint of the ladder config)."""

    __tablename__ = "store_meta"

    key: str = Field(primary_key=True, max_length=100)
    value: str = Field(sa_type=sa.Text)


events = EventRow.__table__
deadlines = DeadlineRow.__table__
outbox = OutboxRow.__table__
audit = AuditRow.__table__
meta = MetaRow.__table__
metadata = SQLModel.metadata

# The portal's tables live on the same metadata (migration 0004_portal).
from engine.store import portal_tables as _portal_tables  # noqa: E402,F401
