"""The portal through Starlette's TestClient on a real SQLite store.

Deadlines as in test_portal_ops: both rules due Friday 29/07/2022; REVIEW_RULE is led
by qlcn (a department: completion needs confirmation), REPORT_RULE by van-phong, the
focal point (direct).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from engine.store.materialise import materialise
from engine.store.portal_tables import attachments, notices, signins
from engine.store.tables import DONE, OPEN, REPORTED, audit, deadlines
from engine.web.app import create_app
from engine.web.overview import add_overview
from engine.web.tokens import Signer
from tests.integration.portal_helpers import ADMIN, QLCN, QLNL, portal_config
from tests.integration.store_helpers import local, open_store


class Clock:
    def __init__(self, at):
        self.at = at

    def __call__(self):
        return self.at


@pytest.fixture(autouse=True)
def english(monkeypatch):
    """Messages of the code in English (message ids); the pages' own text is Vietnamese."""
    monkeypatch.setenv("HANCHOT_LANG", "en")


@pytest.fixture
def portal(tmp_path):
    cfg = portal_config(tmp_path)
    engine, sessions = open_store(cfg)
    clock = Clock(local(2022, 7, 21, 9))
    with sessions() as s, s.begin():
        materialise(s, cfg, clock())
    signer = Signer("test-secret-" * 4)
    app = create_app(cfg, sessions, signer=signer, clock=clock, data_dir=tmp_path / "var")
    add_overview(app, cfg, sessions, clock)
    client = TestClient(app, base_url="http://portal.test", follow_redirects=False)
    yield cfg, sessions, signer, clock, client
    engine.dispose()


def did(sessions, rule):
    with sessions() as s:
        return s.execute(sa.select(deadlines.c.id).where(deadlines.c.rule_id == rule)).scalar()


def status(sessions, rule):
    with sessions() as s:
        return s.execute(sa.select(deadlines.c.status).where(deadlines.c.rule_id == rule)).scalar()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_mail_link_opens_the_form_and_reports_with_a_pdf(portal):
    cfg, sessions, signer, clock, client = portal
    d = did(sessions, "ra-soat-tthc")
    token = signer.action_token(QLCN, d, "report", clock())
    page = client.get(f"/a/{token}")
    assert page.status_code == 200
    html = page.text
    assert "Rà soát, đánh giá thủ tục hành chính năm 2022" in html
    assert "Thứ Sáu, 29/07/2022" in html
    assert "Gửi báo cáo hoàn thành" in html and "Gửi đề nghị gia hạn" not in html
    assert "set-cookie" in page.headers and "httponly" in page.headers["set-cookie"].lower()
    assert "samesite=lax" in page.headers["set-cookie"].lower()
    resp = client.post(
        f"/a/{token}",
        data={"csrf": csrf_of(html), "doc_number": "88/BC-QLCN", "doc_date": "2022-07-20"},
        files={"files": ("ket-qua.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")},
    )
    assert resp.status_code == 200, resp.text
    assert "đầu mối sẽ xác nhận" in resp.text
    assert status(sessions, "ra-soat-tthc") == REPORTED
    with sessions() as s:
        who = s.execute(
            sa.select(audit.c.actor, audit.c.new).where(audit.c.action == "report")
        ).one()
    assert who.actor == QLCN and who.new["from"] == "testclient"
    # The same link again: the deadline is no longer open.
    again = client.get(f"/a/{token}")
    assert again.status_code == 200  # reported, not closed: the page shows, without the form
    assert "Gửi báo cáo hoàn thành" not in again.text


def test_link_of_a_closed_deadline_is_dead(portal):
    cfg, sessions, signer, clock, client = portal
    d = did(sessions, "bao-cao-6-thang")  # direct: closes at once
    token = signer.action_token(ADMIN, d, "report", clock())
    html = client.get(f"/a/{token}").text
    resp = client.post(f"/a/{token}", data={"csrf": csrf_of(html), "doc_number": "512/BC-SCT"})
    assert resp.status_code == 200 and status(sessions, "bao-cao-6-thang") == DONE
    dead = client.get(f"/a/{token}")
    assert dead.status_code == 403 and "closed" in dead.text


