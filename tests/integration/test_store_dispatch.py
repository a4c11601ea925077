"""The dispatch cycle against a real SMTP server (aiosmtpd on loopback).

The rule ``bao-cao-6-thang`` is due Friday 29/07/2022; the default ladder sends on
22/07 (5 wd before: lead), 28/07 (1 wd before: lead + coordinating), 29/07 (due),
01/08 (1 wd after: lead, lead.head, oversight), 05/08 then every 5 working days
(lead.head, director).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import date, timedelta

import icalendar
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from engine.core.config import SmtpSettings
from engine.core.rules import On
from engine.store.dispatch import dispatch, transport_factory
from engine.store.materialise import materialise
from engine.store.ops import close_deadline
from engine.store.tables import outbox
from tests.integration.conftest import RecordingHandler, free_port
from tests.integration.store_helpers import (
    REPORT_RULE,
    attachments,
    local,
    make_config,
    open_store,
    parse,
    text_body,
)

pytestmark = pytest.mark.smtp

LEAD = "van-phong@example.gov.vn"
HEAD = "head.van-phong@example.gov.vn"
COORD = {"qlcn@example.gov.vn", "qlnl@example.gov.vn"}
OVERSIGHT = "thanh-tra@example.gov.vn"
DIRECTOR = "ban-giam-doc@example.gov.vn"

LADDER = [
    (local(2022, 7, 22), {LEAD}),
    (local(2022, 7, 28), {LEAD} | COORD),
    (local(2022, 7, 29), {LEAD} | COORD),
    (local(2022, 8, 1), {LEAD, HEAD, OVERSIGHT}),
    (local(2022, 8, 5), {HEAD, DIRECTOR}),
    (local(2022, 8, 12), {HEAD, DIRECTOR}),
]


def smtp_for(server) -> SmtpSettings:
    return SmtpSettings(host=server.host, port=server.port, security="none", timeout=5)


class Store:
    """A config + database + transport factory around one SMTP server."""

    def __init__(self, tmp_path, server, **kw):
        self.config = make_config(tmp_path, smtp=smtp_for(server), **kw)
        self.engine, self.sessions = open_store(self.config)
        self.server = server

    def materialise(self, now):
        with self.sessions() as s, s.begin():
            return materialise(s, self.config, now)

    def dispatch(self, now):
        self.materialise(now)
        return dispatch(self.config, self.sessions, transport_factory(self.config.settings), now)

    def close(self, now, rule="bao-cao-6-thang", key="once"):
        with self.sessions() as s, s.begin():
            close_deadline(s, rule, key, "done", "Báo cáo số 123/BC-SCT", actor="test", now=now)

    def states(self) -> dict[str, int]:
        with self.sessions() as s:
            rows = s.execute(
                sa.select(outbox.c.state, sa.func.count()).group_by(outbox.c.state)
            ).all()
        return dict(rows)


def new_messages(server, seen: int):
    return [(r.rcpt_tos, parse(r.content)) for r in server.received[seen:]]


def test_whole_ladder_right_recipients_once_each(tmp_path, smtp_server):
    store = Store(tmp_path, smtp_server)
    store.materialise(local(2022, 7, 1))
    seen = 0
    for now, expected in LADDER:
        report = store.dispatch(now)
        got = new_messages(smtp_server, seen)
        seen = len(smtp_server.received)
        assert sorted(rcpt for rcpts, _ in got for rcpt in rcpts) == sorted(expected), now
        assert report.digests_sent == len(expected)
        # the same instant again: nothing new
        again = store.dispatch(now)
        assert again.digests_sent == 0
        assert len(smtp_server.received) == seen
    # one SMTP connection per cycle at most, one message per recipient per instant
    ids = [parse(r.content)["Message-ID"] for r in smtp_server.received]
    assert len(set(ids)) == len(ids)


def test_digest_content_subject_body_and_ics(tmp_path, smtp_server):
    second = replace(REPORT_RULE, id="bao-cao-quy-3", title="Báo cáo quý III", basis=None)
    store = Store(tmp_path, smtp_server, rules=(REPORT_RULE, second))
    store.dispatch(local(2022, 7, 22))
    assert len(smtp_server.received) == 1  # one digest for two deadlines
    received = smtp_server.received[0]
    assert received.rcpt_tos == (LEAD,)
    msg = parse(received.content)
    assert msg["Subject"] == "[Nhắc hạn] 2 việc sắp đến hạn — Văn phòng Sở"
    assert "Hệ thống nhắc hạn Sở Công Thương" in str(msg["From"])
    assert msg["Message-ID"].endswith("@hanchot>")
    body = text_body(msg)
    for text in (
        "Báo cáo tình hình, kết quả kiểm soát TTHC 6 tháng",
        "Báo cáo quý III",
        "Thứ Sáu, 29/07/2022",
        "Văn phòng Sở",
        "Phòng Quản lý Công nghiệp",
        "Báo cáo gửi UBND tỉnh",
        "Thông tư 01/2020/TT-VPCP",
        "hanchot done bao-cao-6-thang once",
    ):
        assert text in body, text
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert "29/07/2022" in html
    parts = attachments(msg)
    assert len(parts) == 2
    for part in parts:
        assert part.get_content_type() == "text/calendar"
        cal = icalendar.Calendar.from_ical(part.get_payload(decode=True))
        (ev,) = cal.walk("VEVENT")
        assert ev.decoded("DTSTART") == date(2022, 7, 29)


def test_overdue_subject(tmp_path, smtp_server):
    store = Store(tmp_path, smtp_server)
    store.dispatch(local(2022, 8, 1))
    subjects = {r.rcpt_tos[0]: parse(r.content)["Subject"] for r in smtp_server.received}
    assert subjects[HEAD] == "[Quá hạn] 1 việc quá hạn — Chánh Văn phòng"
    assert "quá hạn 1 ngày làm việc" in text_body(parse(smtp_server.received[0].content))


def test_closing_stops_mail_at_once(tmp_path, smtp_server):
    store = Store(tmp_path, smtp_server)
    store.dispatch(local(2022, 7, 22))
    assert len(smtp_server.received) == 1
    # rows for 28/07 are materialised, then the deadline is closed before sending
    with store.sessions() as s, s.begin():
        from engine.store.outbox import materialise_due

        materialise_due(s, store.config, local(2022, 7, 28))
    store.close(local(2022, 7, 28, 7))
    for now, _ in LADDER[1:]:
        store.dispatch(now)
    store.dispatch(local(2022, 12, 30))
    assert len(smtp_server.received) == 1
    assert store.states().get("pending", 0) == 0


def test_after_downtime_only_the_latest_stage(tmp_path, smtp_server):
    store = Store(tmp_path, smtp_server)
    store.dispatch(local(2022, 7, 22))
    assert len(smtp_server.received) == 1
    # 20 working days later (19/08/2022): 28/07 .. 12/08 were missed
    later = local(2022, 8, 19, 9, 30)
    assert store.config.calendar.add_working_days(date(2022, 7, 22), 20) == date(2022, 8, 19)
    report = store.dispatch(later)
    got = new_messages(smtp_server, 1)
    assert sorted(r for rcpts, _ in got for r in rcpts) == sorted([HEAD, DIRECTOR])
    assert report.superseded > 0
    assert store.states()["superseded"] == report.superseded
    assert store.dispatch(later + timedelta(hours=1)).digests_sent == 0


def test_server_down_then_back_everything_exactly_once(tmp_path):
    handler = RecordingHandler()
    port = free_port()
    from tests.integration.conftest import SmtpServer

    server = SmtpServer("127.0.0.1", port, handler)
    store = Store(tmp_path, server)
    now = local(2022, 7, 28)
    # server not running: connection refused -> everything stays pending
    report = store.dispatch(now)
    assert report.digests_sent == 0 and report.deferred == 3
    # (22/07 was never sent: superseded by the later stage of 28/07)
    assert store.states() == {"pending": 3, "superseded": 1}
    assert report.next_wake is not None and report.next_wake > now
    # retrying before the backoff sends nothing
    assert store.dispatch(now + timedelta(seconds=30)).deferred == 0
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        report = store.dispatch(now + timedelta(minutes=5))
        assert report.digests_sent == 3
        assert store.dispatch(now + timedelta(minutes=30)).digests_sent == 0
    finally:
        controller.stop()
    rcpts = sorted(r.rcpt_tos[0] for r in handler.received)
    assert rcpts == sorted({LEAD} | COORD)
    assert store.states() == {"sent": 3, "superseded": 1}


def test_rejected_recipient_fails_others_delivered_admin_told_once(tmp_path, smtp_server):
    smtp_server.handler.reject["qlcn@example.gov.vn"] = "550 5.1.1 mailbox unavailable"
    store = Store(tmp_path, smtp_server)
    now = local(2022, 7, 28)
    report = store.dispatch(now)
    assert report.failed == 1
    delivered = sorted(r.rcpt_tos[0] for r in smtp_server.received)
    assert delivered == sorted([LEAD, "qlnl@example.gov.vn", "admin@example.gov.vn"])
    with store.sessions() as s:
        (err,) = s.execute(
            sa.select(outbox.c.last_error).where(outbox.c.state == "failed")
        ).scalars()
    assert "550" in err and "mailbox unavailable" in err
    summary = next(
        parse(r.content) for r in smtp_server.received if r.rcpt_tos == ("admin@example.gov.vn",)
    )
    assert "không gửi được" in summary["Subject"]
    assert "qlcn@example.gov.vn" in text_body(summary)
    # same day, later: the failure is not retried and the admin is not told again
    n = len(smtp_server.received)
    store.dispatch(now + timedelta(hours=2))
    assert len(smtp_server.received) == n
    # next day, a new failure: a new summary
    store.dispatch(local(2022, 7, 29))
    to_admin = [r for r in smtp_server.received if r.rcpt_tos == ("admin@example.gov.vn",)]
    assert len(to_admin) == 2


def test_temporary_4xx_stays_pending_then_retried(tmp_path, smtp_server):
    smtp_server.handler.reply_all = "451 4.3.0 try again later"
    store = Store(tmp_path, smtp_server)
    now = local(2022, 7, 22)
    report = store.dispatch(now)
    assert report.deferred == 1 and store.states() == {"pending": 1}
    smtp_server.handler.reply_all = None
    assert store.dispatch(now + timedelta(minutes=3)).digests_sent == 1
    assert [r.rcpt_tos for r in smtp_server.received] == [(LEAD,)]


def test_two_dispatchers_at_once_send_each_message_once(tmp_path, smtp_server):
    rules = tuple(
        replace(REPORT_RULE, id=f"viec-{i}", due=On(date(2022, 7, 29))) for i in range(20)
    )
    first = Store(tmp_path, smtp_server, rules=rules)
    first.materialise(local(2022, 7, 1))
    second = Store(tmp_path, smtp_server, rules=rules)  # another process, same file
    now = local(2022, 7, 28)
    errors = []

    def run(store):
        try:
            dispatch(store.config, store.sessions, transport_factory(store.config.settings), now)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(s,)) for s in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    rcpts = sorted(r.rcpt_tos[0] for r in smtp_server.received)
    assert rcpts == sorted({LEAD} | COORD)
    (msg,) = [parse(r.content) for r in smtp_server.received if r.rcpt_tos == (LEAD,)]
    assert len(attachments(msg)) == 20


def test_one_connection_reused_per_cycle(tmp_path, smtp_server):
    rules = tuple(
        replace(REPORT_RULE, id=f"viec-{i}", lead=lead)
        for i, lead in enumerate(["van-phong", "thanh-tra", "qlcn", "qlnl"])
    )
    store = Store(tmp_path, smtp_server, rules=rules)
    # four leads; the coordinating units (qlcn, qlnl) are among them: one digest each
    assert store.dispatch(local(2022, 7, 28)).digests_sent == 4
    assert smtp_server.sessions == 1


def test_naive_now_is_refused(tmp_path, smtp_server):
    from datetime import datetime

    store = Store(tmp_path, smtp_server)
    with pytest.raises(ValueError, match="naive"):
        store.dispatch(datetime(2022, 7, 28, 8))
