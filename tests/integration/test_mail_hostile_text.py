"""Issue 12: whatever text reaches a digest (event ids, unit names, titles; any Unicode,
control characters included), every message the SMTP server receives parses with
exactly the intended headers.

Built, sent over a real SMTP session (aiosmtpd on loopback) and parsed back with
``email.policy.default``. The intended text is worked out here independently of
``notifications``: every control character (C0, C1, DEL) and line or paragraph
separator becomes a space, runs of spaces one space, ends stripped.
"""

from __future__ import annotations

import email
import email.policy
import re
import unicodedata
from datetime import UTC, date, datetime
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifications import Digest, DigestItem, SmtpTransport, render, subject_for

pytestmark = pytest.mark.smtp

SEND_AT = datetime(2022, 8, 2, 1, 0, tzinfo=UTC)
HEADERS = sorted(
    [
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "X-Hanchot-Items",
        "Auto-Submitted",
        "MIME-Version",
        "Content-Type",
    ]
)


def intended(text: str) -> str:
    out = "".join(
        " " if unicodedata.category(c) in ("Cc", "Zl", "Zp") or c.isspace() else c for c in text
    )
    # Ends lose every kind of white space, U+00A0 included (email's parser drops it).
    return re.sub(" {2,}", " ", out).strip()


ATTACKS = st.sampled_from(
    [
        "\r\nBcc: evil@attacker.test",
        "\r\n\r\n<html>phish</html>",
        "\nReply-To: a@b.c",
        "=?utf-8?q?=0D=0ABcc:_x@y?=",
        '"',
        "\\",
        "<x@y>",
        ",",
        "(",
        "\x00",
        "\u2028",
        "\x85",
        "Xuất nhập khẩu",
    ]
)
HOSTILE = st.lists(st.one_of(st.text(max_size=30), ATTACKS), max_size=4).map("".join)
IDS = st.lists(st.one_of(st.text(min_size=1, max_size=20), ATTACKS), min_size=1, max_size=3).map(
    "".join
)


@st.composite
def digests(draw) -> Digest:
    n = draw(st.integers(1, 3))
    items = tuple(
        DigestItem(
            rule_id=draw(IDS),
            key=draw(IDS),
            title=draw(HOSTILE),
            plan_item=None,
            due=date(2022, 8, 2),
            working_days_left=draw(st.integers(-3, 3)),
            stage="due",
            lead_name=draw(HOSTILE),
        )
        for _ in range(n)
    )
    return Digest(
        recipient_email="vanphong@example.gov.vn",
        recipient_name=draw(HOSTILE),
        items=items,
        message_id="<hostile@hanchot>",
        send_at=SEND_AT,
        sender_name=draw(HOSTILE),
        sender_email="nhachan@example.gov.vn",
        focal_point=draw(st.one_of(st.none(), HOSTILE)),
    )


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(digest=digests())
def test_every_received_message_has_exactly_the_intended_headers(smtp_server, digest):
    with SmtpTransport(smtp_server.host, smtp_server.port, timeout=10) as transport:
        transport.send(render(digest))
    received = smtp_server.received[-1]
    assert received.rcpt_tos == ("vanphong@example.gov.vn",)
    msg = email.message_from_bytes(received.content, policy=email.policy.default)
    assert sorted(msg.keys()) == HEADERS
    for name in HEADERS:
        assert not msg[name].defects, (name, msg[name].defects)
    assert msg["Subject"] == intended(subject_for(digest))
    (to,) = msg["To"].addresses
    assert (to.display_name, to.addr_spec) == (
        intended(digest.recipient_name or ""),
        "vanphong@example.gov.vn",
    )
    (sender,) = msg["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (
        intended(digest.sender_name),
        "nhachan@example.gov.vn",
    )
    assert msg["Message-ID"] == "<hostile@hanchot>"
    ids = [tuple(map(unquote, e.split("/"))) for e in msg["X-Hanchot-Items"].strip().split(", ")]
    assert sorted(ids) == sorted((i.rule_id, i.key) for i in digest.items)
    assert msg.get_content_type() == "multipart/mixed"
    assert len(list(msg.iter_attachments())) == len(digest.items)
