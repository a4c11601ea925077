"""Sending the portal's one-off notices (report to confirm, report returned, sign-in
link): the web process queues them in ``notices``; the daemon sends them here, with
the same transports as the digests and the same rules (see :mod:`engine.store.dispatch`):

- a notice is claimed (``pending`` → ``sending``) before it is sent, so two processes
  never send it twice; a claim older than ``stuck_after`` was left by a dead process
  and goes back to ``pending`` (at least once rather than lost);
- a transient failure (no connection, 4xx, 552 to RCPT TO) keeps it ``pending`` and
  waits :func:`~engine.store.dispatch.backoff` (2, 4, 8... minutes, at most 6 hours)
  before the next try; after :data:`~engine.store.dispatch.MAX_TRANSIENT_IN_A_ROW`
  transient failures in a row the server is taken as down and the rest wait too;
- a permanent failure (another 5xx) marks it ``failed`` with the server's answer, logs
  it, adds an ``audit_log`` row, and ``admin_email`` gets one summary a day of the
  notices that failed (itself a notice, kind ``failure-summary``, never summarised);
- a notice is sent again with the same Message-ID, so mail clients fold the two.

Nothing reads the clock: ``now`` (aware) is an argument.
"""

from __future__ import annotations

import hashlib
import logging
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from engine.core.config import Config
from engine.errors import SendError
from engine.i18n import _
from engine.store.audit import log_change
from engine.store.db import SessionFactory
from engine.store.dispatch import MAX_TRANSIENT_IN_A_ROW, backoff, defer_pending
from engine.store.outbox import require_aware
from engine.store.portal_tables import notices
from engine.store.tables import FAILED, PENDING, SENDING, SENT

log = logging.getLogger("hanchot.notices")

#: ``kind`` of the daily summary of notices that failed for good.
FAILURE_SUMMARY = "failure-summary"
DOWN = "not tried: the mail server is down"


def notice_message_id(row) -> str:
    """The Message-ID of a notice: the same at every try (a resend after a crash folds)."""
    seed = f"notice:{row.id}:{row.recipient}:{row.created_at.isoformat()}"
    return f"<notice.{hashlib.sha256(seed.encode()).hexdigest()[:32]}@hanchot>"


def notice_message(config: Config, row, now: datetime) -> EmailMessage:
    """The notice as a message, its headers built like the digests' (RFC 2047 encoded
    words that keep every space, control characters folded, ``Date`` in
    ``settings.timezone``)."""
    from notifications.policy import POLICY, header_text

    s = config.settings
    msg = EmailMessage(policy=POLICY)
    msg["From"] = Address(display_name=header_text(s.sender_name), addr_spec=s.sender_email)
    msg["To"] = Address(addr_spec=row.recipient)
    msg["Subject"] = header_text(f"[Nhắc hạn] {row.subject}")
    msg["Date"] = format_datetime(now.astimezone(ZoneInfo(s.timezone)))
    msg["Message-ID"] = notice_message_id(row)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(row.body + "\n", charset="utf-8", cte="quoted-printable")
    return msg


def send_notices(
    config: Config,
    sessions: SessionFactory,
    transports,
    now: datetime,
    *,
    stuck_after: timedelta = timedelta(minutes=15),
) -> int:
    """Send every pending notice whose next try is due; returns how many went out.

    Transient failures keep a notice pending with a backoff, permanent ones mark it
    failed (see the module's docstring). Each notice is committed on its own.
    """
    now = require_aware(now)
    with sessions() as s, s.begin():
        _reclaim(s, now, stuck_after)
        _queue_failure_summary(s, config, now)
        ids = [
            r.id
            for r in s.execute(
                sa.select(notices.c.id)
                .where(
                    notices.c.state == PENDING,
                    sa.or_(notices.c.next_attempt_at.is_(None), notices.c.next_attempt_at <= now),
                )
                .order_by(notices.c.id)
            )
        ]
    if not ids:
        return 0
    with ExitStack() as stack:
        try:
            transport = stack.enter_context(transports())
        except SendError as e:
            # Cannot even connect (or log in): nothing was sent, everything waits.
            log.error(_("mail server unavailable: {error}").format(error=e.message))
            _defer(sessions, ids, now, e.message)
            return 0
        return _send_each(config, sessions, transport, ids, now)


def _send_each(config: Config, sessions: SessionFactory, transport, ids, now: datetime) -> int:
    sent = transient_in_a_row = 0
    for i, nid in enumerate(ids):
        if transient_in_a_row >= MAX_TRANSIENT_IN_A_ROW:
            _defer(sessions, ids[i:], now, DOWN)
            break
        with sessions() as s, s.begin():
            claimed = s.execute(
                notices.update()
                .where(notices.c.id == nid, notices.c.state == PENDING)
                .values(state=SENDING, claimed_at=now)
            ).rowcount
            row = s.execute(sa.select(notices).where(notices.c.id == nid)).one()
        if not claimed:
            continue
        try:
            transport.send(notice_message(config, row, now))
        except SendError as e:
            if e.retryable:
                transient_in_a_row += 1
                _retry_later(sessions, row, now, e.message)
            else:
                _fail(sessions, row, now, e.message)
            continue
        transient_in_a_row = 0
        with sessions() as s, s.begin():
            s.execute(
                notices.update()
                .where(notices.c.id == nid)
                .values(state=SENT, sent_at=now, claimed_at=None)
            )
        sent += 1
    return sent


