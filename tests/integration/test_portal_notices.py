"""The portal's one-off notices go out with the digests' rules: a transient answer
(421) keeps a notice pending with the same backoff (2, 4, 8... minutes), a permanent
one (550) marks it failed, logs it, writes an audit row and puts it in the focal
point's daily summary. A real SMTP server (aiosmtpd) answers.
"""

from __future__ import annotations

import email
import email.policy
import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa

from engine.core.config import SmtpSettings
from engine.store import portal_ops as po
from engine.store.dispatch import transport_factory
from engine.store.notices import DOWN, FAILURE_SUMMARY, send_notices
from engine.store.portal_tables import notices
from engine.store.tables import FAILED, PENDING, SENDING, SENT, audit
from tests.integration.conftest import free_port
from tests.integration.portal_helpers import ADMIN, QLCN, QLNL, portal_config
from tests.integration.store_helpers import local, open_store

T0 = local(2022, 7, 21, 9)  # Thu 21/07/2022 09:00 (UTC+7)
ADMIN_EMAIL = "admin@example.gov.vn"  # settings.admin_email of the test config


@pytest.fixture
def store(tmp_path, smtp_server):
    from dataclasses import replace

    cfg = portal_config(tmp_path)
    smtp = SmtpSettings("127.0.0.1", smtp_server.port, timeout=10)
    cfg = replace(cfg, settings=replace(cfg.settings, smtp=smtp))
    engine, sessions = open_store(cfg)
    yield cfg, sessions, smtp_server
    engine.dispose()


def queue(sessions, recipient: str, subject: str = "Báo cáo bị trả lại: Rà soát") -> None:
    with sessions() as s, s.begin():
        po.queue_notice(
            s, kind="returned", recipient=recipient, subject=subject, body="Lý do: …", now=T0
        )


def rows(sessions):
    with sessions() as s:
        return s.execute(sa.select(notices).order_by(notices.c.id)).all()


def send(cfg, sessions, at) -> int:
    return send_notices(cfg, sessions, transport_factory(cfg.settings), at)


def test_421_then_250_waits_the_backoff_and_keeps_the_message_id(store):
    cfg, sessions, server = store
    queue(sessions, QLCN)
    server.handler.reply_all = "421 4.7.0 try again later"
    assert send(cfg, sessions, T0) == 0
    (n,) = rows(sessions)
    # First failed try: wait 2 minutes (dispatch.backoff(1)), as a digest would.
    assert (n.state, n.attempts, n.next_attempt_at) == (PENDING, 1, T0 + timedelta(minutes=2))
    assert "421 4.7.0" in n.last_error
    server.handler.reply_all = None
    # Before the backoff is over nothing is tried, even though the server is back.
    assert send(cfg, sessions, T0 + timedelta(minutes=1)) == 0
    assert server.received == [] and rows(sessions)[0].attempts == 1
    assert send(cfg, sessions, T0 + timedelta(minutes=2)) == 1
    (n,) = rows(sessions)
    assert (n.state, n.sent_at) == (SENT, T0 + timedelta(minutes=2))
    (got,) = server.received
    assert got.rcpt_tos == (QLCN,)
    msg = email.message_from_bytes(got.content, policy=email.policy.default)
    assert msg["Subject"] == "[Nhắc hạn] Báo cáo bị trả lại: Rà soát"
    assert msg["Message-ID"].endswith("@hanchot>")
    # Like every date of a mail, in settings.timezone: 09:02 in Vietnam.
    assert msg["Date"] == "Thu, 21 Jul 2022 09:02:00 +0700"


def test_backoff_doubles_and_a_down_server_defers_the_rest(store):
    cfg, sessions, server = store
    for addr in (QLCN, QLNL, ADMIN, "head.qlcn@example.gov.vn"):
        queue(sessions, addr)
    server.handler.reply_all = "421 4.7.0 try again later"
    assert send(cfg, sessions, T0) == 0
    got = rows(sessions)
    # Three 421s in a row: the server is taken as down, the fourth is not tried.
    assert ["421 4.7.0" in r.last_error for r in got] == [True, True, True, False]
    assert got[3].last_error == DOWN
    assert {(r.state, r.attempts, r.next_attempt_at) for r in got} == {
        (PENDING, 1, T0 + timedelta(minutes=2))
    }
    assert send(cfg, sessions, T0 + timedelta(minutes=2)) == 0
    # Second failure: 4 minutes more (2 ** 2), from the second try.
    assert {r.next_attempt_at for r in rows(sessions)} == {T0 + timedelta(minutes=6)}


