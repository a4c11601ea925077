"""Property: whatever text comes in (all of Unicode, control characters included),
an entry check either refuses it with an InputError or lets through a name that
cannot end or add a mail header (issue 12, "Tests")."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.errors import InputError
from engine.loader.names import (
    CONTROL_RE,
    check_attr_value,
    check_display_name,
    check_event_id,
    check_event_type,
    check_rule_id,
)

#: Any text, with the characters that end headers made common.
texts = st.text(
    alphabet=st.one_of(
        st.characters(codec=None),
        st.sampled_from(["\r", "\n", ":", " ", "\x00", "\x1b", "\u2028", "\x85"]),
        st.sampled_from(list("qd-0425/ABC._")),
    ),
    max_size=120,
)


def _headers_after_round_trip(name: str, value: str) -> list[tuple[str, str]]:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg[name] = value
    msg.set_content("thân thư")
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    return [(k, str(v)) for k, v in parsed.items() if k.lower().startswith("x-")]


@settings(max_examples=400, deadline=None)
@given(texts)
@example("qd-1\r\nBcc: evil@attacker.test")
@example("qd-2\r\n\r\n<h1>x</h1>")
def test_accepted_event_ids_are_one_exact_header_value(text):
    try:
        eid = check_event_id(text)
    except InputError:
        return
    assert not CONTROL_RE.search(eid) and len(eid) <= 100
    assert _headers_after_round_trip("X-Hanchot-Items", eid) == [("X-Hanchot-Items", eid)]


@settings(max_examples=300, deadline=None)
@given(texts)
@example("Văn phòng Sở\r\nBcc: evil@attacker.test")
def test_accepted_display_names_add_no_header(text):
    try:
        name = check_display_name(text, "unit name")
    except InputError:
        return
    assert not CONTROL_RE.search(name)
    (header,) = _headers_after_round_trip("X-Unit", name)
    assert header[0] == "X-Unit"


@settings(max_examples=300, deadline=None)
@given(texts)
def test_every_check_refuses_or_returns_clean_text(text):
    for check in (check_rule_id, check_event_type, check_event_id):
        try:
            out = check(text)
        except InputError:
            continue
        assert out.isascii() and out == out.strip() and not CONTROL_RE.search(out)
    try:
        value = check_attr_value(text, "ghi_chu")
    except InputError:
        return
    assert not CONTROL_RE.search(value)