def _retry_later(sessions: SessionFactory, row, now: datetime, error: str) -> None:
    attempts = row.attempts + 1
    wait = backoff(attempts)
    with sessions() as s, s.begin():
        s.execute(
            notices.update()
            .where(notices.c.id == row.id, notices.c.state == SENDING)
            .values(
                state=PENDING,
                attempts=attempts,
                last_error=error,
                next_attempt_at=now + wait,
                claimed_at=None,
            )
        )
    log.warning(
        _("portal notice {id} to {recipient} deferred ({error}); next try in {minutes} min").format(
            id=row.id, recipient=row.recipient, error=error, minutes=int(wait.total_seconds() // 60)
        )
    )


def _fail(sessions: SessionFactory, row, now: datetime, error: str) -> None:
    with sessions() as s, s.begin():
        s.execute(
            notices.update()
            .where(notices.c.id == row.id, notices.c.state == SENDING)
            .values(state=FAILED, attempts=row.attempts + 1, last_error=error, claimed_at=None)
        )
        log_change(
            s,
            at=now,
            actor="hanchot",
            action="send-failed",
            entity="notice",
            entity_id=row.id,
            new={"state": FAILED, "recipient": row.recipient, "kind": row.kind},
            reason=error,
        )
    log.error(
        _("portal notice {id} ({kind}) to {recipient} failed for good: {error}").format(
            id=row.id, kind=row.kind, recipient=row.recipient, error=error
        )
    )


def _defer(sessions: SessionFactory, ids: list[int], now: datetime, why: str) -> None:
    """Not tried (the server is down): each waits its own backoff."""
    defer_pending(sessions, notices, ids, now, why)


def notice_due_times(s, stuck_after: timedelta = timedelta(minutes=15)) -> list[datetime]:
    """When :func:`send_notices` next has something to do by the clock alone: the
    earliest next try of a pending notice (the epoch for one without, due at once) and
    the instant the oldest claim counts as left by a dead process. Empty when neither."""
    out = []
    nxt = s.execute(
        sa.select(
            sa.func.count(),
            sa.func.count(notices.c.next_attempt_at),
            sa.func.min(notices.c.next_attempt_at),
        ).where(notices.c.state == PENDING)
    ).one()
    if nxt[0] > nxt[1]:  # a pending notice without a next try: due now
        out.append(datetime(1970, 1, 1, tzinfo=UTC))
    elif nxt[2] is not None:
        out.append(nxt[2])
    claimed = s.execute(
        sa.select(sa.func.min(notices.c.claimed_at)).where(notices.c.state == SENDING)
    ).scalar()
    if claimed is not None:
        out.append(claimed + stuck_after)
    return out


def _reclaim(s, now: datetime, stuck_after: timedelta) -> int:
    """Claims older than ``stuck_after`` were left by a process that died: pending again."""
    return s.execute(
        notices.update()
        .where(notices.c.state == SENDING, notices.c.claimed_at < now - stuck_after)
        .values(state=PENDING, claimed_at=None)
    ).rowcount


def _queue_failure_summary(s, config: Config, now: datetime) -> int | None:
    """Queue today's summary of the notices that failed for good and were not reported
    yet, unless one was queued today (the rest go tomorrow). Returns its id or None.

    Two processes may both get here: the second's UPDATE finds the rows taken by the
    first (it waits for the first's commit on PostgreSQL) and drops its own summary.
    """
    admin = config.settings.admin_email
    if not admin:
        return None
    unreported = sa.and_(
        notices.c.state == FAILED,
        notices.c.reported_in.is_(None),
        notices.c.kind != FAILURE_SUMMARY,
    )
    if s.execute(sa.select(notices.c.id).where(unreported).limit(1)).first() is None:
        return None
    zone = ZoneInfo(config.settings.timezone)
    day = now.astimezone(zone).date()
    midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
    if s.execute(
        sa.select(notices.c.id)
        .where(notices.c.kind == FAILURE_SUMMARY, notices.c.created_at >= midnight)
        .limit(1)
    ).first():
        return None
    sid = s.execute(
        notices.insert().values(
            kind=FAILURE_SUMMARY,
            recipient=admin,
            subject="",
            body="",
            state=PENDING,
            created_at=now,
        )
    ).inserted_primary_key[0]
    taken = s.execute(notices.update().where(unreported).values(reported_in=sid)).rowcount
    if not taken:
        s.execute(notices.delete().where(notices.c.id == sid))
        return None
    failed = s.execute(
        sa.select(notices.c.recipient, notices.c.subject, notices.c.last_error)
        .where(notices.c.reported_in == sid)
        .order_by(notices.c.id)
    ).all()
    lines = [
        f"Ngày {day:%d/%m/%Y}, hệ thống nhắc hạn không gửi được {len(failed)} thư của cổng "
        "(máy chủ thư từ chối người nhận). Xin kiểm tra lại địa chỉ trong config/units.yaml.",
        "",
    ]
    for f in failed:
        lines.append(f"- {f.recipient}: {f.subject}")
        lines.append(f"  Trả lời của máy chủ: {f.last_error}")
    s.execute(
        notices.update()
        .where(notices.c.id == sid)
        .values(
            subject=f"{len(failed)} thư của cổng không gửi được ngày {day:%d/%m/%Y}",
            body="\n".join(lines),
        )
    )
    return sid
