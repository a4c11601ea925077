"""Rendering a reminder digest: what an official sees in the mail client."""

from __future__ import annotations

import email
import email.header
import email.policy
import email.utils
from datetime import UTC, date, datetime, timedelta, timezone

import icalendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifications import Digest, DigestItem, days_left_vi, ics_for, render, subject_for

SEND_AT = datetime(2022, 8, 2, 1, 0, tzinfo=UTC)  # 08:00 in Hà Nội, Thứ Ba 02/08/2022

OVERDUE = DigestItem(
    rule_id="quy-trinh-noi-bo-30-ngay",
    key="ev-2022-001",
    title="Trình Chủ tịch UBND tỉnh phê duyệt quy trình nội bộ giải quyết TTHC",
    plan_item="11",
    due=date(2022, 7, 29),
    working_days_left=-2,
    stage="1 working day after",
    lead_name="Văn phòng Sở",
    coordinating_names=("Phòng Quản lý thương mại", "Thanh tra Sở"),
    output="Quy trình nội bộ được phê duyệt",
    basis="Nghị định 61/2018/NĐ-CP; 107/2021/NĐ-CP",
)
UPCOMING = DigestItem(
    rule_id="bao-cao-quy",
    key="2022-Q3",
    title="Báo cáo tình hình kiểm soát TTHC <script>alert('x')</script> quý III",
    plan_item=None,
    due=date(2022, 8, 5),
    working_days_left=3,
    stage="5 working days before",
    lead_name="Văn phòng Sở",
)
TODAY = DigestItem(
    rule_id="cong-khai-tthc",
    key="2022-08-02",
    title="Cập nhật, công khai TTHC trên Cổng Dịch vụ công",
    plan_item="4",
    due=date(2022, 8, 2),
    working_days_left=0,
    stage="due",
    lead_name="Phòng Quản lý công nghiệp",
    coordinating_names=("Văn phòng Sở",),
)


def make_digest(*items: DigestItem, name: str | None = "Văn phòng Sở") -> Digest:
    return Digest(
        recipient_email="vanphong@example.gov.vn",
        recipient_name=name,
        items=items or (UPCOMING, OVERDUE, TODAY),
        message_id="<20220802T0100Z.vanphong.3f2a@hanchot.example.gov.vn>",
        send_at=SEND_AT,
        sender_name="Hệ thống nhắc hạn Sở Công Thương",
        sender_email="nhachan@example.gov.vn",
    )


def parse(digest: Digest) -> email.message.EmailMessage:
    raw = render(digest).as_bytes()
    raw.decode("ascii")  # 7-bit clean: safe for any relay, 8BITMIME or not
    return email.message_from_bytes(raw, policy=email.policy.default)


def bodies(msg: email.message.EmailMessage) -> tuple[str, str]:
    return msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()


def test_subject_decodes_to_the_exact_vietnamese_string():
    msg = parse(make_digest())
    # issue 7.2: a mixed digest names every count, worst state first.
    assert msg["Subject"] == (
        "[Quá hạn] 1 việc quá hạn, 1 việc đến hạn hôm nay, 1 việc sắp đến hạn — Văn phòng Sở"
    )


def test_raw_subject_is_rfc2047_encoded():
    raw = render(make_digest()).as_bytes()
    header = raw.split(b"\r\n\r\n", 1)[0]
    assert b"=?utf-8?" in header
    assert "Quá".encode() not in header


@pytest.mark.parametrize(
    ("items", "name", "expected"),
    [
        ((UPCOMING,), "Chánh Văn phòng", "[Nhắc hạn] 1 việc sắp đến hạn — Chánh Văn phòng"),
        ((OVERDUE,), "Thanh tra Sở", "[Quá hạn] 1 việc quá hạn — Thanh tra Sở"),
        # issue 7.2: due on the send date is [Đến hạn], never "sắp đến hạn".
        ((TODAY,), "Văn phòng Sở", "[Đến hạn] 1 việc đến hạn hôm nay — Văn phòng Sở"),
        ((TODAY, UPCOMING), None, "[Đến hạn] 1 việc đến hạn hôm nay, 1 việc sắp đến hạn"),
    ],
)
def test_subject_leaves_out_zero_counts_and_missing_names(items, name, expected):
    assert subject_for(make_digest(*items, name=name)) == expected
    assert parse(make_digest(*items, name=name))["Subject"] == expected


