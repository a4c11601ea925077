"""Signed links, sessions and CSRF fields of the portal (engine/web/tokens.py)."""

from __future__ import annotations

import base64
import json
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from engine.core.config import Settings, WebSettings
from engine.web.links import links_for
from engine.web.tokens import ACK, LIST, REPORT, Signer, TokenError, secret_key

NOW = datetime(2022, 7, 22, 1, 0, tzinfo=UTC)


def signer(key: str = "k" * 40) -> Signer:
    return Signer(key, max_age=timedelta(days=90))


def test_round_trip_names_recipient_deadline_and_action():
    t = signer().action_token("QLCN@example.gov.vn", 7, REPORT, NOW)
    c = signer().verify_action(t, action=REPORT, now=NOW + timedelta(days=1))
    assert (c.recipient, c.deadline_id, c.action, c.issued) == (
        "qlcn@example.gov.vn",
        7,
        REPORT,
        NOW,
    )


def test_tampered_token_is_refused():
    t = signer().action_token("qlcn@example.gov.vn", 7, REPORT, NOW)
    payload, sig = t.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["r"] = "qlnl@example.gov.vn"  # another recipient, same signature
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    with pytest.raises(TokenError, match="not valid"):
        signer().verify_action(f"{forged}.{sig}", action=REPORT, now=NOW)
    with pytest.raises(TokenError, match="not valid"):
        signer().verify_action(t[:-2] + ("AA" if t[-2:] != "AA" else "BB"), action=REPORT, now=NOW)


def test_expired_token_is_refused_after_max_age_only():
    t = signer().action_token("qlcn@example.gov.vn", 7, ACK, NOW)
    signer().verify_action(t, action=ACK, now=NOW + timedelta(days=90))  # the last second
    with pytest.raises(TokenError, match="expired"):
        signer().verify_action(t, action=ACK, now=NOW + timedelta(days=90, seconds=1))


def test_wrong_action_is_refused():
    t = signer().action_token("qlcn@example.gov.vn", 7, ACK, NOW)
    with pytest.raises(TokenError, match="another action"):
        signer().verify_action(t, action=REPORT, now=NOW)


def test_rotated_key_kills_every_token():
    t = signer("old-key-" * 5).action_token("qlcn@example.gov.vn", 7, REPORT, NOW)
    with pytest.raises(TokenError, match="not valid"):
        signer("new-key-" * 5).verify_action(t, action=REPORT, now=NOW)


def test_kinds_do_not_pass_for_each_other():
    s = signer()
    cookie = s.session_cookie("qlcn@example.gov.vn", NOW)
    with pytest.raises(TokenError):
        s.verify_action(cookie, action=LIST, now=NOW)
    with pytest.raises(TokenError):
        s.verify_signin(cookie)
    email, sid = s.verify_session(cookie, NOW, timedelta(hours=12))
    assert email == "qlcn@example.gov.vn" and len(sid) > 16
    with pytest.raises(TokenError, match="expired"):
        s.verify_session(cookie, NOW + timedelta(hours=13), timedelta(hours=12))


def test_csrf_is_bound_to_its_session_and_key():
    s = signer()
    value = s.csrf("session-1")
    assert s.check_csrf("session-1", value)
    assert not s.check_csrf("session-2", value)
    assert not s.check_csrf("session-1", None)
    assert not s.check_csrf("session-1", "")
    assert not signer("other" * 8).check_csrf("session-1", value)


def test_key_file_is_created_once_with_mode_0600(tmp_path):
    k1 = secret_key(tmp_path / "var", {})
    path = tmp_path / "var" / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret_key(tmp_path / "var", {}) == k1 and len(k1) >= 64
    assert secret_key(tmp_path / "var", {"HANCHOT_SECRET_KEY": "from-env"}) == "from-env"


def test_links_for_one_recipient_and_deadline():
    settings = replace(Settings(), web=WebSettings(base_url="https://nhachan.example.gov.vn"))
    s = signer()
    links = links_for(settings, s, "qlcn@example.gov.vn", 7, NOW)
    assert set(links) == {"report", "extend", "ack", "list"}
    for action, url in links.items():
        assert url.startswith("https://nhachan.example.gov.vn/a/")
        c = s.verify_action(url.rsplit("/", 1)[1], action=action, now=NOW)
        assert c.recipient == "qlcn@example.gov.vn"
        assert c.deadline_id == (None if action == "list" else 7)
    assert links_for(Settings(), s, "qlcn@example.gov.vn", 7, NOW) == {}


def test_link_maker_reads_the_key_once_and_needs_a_base_url(tmp_path):
    from engine.web.links import link_maker

    plain = replace(Settings(), data_dir=str(tmp_path))
    assert link_maker(plain, {}, NOW) is None
    web = replace(plain, web=WebSettings(base_url="http://h.test"))
    make = link_maker(web, {"HANCHOT_SECRET_KEY": "k" * 40}, NOW)
    url = make("qlcn@example.gov.vn", 3, None)["ack"]
    claim = signer().verify_action(url.rsplit("/", 1)[1], action=ACK, now=NOW)
    assert claim.deadline_id == 3 and not (tmp_path / "secret.key").exists()


def test_link_maker_gives_report_and_extend_to_the_lead_only():
    from engine.core.units import Directory, UnitInfo
    from engine.web.links import link_maker

    d = Directory(
        units={
            "qlcn": UnitInfo("qlcn", "QLCN", ("qlcn@x.vn",)),
            "qlnl": UnitInfo("qlnl", "QLNL", ("qlnl@x.vn",)),
            "van-phong": UnitInfo("van-phong", "VP", ("vp@x.vn",)),
        },
        groups={"pcm": ("qlcn", "qlnl")},
        roles={"admin": "van-phong"},
    )
    web = replace(Settings(), web=WebSettings(base_url="http://h.test"))
    make = link_maker(web, {"HANCHOT_SECRET_KEY": "k" * 40}, NOW, d)
    assert list(make("qlcn@x.vn", 3, "qlcn")) == ["report", "extend", "ack"]
    assert list(make("qlcn@x.vn", 3, "pcm")) == ["report", "extend", "ack"]  # via the group
    assert list(make("qlnl@x.vn", 3, "qlcn")) == ["ack"]  # coordinating: acknowledge only
    assert list(make("vp@x.vn", 3, "qlcn")) == ["report", "extend", "ack"]  # focal point
    assert list(make("qlnl@x.vn", None, None)) == ["list"]
