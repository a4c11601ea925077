"""notifications.wire.wire_bytes gives the generator's bytes, faster (issue 11 item 3).

The reference is ``msg.as_bytes(policy=msg.policy.clone(linesep="\\r\\n"))``, what both
transports sent before. Rendered digests (hostile text included) must take the fast
path — the generator is made to fail while it runs — and anything the fast path does
not handle must come out exactly as the generator writes it.
"""

from __future__ import annotations

import email.generator
import email.policy
import importlib
from contextlib import contextmanager
from datetime import UTC, date, datetime
from email.message import EmailMessage
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifications import Digest, DigestItem, render
from notifications.policy import POLICY
from notifications.wire import wire_bytes
from tests.integration.test_mail_hostile_text import HOSTILE, digests

SEND_AT = datetime(2022, 7, 28, 1, 0, tzinfo=UTC)


def generator_bytes(msg) -> bytes:
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


@contextmanager
def no_generator():
    def refuse(*_a, **_kw):
        raise AssertionError("the fast path fell back to email.generator")

    with mock.patch.object(email.generator.BytesGenerator, "flatten", refuse):
        yield


def item(n: int, **kw) -> DigestItem:
    base = {
        "rule_id": f"rule-{n}",
        "key": f"2022-Q{n % 4 + 1}",
        "title": f"Báo cáo tình hình, kết quả kiểm soát thủ tục hành chính số {n}",
        "plan_item": str(n),
        "due": date(2022, 7, 20 + n % 10),
        "working_days_left": n % 5 - 2,
        "stage": "due",
        "lead_name": "Văn phòng Sở",
        "coordinating_names": ("Phòng Quản lý Công nghiệp", "Phòng Quản lý Năng lượng"),
        "output": "Báo cáo gửi UBND tỉnh",
        "basis": "Thông tư 01/2020/TT-VPCP",
    }
    base.update(kw)
    return DigestItem(**base)


def digest(items, **kw) -> Digest:
    base = {
        "recipient_email": "van-phong@example.gov.vn",
        "recipient_name": "Văn phòng Sở",
        "items": tuple(items),
        "message_id": "<0123456789abcdef@hanchot>",
        "send_at": SEND_AT,
        "sender_name": "Hệ thống nhắc hạn Sở Công Thương",
        "sender_email": "nhachan@example.gov.vn",
    }
    base.update(kw)
    return Digest(**base)


CASES = {
    "one item": digest([item(1)]),
    "many items, focal point, links": digest(
        [item(n, links=(("report", f"https://x.example/a/{n}"),)) for n in range(12)],
        focal_point="Văn phòng Sở",
        list_link="https://x.example/a/list",
    ),
    # a file name past the folding width: Content-Disposition is split the RFC 2231 way
    "long ids": digest([item(1, rule_id="r" * 90, key="k-" * 40)]),
    "long names": digest(
        [item(2, title="Xây dựng " * 40)],
        recipient_name="Phòng Quản lý Thương mại, Xuất nhập khẩu và Hội nhập kinh tế quốc tế",
        sender_name="Hệ thống nhắc hạn " * 6,
    ),
    "ascii only": digest(
        [item(3, title="Report", lead_name="Office", coordinating_names=())],
        recipient_name=None,
        sender_name="Reminders",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rendered_digests_take_the_fast_path_with_the_generators_bytes(name):
    msg = render(CASES[name])
    expected = generator_bytes(msg)
    with no_generator():
        assert wire_bytes(msg) == expected
    with no_generator():  # twice: the folded headers kept from the first time are right
        assert wire_bytes(render(CASES[name])) == expected


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(d=digests())
def test_hostile_text_gives_the_generators_bytes(d):
    msg = render(d)
    expected = generator_bytes(msg)
    with no_generator():
        assert wire_bytes(msg) == expected


def summary_like() -> EmailMessage:
    # the failure summary's construction (engine.store.dispatch._summary_message)
    msg = EmailMessage(policy=POLICY)
    msg["From"] = "Hệ thống nhắc hạn <nhachan@example.gov.vn>"
    msg["To"] = "admin@example.gov.vn"
    msg["Subject"] = "[Nhắc hạn] 2 thư không gửi được ngày 28/07/2022"
    msg["Message-ID"] = "<x@hanchot>"
    msg.set_content("Dòng một\nDòng hai\r\n\n", charset="utf-8", cte="quoted-printable")
    return msg


def test_a_single_part_message_takes_the_fast_path():
    msg = summary_like()
    expected = generator_bytes(msg)
    with no_generator():
        assert wire_bytes(msg) == expected


def _with_preamble():
    msg = render(CASES["one item"])
    msg.preamble = "This is a MIME message."
    return msg


def _eight_bit():
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = "x"
    msg.set_content("Tiếng Việt\n", charset="utf-8", cte="8bit")
    return msg


def _attached_message():
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = "x"
    msg.set_content("a\n")
    msg.add_attachment(summary_like())
    return msg


def _no_content_type():
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = "x"
    msg.set_payload("a\nb\n")
    return msg


def _other_policy():
    msg = EmailMessage(policy=email.policy.default)
    msg["Subject"] = "Nhắc hạn"
    msg.set_content("a\n")
    return msg


def _signed():
    msg = render(CASES["one item"])
    msg.replace_header("Content-Type", 'multipart/signed; boundary="=_x_0"')
    return msg


def _odd_boundary():
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = "x"
    msg.set_content("a\n")
    msg.add_alternative("<p>a</p>\n", subtype="html")
    msg.set_boundary("b; c")  # quoted, with a semicolon: left to the generator
    return msg


@pytest.mark.parametrize(
    "make",
    [
        _with_preamble,
        _eight_bit,
        _attached_message,
        _no_content_type,
        _other_policy,
        _signed,
        _odd_boundary,
    ],
)
def test_what_the_fast_path_does_not_handle_is_the_generators(make):
    msg = make()
    assert wire_bytes(msg) == generator_bytes(msg)


@settings(max_examples=300, deadline=None)
@given(name=st.text(alphabet="abcXYZ019._-", min_size=1, max_size=70))
def test_short_attachment_names_are_stored_as_the_folder_gives_them(name):
    # The shortcut of render._disposition against the general path it skips
    # (parse, fold, keep the folded text) for every name attachment_name() can give.
    r = importlib.import_module("notifications.render")  # the package re-exports render()
    value = f'attachment; filename="{name}"'
    before = r._fold_cached("Content-Disposition", value)  # the code before the shortcut
    if isinstance(before, str) and POLICY.linesep in before:
        before = r._header("Content-Disposition", value)
    now = r._disposition(name)
    assert (type(now), now) == (type(before), before)


@settings(max_examples=200, deadline=None)
@given(name=HOSTILE, header=st.sampled_from(["From", "To"]))
def test_address_headers_with_a_lazy_parse_tree_are_the_stock_ones(name, header):
    # render._address builds the parse tree only when something reads it: against the
    # header the stock registry makes from the same Address.
    r = importlib.import_module("notifications.render")
    from email.headerregistry import Address

    from notifications.policy import header_text

    addr = "van-phong@example.gov.vn"
    stock = POLICY.header_factory(header, Address(display_name=header_text(name), addr_spec=addr))
    lazy = r._address(header, name, addr)
    assert str(lazy) == str(stock) and lazy.addresses == stock.addresses
    assert POLICY.fold_binary(header, lazy) == POLICY.fold_binary(header, stock)
    assert email.policy.SMTP.fold(header, lazy) == email.policy.SMTP.fold(header, stock)
    assert str(lazy._parse_tree) == str(stock._parse_tree)
    assert lazy.defects == stock.defects
