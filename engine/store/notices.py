"""Sending the portal's one-off notices (report to confirm, report returned, sign-in
link): the web process queues them in ``notices``; the daemon sends them here, with
the same transports as the digests. A notice is claimed (``pending`` → ``sending``)
before it is sent, so two processes never send it twice.
"""

from __future__ import annotations

import email.policy
import logging
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import sqlalchemy as sa

from engine.core.config import Config
from engine.errors import SendError
from engine.store.db import SessionFactory
from engine.store.outbox import require_aware
from engine.store.portal_tables import notices
from engine.store.tables import FAILED, PENDING, SENDING, SENT

log = logging.getLogger("hanchot.notices")


def notice_message(config: Config, row, now: datetime) -> EmailMessage:
    s = config.settings
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = Address(display_name=s.sender_name, addr_spec=s.sender_email)
    msg["To"] = row.recipient
    msg["Subject"] = f"[Nhắc hạn] {row.subject}"
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(idstring=f"notice{row.id}", domain="hanchot")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(row.body + "\n", charset="utf-8", cte="quoted-printable")
    return msg


def send_notices(config: Config, sessions: SessionFactory, transports, now: datetime) -> int:
    """Send every pending notice; returns how many went out. A transient failure
    leaves the notice pending for the next cycle; a permanent one marks it failed."""
    now = require_aware(now)
    with sessions() as s:
        ids = [r.id for r in s.execute(sa.select(notices.c.id).where(notices.c.state == PENDING))]
    if not ids:
        return 0
    sent = 0
    with transports() as transport:
        for nid in ids:
            with sessions() as s, s.begin():
                claimed = s.execute(
                    notices.update()
                    .where(notices.c.id == nid, notices.c.state == PENDING)
                    .values(state=SENDING)
                ).rowcount
                row = s.execute(sa.select(notices).where(notices.c.id == nid)).one()
            if not claimed:
                continue
            try:
                transport.send(notice_message(config, row, now))
            except SendError as e:
                state = PENDING if e.retryable else FAILED
                log.warning("notice %s to %s: %s", nid, row.recipient, e.message)
                with sessions() as s, s.begin():
                    s.execute(
                        notices.update()
                        .where(notices.c.id == nid)
                        .values(state=state, last_error=e.message)
                    )
                if e.retryable:
                    break
                continue
            with sessions() as s, s.begin():
                s.execute(
                    notices.update().where(notices.c.id == nid).values(state=SENT, sent_at=now)
                )
            sent += 1
    return sent
