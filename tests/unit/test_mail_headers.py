"""Mail headers: words never split across encoded words, no value can add a header,
the subject names every count, nobody is asked to report to themselves."""

from __future__ import annotations

import email
import email.header
import email.policy
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from engine.loader.config import load_config
from notifications import Digest, DigestItem, render, subject_for
from notifications.policy import header_text

ROOT = Path(__file__).resolve().parents[2]
SEND_AT = datetime(2022, 8, 2, 1, 0, tzinfo=UTC)  # 08:00 Thứ Ba 02/08/2022 in Việt Nam
EW = re.compile(rb"=\?utf-8\?b\?([A-Za-z0-9+/=]*)\?=", re.IGNORECASE)


def item(left: int, rule_id: str = "r", key: str = "k", title: str = "Việc") -> DigestItem:
    return DigestItem(rule_id, key, title, None, date(2022, 8, 2), left, "due", "Văn phòng Sở")


def digest(*items: DigestItem, name: str | None = "Văn phòng Sở", **kw) -> Digest:
    args = {
        "recipient_email": "vanphong@example.gov.vn",
        "recipient_name": name,
        "items": items or (item(1),),
        "message_id": "<abc@hanchot>",
        "send_at": SEND_AT,
        "sender_name": "Hệ thống nhắc hạn Sở Công Thương Khánh Hòa",
        "sender_email": "nhachan@example.gov.vn",
    }
    args.update(kw)
    return Digest(**args)