def test_headers():
    msg = parse(make_digest())
    assert msg["Message-ID"] == "<20220802T0100Z.vanphong.3f2a@hanchot.example.gov.vn>"
    assert msg["From"].addresses[0].display_name == "Hệ thống nhắc hạn Sở Công Thương"
    assert msg["From"].addresses[0].addr_spec == "nhachan@example.gov.vn"
    assert msg["To"].addresses[0].display_name == "Văn phòng Sở"
    assert msg["To"].addresses[0].addr_spec == "vanphong@example.gov.vn"
    assert msg["Date"].datetime == SEND_AT
    assert msg["Date"].datetime.utcoffset() == timedelta(hours=7)  # shown in local time
    assert msg["X-Hanchot-Items"] == (
        "quy-trinh-noi-bo-30-ngay/ev-2022-001, cong-khai-tthc/2022-08-02, bao-cao-quy/2022-Q3"
    )
    assert msg.get_content_type() == "multipart/mixed"
    assert msg.get_payload(0).get_content_type() == "multipart/alternative"


@pytest.mark.parametrize("part", [0, 1], ids=["text", "html"])
def test_both_bodies_carry_every_field_with_correct_diacritics(part):
    body = bodies(parse(make_digest()))[part]
    for expected in (
        "Trình Chủ tịch UBND tỉnh phê duyệt quy trình nội bộ giải quyết TTHC",
        "Mục kế hoạch",
        "Thứ Sáu, 29/07/2022",
        "quá hạn 2 ngày làm việc",
        "Thứ Sáu, 05/08/2022",
        "còn 3 ngày làm việc",
        "Thứ Ba, 02/08/2022",
        "đến hạn hôm nay",
        "Đơn vị chủ trì",
        "Văn phòng Sở",
        "Đơn vị phối hợp",
        "Phòng Quản lý thương mại, Thanh tra Sở",
        "Phòng Quản lý công nghiệp",
        "Kết quả",
        "Quy trình nội bộ được phê duyệt",
        "Căn cứ",
        "Nghị định 61/2018/NĐ-CP; 107/2021/NĐ-CP",
        "hanchot done quy-trinh-noi-bo-30-ngay ev-2022-001 --evidence",
        "Hệ thống nhắc hạn Sở Công Thương",
    ):
        assert expected in body, expected


@pytest.mark.parametrize("part", [0, 1], ids=["text", "html"])
def test_overdue_first_then_by_due_date(part):
    body = bodies(parse(make_digest(UPCOMING, TODAY, OVERDUE)))[part]
    positions = [body.index(t) for t in ("phê duyệt quy trình", "Cổng Dịch vụ công", "quý III")]
    assert positions == sorted(positions)


def test_html_is_escaped_and_text_is_not():
    text, html = bodies(parse(make_digest()))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<script>alert('x')</script>" in text
    assert "&lt;" not in text
    assert '--evidence "..."' in text


def test_one_ics_attachment_per_item():
    msg = parse(make_digest())
    attachments = list(msg.iter_attachments())
    assert [a.get_filename() for a in attachments] == [
        "quy-trinh-noi-bo-30-ngay-ev-2022-001.ics",
        "cong-khai-tthc-2022-08-02.ics",
        "bao-cao-quy-2022-Q3.ics",
    ]
    by_uid = {}
    for a in attachments:
        assert a.get_content_type() == "text/calendar"
        assert a.get_param("method") == "PUBLISH"
        cal = icalendar.Calendar.from_ical(a.get_content())
        assert str(cal["VERSION"]) == "2.0"
        assert str(cal["METHOD"]) == "PUBLISH"
        assert cal["PRODID"]
        (event,) = cal.walk("VEVENT")
        by_uid[str(event["UID"])] = event
    event = by_uid["quy-trinh-noi-bo-30-ngay/ev-2022-001@hanchot"]
    assert event.decoded("DTSTART") == date(2022, 7, 29)
    assert event.decoded("DTEND") == date(2022, 7, 30)
    assert event.decoded("DTSTAMP") == SEND_AT
    assert str(event["SUMMARY"]) == OVERDUE.title
    description = str(event["DESCRIPTION"])
    assert "Đơn vị chủ trì: Văn phòng Sở" in description
    assert "Phòng Quản lý thương mại, Thanh tra Sở" in description
    assert "Quy trình nội bộ được phê duyệt" in description
    assert by_uid["bao-cao-quy/2022-Q3@hanchot"].decoded("DTSTART") == date(2022, 8, 5)


def test_ics_for_many_items():
    cal = icalendar.Calendar.from_ical(ics_for([OVERDUE, UPCOMING, TODAY], SEND_AT))
    events = cal.walk("VEVENT")
    assert [str(e["UID"]) for e in events] == [OVERDUE.uid, UPCOMING.uid, TODAY.uid]
    assert [e.decoded("DTSTART") for e in events] == [OVERDUE.due, UPCOMING.due, TODAY.due]


