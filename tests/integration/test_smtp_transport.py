"""The SMTP and file transports against a real SMTP server (aiosmtpd on loopback)."""

from __future__ import annotations

import email
import email.policy
import socket
import time
from datetime import UTC, date, datetime

import pytest

from engine.errors import SendError
from notifications import Digest, DigestItem, FileTransport, SmtpTransport, render

SEND_AT = datetime(2022, 8, 2, 1, 0, tzinfo=UTC)


def free_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def message(n: int, to: str = "vanphong@example.gov.vn"):
    item = DigestItem(
        rule_id="bao-cao-quy",
        key=f"2022-Q{n}",
        title=f"Báo cáo tình hình kiểm soát TTHC quý {n}",
        plan_item="7",
        due=date(2022, 7, 29),
        working_days_left=-2,
        stage="1 working day after",
        lead_name="Văn phòng Sở",
        coordinating_names=("Thanh tra Sở",),
    )
    digest = Digest(
        recipient_email=to,
        recipient_name="Văn phòng Sở",
        items=(item,),
        message_id=f"<20220802.{n}.{to.split('@')[0]}@hanchot.example.gov.vn>",
        send_at=SEND_AT,
        sender_name="Hệ thống nhắc hạn Sở Công Thương",
        sender_email="nhachan@example.gov.vn",
    )
    return render(digest)


def transport(server, **kw) -> SmtpTransport:
    return SmtpTransport(server.host, server.port, "none", timeout=5, **kw)


def parsed(received):
    return email.message_from_bytes(received.content, policy=email.policy.default)


@pytest.mark.smtp
def test_three_messages_over_one_connection(smtp_server):
    with transport(smtp_server) as t:
        for n in (1, 2, 3):
            t.send(message(n))
    got = smtp_server.received
    assert len(got) == 3
    assert smtp_server.sessions == 1
    assert {r.mail_from for r in got} == {"nhachan@example.gov.vn"}
    assert {r.rcpt_tos for r in got} == {("vanphong@example.gov.vn",)}
    first = parsed(got[0])
    assert first["Message-ID"] == "<20220802.1.vanphong@hanchot.example.gov.vn>"
    assert first["Subject"] == "[Quá hạn] 1 việc quá hạn — Văn phòng Sở"
    assert "quá hạn 2 ngày làm việc" in first.get_body(("plain",)).get_content()


@pytest.mark.smtp
def test_the_server_receives_exactly_the_rendered_bytes(smtp_server):
    msg = message(1)
    with transport(smtp_server) as t:
        t.send(msg)
    (got,) = smtp_server.received
    assert got.content.rstrip(b"\r\n") == msg.as_bytes().rstrip(b"\r\n")


@pytest.mark.smtp
def test_refused_recipient_is_permanent_and_the_connection_goes_on(smtp_server):
    smtp_server.handler.reject["nobody@example.gov.vn"] = "550 5.1.1 mailbox unavailable"
    with transport(smtp_server) as t:
        with pytest.raises(SendError) as refused:
            t.send(message(1, to="nobody@example.gov.vn"))
        t.send(message(2))
    assert refused.value.retryable is False
    assert "550 5.1.1 mailbox unavailable" in str(refused.value)
    assert "nobody@example.gov.vn" in str(refused.value)
    assert [r.rcpt_tos for r in smtp_server.received] == [("vanphong@example.gov.vn",)]
    assert smtp_server.sessions == 1


@pytest.mark.smtp
def test_4xx_is_retryable(smtp_server):
    smtp_server.handler.reply_all = "451 4.3.0 try again later"
    with transport(smtp_server) as t:
        with pytest.raises(SendError) as busy:
            t.send(message(1))
        smtp_server.handler.reply_all = None
        t.send(message(2))  # the same transport works once the server does
    assert busy.value.retryable is True
    assert "451 4.3.0 try again later" in str(busy.value)
    assert len(smtp_server.received) == 1


@pytest.mark.smtp
def test_reconnects_once_when_the_server_dropped_the_connection(smtp_server):
    smtp_server.handler.drop_after_data = True
    with transport(smtp_server) as t:
        for n in (1, 2, 3):
            t.send(message(n))
            time.sleep(0.3)  # the server hangs up 0.05 s after each message
    assert len(smtp_server.received) == 3
    assert smtp_server.sessions == 3


@pytest.mark.smtp
def test_connection_refused_is_retryable():
    t = SmtpTransport("127.0.0.1", free_port(), "none", timeout=5)
    with pytest.raises(SendError) as refused:
        with t:
            pass
    assert refused.value.retryable is True
    assert "refused the connection" in str(refused.value)
    with pytest.raises(SendError) as again:
        t.send(message(1))
    assert again.value.retryable is True


@pytest.mark.smtp
def test_a_server_that_never_greets_times_out_retryably():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        t = SmtpTransport("127.0.0.1", port, "none", timeout=0.5)
        with pytest.raises(SendError) as slow:
            t.send(message(1))
    assert slow.value.retryable is True
    assert "timed out" in str(slow.value)


@pytest.mark.smtp
def test_starttls_against_a_server_without_it_is_permanent(smtp_server):
    t = SmtpTransport(smtp_server.host, smtp_server.port, "starttls", timeout=5)
    with pytest.raises(SendError) as no_tls:
        t.open()
    assert no_tls.value.retryable is False
    assert "smtp.security" in str(no_tls.value)


@pytest.mark.smtp
def test_login_failure_is_permanent_and_the_password_stays_secret(smtp_server):
    # aiosmtpd offers no AUTH on a plain connection: the login fails with a 5xx.
    t = SmtpTransport(
        smtp_server.host, smtp_server.port, "none", user="nhachan", password="s3cr3t-Pw", timeout=5
    )
    assert "s3cr3t-Pw" not in repr(t)
    with pytest.raises(SendError) as failed:
        t.open()
    assert failed.value.retryable is False
    assert "s3cr3t-Pw" not in str(failed.value)


def test_file_transport_writes_a_parsable_eml(tmp_path):
    msg = message(1)
    with FileTransport(tmp_path / "outbox") as t:
        t.send(msg)
        t.send(msg)  # idempotent: same message id, same file
    files = list((tmp_path / "outbox").rglob("*"))
    eml = tmp_path / "outbox" / "2022-08-02" / "20220802.1.vanphong@hanchot.example.gov.vn.eml"
    assert [f for f in files if f.is_file()] == [eml]
    back = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert back["Message-ID"] == "<20220802.1.vanphong@hanchot.example.gov.vn>"
    assert back["Subject"] == "[Quá hạn] 1 việc quá hạn — Văn phòng Sở"
    assert len(list(back.iter_attachments())) == 1