def head_of(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def header_lines(raw: bytes, name: str) -> bytes:
    """The raw (folded) value of header ``name``."""
    m = re.search(rb"^" + name.encode() + rb": (.*?)\r\n(?! )", head_of(raw), re.S | re.M | re.I)
    assert m is not None, name
    return m.group(1)


def decoded_words(raw_value: bytes) -> list[str]:
    import base64

    return [base64.b64decode(m.group(1)).decode("utf-8") for m in EW.finditer(raw_value)]


def repo_names() -> list[str]:
    cfg = load_config(ROOT / "config", ROOT / "rules")
    names = {cfg.settings.sender_name}
    for unit in cfg.directory.units.values():
        names.add(unit.name)
        if unit.head is not None:
            names.add(unit.head.title)
    return sorted(names)


# ------------------------------------------------------------------ issue 7.3
@pytest.mark.parametrize("name", repo_names())
@pytest.mark.parametrize("lefts", [(3,), (0,), (-1,), (-2, 0, 4, 5), (-1, 0)])
def test_every_subject_and_name_of_the_repo_config_decodes_exactly(name, lefts):
    d = digest(*(item(n, key=f"k{i}") for i, n in enumerate(lefts)), name=name, sender_name=name)
    raw = render(d).as_bytes()
    assert max(len(line) for line in head_of(raw).split(b"\r\n")) <= 998  # RFC 5322 §2.1.1
    subject_lines = (b"Subject: " + header_lines(raw, "Subject")).split(b"\r\n")
    assert max(len(line) for line in subject_lines) <= 78
    modern = email.message_from_bytes(raw, policy=email.policy.default)
    assert modern["Subject"] == subject_for(d)
    assert modern["To"].addresses[0].display_name == name
    assert modern["From"].addresses[0].display_name == name
    legacy = email.message_from_bytes(raw, policy=email.policy.compat32)
    decode = email.header.decode_header
    assert str(email.header.make_header(decode(legacy["Subject"]))) == subject_for(d)
    for field in ("To", "From"):
        ((display, _addr),) = email.utils.getaddresses([legacy[field]])
        assert str(email.header.make_header(decode(display))) == name


@pytest.mark.parametrize("name", repo_names())
def test_encoded_words_hold_whole_words(name):
    # A client that decodes each encoded word on its own must never see half a word
    # ("Xuất nh" + "ập khẩu"): every encoded word after the first starts at a space.
    d = digest(item(-1), item(0, key="k2"), name=name, sender_name=name)
    raw = render(d).as_bytes()
    for field, text in (("Subject", subject_for(d)), ("To", name), ("From", name)):
        words = decoded_words(header_lines(raw, field))
        assert "".join(words) == text
        assert all(w.startswith(" ") for w in words[1:]), (field, words)


def test_a_single_overlong_word_is_the_only_thing_cut():
    word = "Quảnlýthươngmạixuấtnhậpkhẩuvàcôngnghiệp"  # 60 bytes: more than a word holds
    d = digest(name=f"Phòng {word} Sở")
    raw = render(d).as_bytes()
    words = decoded_words(header_lines(raw, "To"))
    assert "".join(words) == f"Phòng {word} Sở"
    modern = email.message_from_bytes(raw, policy=email.policy.default)
    assert modern["To"].addresses[0].display_name == f"Phòng {word} Sở"


# ------------------------------------------------------------------ issue 7.2
def test_due_today_is_den_han_and_mixed_subject_names_every_count():
    d = digest(item(-1), item(-3, key="b"), item(0, key="c"), item(2, key="d"), item(4, key="e"))
    expected = "[Quá hạn] 2 việc quá hạn, 1 việc đến hạn hôm nay, 2 việc sắp đến hạn — Văn phòng Sở"
    assert subject_for(d) == expected
    text = render(d).get_body(("plain",)).get_content()
    assert "xin thông báo 2 việc quá hạn, 1 việc đến hạn hôm nay, 2 việc sắp đến hạn:" in text
    assert subject_for(digest(item(0))) == "[Đến hạn] 1 việc đến hạn hôm nay — Văn phòng Sở"


# ------------------------------------------------------------------ issue 7.4
def bodies(d: Digest) -> tuple[str, str]:
    msg = email.message_from_bytes(render(d).as_bytes(), policy=email.policy.default)
    return msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()


def test_the_focal_point_is_named_to_others():
    text, html = bodies(digest(name="Phòng Quản lý Công nghiệp", focal_point="Văn phòng Sở"))
    # Issue 8.2: no command in front of an official; the focal point and the reference.
    assert "đề nghị báo Văn phòng Sở (mã việc: r/k)." in text
    assert "đề nghị báo Văn phòng Sở (mã việc: <code>r/k</code>)." in html
    assert "hanchot done" not in text and "hanchot done" not in html


def test_the_focal_point_is_not_asked_to_report_to_itself():
    text, html = bodies(digest(name="Văn phòng Sở", focal_point=None))
    for body in (text, html):
        assert "báo Văn phòng Sở" not in body
        assert "hanchot done r k" in body
    assert "Khi hoàn thành, ghi nhận bằng lệnh:" in text


# ------------------------------------------------------------------ issue 12.1
INJECTIONS = [
    "qd-1\r\nBcc: evil@attacker.test",
    "qd-1\r\n\r\n<html>phishing</html>",
    "qd-1\nReply-To: evil@attacker.test",
    "qd-1\rX-Evil: 1",
    "a,b/c d\x00\x85\u2028e",
    "=?utf-8?q?=0D=0ABcc:_x@y?=",  # an encoded word in the text stays text
]


@pytest.mark.parametrize("bad", INJECTIONS)
def test_ids_cannot_add_or_end_a_header(bad):
    from urllib.parse import unquote

    d = digest(item(1, rule_id=bad, key=bad, title=bad), name=bad, sender_name=bad)
    raw = render(d).as_bytes()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert sorted(msg.keys()) == sorted(
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
    assert msg.get_content_type() == "multipart/mixed"
    assert msg["To"].addresses[0].addr_spec == "vanphong@example.gov.vn"
    assert msg["To"].addresses[0].display_name == header_text(bad)
    assert "\r" not in msg["Subject"] and "\n" not in msg["Subject"]
    # (a token too long for the first line starts on the next: leading folding space)
    (entry,) = msg["X-Hanchot-Items"].strip().split(", ")
    rule_id, key = entry.split("/")
    assert (unquote(rule_id), unquote(key)) == (bad, bad)
    starts = [line.split(b":")[0] for line in head_of(raw).split(b"\r\n")]
    assert b"Bcc" not in starts and b"Reply-To" not in starts and b"X-Evil" not in starts
    assert msg.get_body(("plain",)).get_content().startswith("Kính gửi:")


def test_header_text_replaces_controls_and_keeps_the_rest():
    assert header_text("Văn\r\nphòng\tSở\x00 ") == "Văn phòng Sở"
    assert header_text("a\u2028b\u2029c\x85d") == "a b c d"
    assert header_text("Xuất nhập khẩu") == "Xuất nhập khẩu"