def test_links_for_another_recipient_action_or_key_are_refused(portal):
    cfg, sessions, signer, clock, client = portal
    d = did(sessions, "ra-soat-tthc")
    # qlnl neither leads nor coordinates this deadline.
    assert client.get(f"/a/{signer.action_token(QLNL, d, 'report', clock())}").status_code == 403
    other = Signer("rotated-key-" * 4).action_token(QLCN, d, "report", clock())
    assert client.get(f"/a/{other}").status_code == 403
    old = signer.action_token(QLCN, d, "report", clock() - timedelta(days=91))
    r = client.get(f"/a/{old}")
    assert r.status_code == 403 and "expired" in r.text
    # An ack link cannot be used to post a report.
    ack = signer.action_token(QLCN, d, "ack", clock())
    html = client.get(f"/a/{ack}").text
    assert "Gửi báo cáo hoàn thành" not in html
    client.post(f"/a/{ack}", data={"csrf": csrf_of(html), "doc_number": "1"})
    assert status(sessions, "ra-soat-tthc") == OPEN


def test_forms_without_the_right_csrf_change_nothing(portal):
    cfg, sessions, signer, clock, client = portal
    d = did(sessions, "ra-soat-tthc")
    token = signer.action_token(QLCN, d, "report", clock())
    client.get(f"/a/{token}")
    for bad in ({}, {"csrf": "0" * 64}, {"csrf": signer.csrf("another-session")}):
        r = client.post(f"/a/{token}", data={**bad, "doc_number": "1"})
        assert r.status_code == 403
    r = client.post(f"/han/{d}/report", data={"csrf": "x", "doc_number": "1"})
    assert r.status_code == 403  # the session from the link, but no valid CSRF
    assert status(sessions, "ra-soat-tthc") == OPEN


def test_upload_too_large_is_refused_and_html_is_served_as_a_download(portal, tmp_path):
    cfg, sessions, signer, clock, client = portal
    d = did(sessions, "ra-soat-tthc")
    token = signer.action_token(QLCN, d, "report", clock())
    html = client.get(f"/a/{token}").text
    big = b"x" * (cfg.settings.web.max_upload_bytes + 1)
    r = client.post(
        f"/a/{token}",
        data={"csrf": csrf_of(html), "doc_number": "1"},
        files={"files": ("big.pdf", big, "application/pdf")},
    )
    assert r.status_code == 400 and status(sessions, "ra-soat-tthc") == OPEN
    r = client.post(
        f"/a/{token}",
        data={"csrf": csrf_of(html), "doc_number": "2"},
        files={"files": ("../../x.html", b"<script>alert(1)</script>", "text/html")},
    )
    assert r.status_code == 200
    with sessions() as s:
        att = s.execute(sa.select(attachments)).one()
    assert att.filename == "x.html"
    got = client.get(f"/tep/{att.id}")
    assert got.status_code == 200 and got.content == b"<script>alert(1)</script>"
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["x-content-type-options"] == "nosniff"
    fresh = TestClient(client.app, base_url="http://portal.test", follow_redirects=False)
    assert fresh.get(f"/tep/{att.id}").status_code == 303  # no session: sign in first