def test_550_fails_for_good_logged_audited_and_summarised_once_a_day(store, caplog):
    cfg, sessions, server = store
    server.handler.reject[QLNL] = "550 5.1.1 mailbox unavailable"
    queue(sessions, QLNL)
    queue(sessions, QLCN)
    with caplog.at_level(logging.ERROR, logger="hanchot.notices"):
        assert send(cfg, sessions, T0) == 1
    failed, ok = rows(sessions)
    assert (failed.state, failed.attempts) == (FAILED, 1) and "550" in failed.last_error
    assert ok.state == SENT
    assert any(QLNL in r.getMessage() and "550" in r.getMessage() for r in caplog.records)
    with sessions() as s:
        (a,) = s.execute(sa.select(audit).where(audit.c.action == "send-failed")).all()
    assert (a.entity, a.entity_id, a.new["recipient"]) == ("notice", failed.id, QLNL)
    # The next pass (the daemon's next poll) mails the admin one summary ...
    assert send(cfg, sessions, T0 + timedelta(minutes=1)) == 1
    summary = server.received[-1]
    assert summary.rcpt_tos == (ADMIN_EMAIL,)
    text = email.message_from_bytes(summary.content, policy=email.policy.default)
    assert text["Subject"] == "[Nhắc hạn] 1 thư của cổng không gửi được ngày 21/07/2022"
    body = text.get_body(preferencelist=("plain",)).get_content()
    assert QLNL in body and "550 5.1.1 mailbox unavailable" in body and QLCN not in body
    # ... and only one a day: a second failure the same day waits for tomorrow.
    queue(sessions, QLNL, "Đường dẫn đăng nhập cổng nhắc hạn")
    assert send(cfg, sessions, T0 + timedelta(hours=1)) == 0
    assert send(cfg, sessions, T0 + timedelta(hours=2)) == 0
    kinds = [r.kind for r in rows(sessions)]
    assert kinds.count(FAILURE_SUMMARY) == 1
    # Fri 22/07 00:30 local is a new local day (Thu 17:30 UTC): its summary goes.
    assert send(cfg, sessions, local(2022, 7, 22, 0, 30)) == 1
    body = email.message_from_bytes(server.received[-1].content, policy=email.policy.default)
    assert (
        "ngày 22/07/2022" in body["Subject"]
        and "Đường dẫn đăng nhập" in body.get_body(preferencelist=("plain",)).get_content()
    )


def test_a_summary_that_fails_is_not_summarised_again(store):
    cfg, sessions, server = store
    server.handler.reject[QLNL] = "550 5.1.1 mailbox unavailable"
    server.handler.reject[ADMIN_EMAIL] = "550 5.1.1 mailbox unavailable"
    queue(sessions, QLNL)
    send(cfg, sessions, T0)
    send(cfg, sessions, T0 + timedelta(minutes=1))  # the summary fails too
    send(cfg, sessions, local(2022, 7, 22, 9))  # next day: nothing new to report
    assert [(r.kind, r.state) for r in rows(sessions)] == [
        ("returned", FAILED),
        (FAILURE_SUMMARY, FAILED),
    ]


def test_no_connection_defers_everything_without_raising(tmp_path):
    from dataclasses import replace

    cfg = portal_config(tmp_path)
    smtp = SmtpSettings("127.0.0.1", free_port(), timeout=2)  # nobody listens
    cfg = replace(cfg, settings=replace(cfg.settings, smtp=smtp))
    engine, sessions = open_store(cfg)
    try:
        queue(sessions, QLCN)
        assert send(cfg, sessions, T0) == 0
        (n,) = rows(sessions)
        assert (n.state, n.attempts, n.next_attempt_at) == (
            PENDING,
            1,
            T0 + timedelta(minutes=2),
        )
    finally:
        engine.dispose()


def test_a_claim_left_by_a_dead_process_is_sent_again_with_the_same_message_id(store):
    cfg, sessions, server = store
    queue(sessions, QLCN)
    assert send(cfg, sessions, T0) == 1
    first = server.received[0]
    # As if the process had died after the server's 250 and before marking it sent.
    with sessions() as s, s.begin():
        s.execute(notices.update().values(state=SENDING, claimed_at=T0, sent_at=None))
    assert send(cfg, sessions, T0 + timedelta(minutes=14)) == 0  # not stuck yet
    assert send(cfg, sessions, T0 + timedelta(minutes=16)) == 1
    again = server.received[1]

    def mid(r):
        return email.message_from_bytes(r.content, policy=email.policy.default)["Message-ID"]

    assert mid(again) == mid(first)