def test_ics_for_rejects_a_naive_dtstamp():
    with pytest.raises(ValueError, match="naive"):
        ics_for([OVERDUE], datetime(2022, 8, 2, 8, 0))


def test_attachment_names_are_filesystem_safe():
    odd = DigestItem("bao-cao", "../Sở/2022 Q1", "x", None, date(2022, 3, 31), 1, "due", "VP")
    (att,) = parse(make_digest(odd)).iter_attachments()
    assert att.get_filename() == "bao-cao-.._S_2022_Q1.ics"
    assert "/" not in att.get_filename()


def test_rendering_is_reproducible():
    assert render(make_digest()).as_bytes() == render(make_digest()).as_bytes()


def test_uid_defaults_to_rule_and_key():
    assert OVERDUE.uid == "quy-trinh-noi-bo-30-ngay/ev-2022-001@hanchot"


@pytest.mark.parametrize(
    ("left", "text"),
    [
        (3, "còn 3 ngày làm việc"),
        (1, "còn 1 ngày làm việc"),
        (0, "đến hạn hôm nay"),
        (-2, "quá hạn 2 ngày làm việc"),
    ],
)
def test_days_left_in_vietnamese(left, text):
    assert days_left_vi(left) == text


def test_digest_rejects_naive_send_time_and_converts_to_utc():
    with pytest.raises(ValueError, match="naive"):
        Digest("a@b.vn", None, (UPCOMING,), "<x@y>", datetime(2022, 8, 2, 8), "S", "s@b.vn")
    local = datetime(2022, 8, 2, 8, 0, tzinfo=timezone(timedelta(hours=7)))
    d = Digest("a@b.vn", None, (UPCOMING,), "<x@y>", local, "S", "s@b.vn")
    assert d.send_at == SEND_AT and d.send_at.tzinfo is UTC


@pytest.mark.parametrize("bad", ["x@y", "<x y@z>", "<nodomain>"])
def test_digest_rejects_a_malformed_message_id(bad):
    with pytest.raises(ValueError, match="message_id"):
        Digest("a@b.vn", None, (UPCOMING,), bad, SEND_AT, "S", "s@b.vn")


def test_digest_needs_items():
    with pytest.raises(ValueError, match="at least one item"):
        Digest("a@b.vn", None, (), "<x@y>", SEND_AT, "S", "s@b.vn")


def _rfc2047_decode(value: str) -> str:
    return str(email.header.make_header(email.header.decode_header(value)))


LONG_NAME = "Phòng Quản lý thương mại, xuất nhập khẩu và Quản lý công nghiệp — Thanh tra Sở"


def test_long_headers_keep_every_space():
    # CPython 3.11's own folder drops the space at a fold between encoded words;
    # notifications.policy works around it.
    item = DigestItem("r", "k", "x", None, date(2022, 8, 5), 1, "due", "VP")
    digest = make_digest(item, name="Chánh Văn phòng")
    raw = render(digest).as_bytes()
    assert max(len(line) for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")) <= 78
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "[Nhắc hạn] 1 việc sắp đến hạn — Chánh Văn phòng"

    long = make_digest(item, name=LONG_NAME)
    legacy = email.message_from_bytes(render(long).as_bytes(), policy=email.policy.compat32)
    ((name, addr),) = email.utils.getaddresses([legacy["To"]])
    assert (_rfc2047_decode(name), addr) == (LONG_NAME, "vanphong@example.gov.vn")
    assert _rfc2047_decode(legacy["Subject"]) == f"[Nhắc hạn] 1 việc sắp đến hạn — {LONG_NAME}"


VI_WORDS = st.sampled_from(
    "Nhắc hạn việc sắp đến quá — Chánh Văn phòng Sở Công Thương Quản lý thương mại "
    "xuất nhập khẩu, Thanh tra An toàn môi trường [Quá] 2 Điều 147 NĐ-CP".split()
)


@given(st.lists(VI_WORDS, min_size=1, max_size=20).map(" ".join))
def test_any_vietnamese_subject_round_trips(name):
    item = DigestItem("r", "k", "x", None, date(2022, 8, 5), 1, "due", "VP")
    digest = make_digest(item, name=name)
    raw = render(digest).as_bytes()
    assert email.message_from_bytes(raw, policy=email.policy.default)["Subject"] == (
        subject_for(digest)
    )
    legacy = email.message_from_bytes(raw, policy=email.policy.compat32)
    ((display, _),) = email.utils.getaddresses([legacy["To"]])
    assert _rfc2047_decode(display) == name