def test_pages_need_a_session_and_sign_in_is_one_time_and_rate_limited(portal):
    cfg, sessions, signer, clock, client = portal
    assert client.get("/viec").headers["location"] == "/dang-nhap"
    form = client.get("/dang-nhap")
    r = client.post("/dang-nhap", data={"email": QLCN})
    assert r.status_code == 403  # no CSRF
    r = client.post("/dang-nhap", data={"email": QLCN, "csrf": csrf_of(form.text)})
    assert r.status_code == 200
    r2 = client.post("/dang-nhap", data={"email": "nobody@example.com", "csrf": csrf_of(form.text)})
    assert r2.text.count("Nếu địa chỉ có trong danh sách") == 1  # same answer, no mail
    with sessions() as s:
        body = s.execute(sa.select(notices.c.body, notices.c.recipient)).one()
    assert body.recipient == QLCN
    link = re.search(r"http://portal\.test(/dang-nhap/\S+)", body.body).group(1)
    fresh = TestClient(client.app, base_url="http://portal.test", follow_redirects=False)
    ok = fresh.get(link)
    assert ok.status_code == 303 and ok.headers["location"] == "/viec"
    page = fresh.get("/viec")
    assert page.status_code == 200 and "Rà soát, đánh giá" in page.text
    # Led by van-phong, coordinated by phong-chuyen-mon, a group qlcn belongs to.
    assert "Báo cáo tình hình" in page.text
    thanh_tra = TestClient(client.app, base_url="http://portal.test", follow_redirects=False)
    thanh_tra.get(f"/a/{signer.action_token('thanh-tra@example.gov.vn', None, 'list', clock())}")
    listed = thanh_tra.get("/viec").text
    assert "Rà soát" not in listed and "Báo cáo tình hình" not in listed  # concerns neither
    assert fresh.get(link).status_code == 403  # used once
    for _ in range(2):
        client.post("/dang-nhap", data={"email": QLCN, "csrf": csrf_of(form.text)})
    limited = client.post("/dang-nhap", data={"email": QLCN, "csrf": csrf_of(form.text)})
    assert limited.status_code == 429  # 3 requests in 15 minutes for one address
    with sessions() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(signins)).scalar() == 4


def test_admin_confirms_and_decides_in_the_portal(portal):
    cfg, sessions, signer, clock, client = portal
    d = did(sessions, "ra-soat-tthc")
    unit = TestClient(client.app, base_url="http://portal.test", follow_redirects=False)
    tok = signer.action_token(QLCN, d, "extend", clock())
    html = unit.get(f"/a/{tok}").text
    r = unit.post(
        f"/a/{tok}", data={"csrf": csrf_of(html), "new_due": "2022-08-12", "reason": "Chờ ý kiến"}
    )
    assert r.status_code == 200
    admin_tok = signer.action_token(ADMIN, None, "list", clock())
    assert client.get(f"/a/{admin_tok}").headers["location"] == "/viec"
    page = client.get(f"/han/{d}")
    assert "Đồng ý gia hạn" in page.text and "Thứ Sáu, 12/08/2022" in page.text
    r = client.post(f"/han/{d}/approve", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 200
    page = client.get(f"/han/{d}")
    assert "Thứ Sáu, 12/08/2022" in page.text and "hạn ban đầu Thứ Sáu, 29/07/2022" in page.text
    assert "Đồng ý gia hạn" in page.text  # in the history now
    # A unit cannot use the admin's actions.
    r = unit.post(
        f"/han/{d}/waive", data={"csrf": csrf_of(unit.get(f"/han/{d}").text), "reason": "x"}
    )
    assert r.status_code == 400 and status(sessions, "ra-soat-tthc") == OPEN


def test_focal_point_records_an_event_and_its_deadline_appears(tmp_path):
    from tests.integration.portal_helpers import REPORT_RULE, REVIEW_RULE
    from tests.integration.store_helpers import PUBLISH_RULE

    cfg = portal_config(tmp_path, rules=(REPORT_RULE, REVIEW_RULE, PUBLISH_RULE))
    engine, sessions = open_store(cfg)
    now = local(2022, 7, 21, 9)
    with sessions() as s, s.begin():
        materialise(s, cfg, now)
    signer = Signer("test-secret-" * 4)
    app = create_app(cfg, sessions, signer=signer, clock=lambda: now, data_dir=tmp_path)
    admin = TestClient(app, base_url="http://portal.test", follow_redirects=False)
    admin.get(f"/a/{signer.action_token(ADMIN, None, 'list', now)}")
    unit = TestClient(app, base_url="http://portal.test", follow_redirects=False)
    unit.get(f"/a/{signer.action_token(QLCN, None, 'list', now)}")
    assert unit.get("/su-kien").status_code == 403
    page = admin.get("/su-kien")
    form = {"csrf": csrf_of(page.text), "type": "publication", "id": "qd-0711"}
    bad = admin.post("/su-kien", data={**form, "date": "2022-07-11", "attrs": "delegated"})
    assert bad.status_code == 400 and "not key=value" in bad.text
    assert admin.post("/su-kien", data={**form, "date": ""}).status_code == 400
    assert (
        admin.post("/su-kien", data={**form, "csrf": "x", "date": "2022-07-11"}).status_code == 403
    )
    ok = admin.post("/su-kien", data={**form, "date": "2022-07-11", "attrs": "delegated=false"})
    assert ok.status_code == 200 and "1 hạn mới" in ok.text
    with sessions() as s:
        row = s.execute(
            sa.select(deadlines.c.due, deadlines.c.lead).where(deadlines.c.key == "qd-0711")
        ).one()
        actor = s.execute(
            sa.select(audit.c.actor).where(audit.c.entity == "event", audit.c.action == "record")
        ).scalar()
    # 30 days counted from the day after Mon 11/07/2022 (Điều 147): Wed 10/08/2022,
    # a working day, so no roll.
    assert row.due == date(2022, 8, 10) and row.lead == "qlcn" and actor == ADMIN
    engine.dispose()


def test_list_sections_are_limited_and_counted(portal):
    from engine.store import portal_ops as po
    from engine.web import views

    cfg, sessions, signer, clock, client = portal
    with sessions() as s:
        lst = views.my_list(s, cfg, po.person(cfg.directory, ADMIN), clock(), limit=1)
    # Thu 21/07: "due soon" reaches 5 working days ahead, Thu 28/07 (22, 25, 26, 27, 28);
    # both rules, due Fri 29/07, are the rest of the quarter.
    assert lst.section("soon").total == 0
    later = lst.section("later")
    assert later.total == 2 and len(later.rows) == 1 and later.more == 1 and not later.capped


def test_expired_link_says_expired_whatever_its_action(portal):
    cfg, sessions, signer, clock, client = portal
    d = did(sessions, "ra-soat-tthc")
    for action in ("ack", "extend", "list"):
        old = signer.action_token(
            QLCN, None if action == "list" else d, action, clock() - timedelta(days=91)
        )
        r = client.get(f"/a/{old}")
        assert r.status_code == 403 and "expired" in r.text, action


def test_oversized_request_is_refused_before_reading(tmp_path):
    from engine.core.config import WebSettings

    cfg = portal_config(
        tmp_path, web=WebSettings(base_url="http://portal.test", max_upload_bytes=100)
    )
    engine, sessions = open_store(cfg)
    now = local(2022, 7, 21, 9)
    with sessions() as s, s.begin():
        materialise(s, cfg, now)
    signer = Signer("test-secret-" * 4)
    app = create_app(cfg, sessions, signer=signer, clock=lambda: now, data_dir=tmp_path)
    client = TestClient(app, base_url="http://portal.test", follow_redirects=False)
    d = did(sessions, "ra-soat-tthc")
    token = signer.action_token(QLCN, d, "report", now)
    html = client.get(f"/a/{token}").text
    # Above 10 files at the limit plus 1 MiB of form: 413, nothing stored.
    big = b"x" * (10 * 100 + 1024 * 1024 + 1)
    r = client.post(
        f"/a/{token}",
        data={"csrf": csrf_of(html), "doc_number": "1"},
        files={"files": ("a.pdf", big, "application/pdf")},
    )
    assert r.status_code == 413 and status(sessions, "ra-soat-tthc") == OPEN
    r = client.post(
        f"/a/{token}",
        data={"csrf": csrf_of(html), "doc_number": "1"},
        files={"files": ("a.pdf", b"x" * 101, "application/pdf")},
    )
    assert r.status_code == 400 and "the limit is 100 bytes" in r.text
    assert not (tmp_path / "attachments").exists()
    engine.dispose()


def test_sign_in_refuses_what_is_not_an_address(portal):
    cfg, sessions, signer, clock, client = portal
    form = client.get("/dang-nhap")
    for bad in ("", "no-at-sign", "a@b\nBcc: c@d", "x" * 320 + "@x.vn"):
        r = client.post("/dang-nhap", data={"email": bad, "csrf": csrf_of(form.text)})
        assert r.status_code == 400, bad
    with sessions() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(signins)).scalar() == 0
