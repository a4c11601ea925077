"""The portal end to end: a real ``hanchot web`` on loopback, a real SMTP server
(aiosmtpd), ``hanchot run --once`` as the daemon, and Chromium driven by Playwright
(Debian's ``chromium`` package; Playwright's own browser download is not used).

The rules (written below) are due Friday 29/07/2022. Counted by hand on the 2022
calendar (no holiday in late July): the default ladder of the shipped
``config/escalation.yaml`` sends "5 working days before" on Fri 22/07, and
"1 working day before" on Thu 28/07, the due day on Fri 29/07.

Screenshots of the main pages (desktop and a 390-px phone) are written to
``docs/img/`` when ``HANCHOT_SCREENSHOTS=1``.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import free_port

pytestmark = [pytest.mark.smtp, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RULES = """\
rules:
  - id: ra-soat-tthc
    title: Rà soát, đánh giá thủ tục hành chính năm 2022
    plan_item: "5"
    basis: Nghị định 63/2010/NĐ-CP; Thông tư 02/2017/TT-VPCP
    output: Báo cáo kết quả rà soát
    lead: qlcn
    coordinating: [van-phong]
    due: {on: 2022-07-29}
  - id: bao-cao-6-thang
    title: Báo cáo tình hình, kết quả kiểm soát TTHC 6 tháng
    plan_item: "18"
    lead: van-phong
    coordinating: [phong-chuyen-mon]
    due: {on: 2022-07-29}
"""
UNIT = "qlcn@example.gov.vn"
ADMIN = "vanphong@example.gov.vn"
SHOTS = ROOT / "docs" / "img"


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("HANCHOT_") or k == "HANCHOT_LANG"}
    e["HANCHOT_LANG"] = "en"
    e["HANCHOT_SECRET_KEY"] = "browser-test-secret-" * 3
    return e


def hanchot(site: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from engine.cli import main; main()", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=site,
        env=env(),
        timeout=120,
    )


@pytest.fixture
def site(tmp_path: Path, smtp_server):
    port = free_port()
    shutil.copytree(ROOT / "config", tmp_path / "config")
    settings = tmp_path / "config" / "settings.yaml"
    settings.write_text(
        settings.read_text(encoding="utf-8")
        + f"\nsmtp: {{host: 127.0.0.1, port: {smtp_server.port}, security: none}}\n"
        + f"web: {{base_url: 'http://127.0.0.1:{port}'}}\n",
        encoding="utf-8",
    )
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "plan.yaml").write_text(RULES, encoding="utf-8")
    return tmp_path, port, smtp_server


class Web:
    """``hanchot web`` in a subprocess, frozen at one instant."""

    def __init__(self, site: Path, port: int, now: str) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from engine.cli import main; main()",
                "web",
                "--port",
                str(port),
                "--now",
                now,
            ],
            cwd=site,
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(self.base + "/dang-nhap", timeout=1)
                return
            except httpx.HTTPError:
                if self.proc.poll() is not None:
                    raise AssertionError(self.proc.stderr.read().decode()) from None
                time.sleep(0.2)
        raise AssertionError("hanchot web did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def mails(server) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(r.content, policy=email.policy.default) for r in server.received
    ]


def body(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def signin_link(server, address: str) -> str:
    for m in reversed(mails(server)):
        if m["To"].addresses[0].addr_spec == address and "đăng nhập" in m["Subject"]:
            return re.search(r"http://\S+/dang-nhap/\S+", body(m)).group(0)
    raise AssertionError(f"no sign-in mail for {address}")


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("HANCHOT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and HANCHOT_REQUIRE_BROWSER=1")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def shot(page, name: str, *, full_page: bool = True) -> None:
    if os.environ.get("HANCHOT_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / name), full_page=full_page)


def test_real_http_pages_are_small_and_safe(site):
    tmp, port, _server = site
    web = Web(tmp, port, "2022-07-22T09:00:00+07:00")
    try:
        r = httpx.get(web.base + "/dang-nhap")
        assert r.status_code == 200 and len(r.content) < 100_000
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert httpx.get(web.base + "/viec").status_code == 303
        assert httpx.get(web.base + "/a/not-a-token").status_code == 403
    finally:
        web.stop()


def test_unit_reports_from_a_mailed_link_and_the_focal_point_confirms(site, browser, tmp_path):
    tmp, port, server = site
    web = Web(tmp, port, "2022-07-22T09:00:00+07:00")
    pdf = tmp_path / "ket-qua-ra-soat.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    try:
        ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
        page = ctx.new_page()
        page.goto(web.base + "/")
        shot(page, "dang-nhap.png")
        page.fill("#email", UNIT)
        page.click("button[type=submit]")
        assert "thư đăng nhập sẽ đến" in page.inner_text("main")
        # The daemon's cycle of Fri 22/07 08:00 (+5 min) sends the reminder and the link.
        r = hanchot(tmp, "run", "--once", "--now", "2022-07-22T09:05:00+07:00")
        assert r.returncode == 0, r.stderr
        reminded = [m for m in mails(server) if "Rà soát" in body(m)]
        assert [m["To"].addresses[0].addr_spec for m in reminded] == [UNIT]
        page.goto(signin_link(server, UNIT))
        assert page.url.endswith("/viec")
        # Both rules: qlcn leads one and coordinates the other (phong-chuyen-mon).
        assert "Sắp đến hạn (2)" in page.inner_text("main")
        shot(page, "viec-cua-toi.png")
        page.click("text=Rà soát, đánh giá thủ tục hành chính năm 2022")
        assert "Thứ Sáu, 29/07/2022" in page.inner_text("main")
        shot(page, "han.png")
        page.fill("#doc_number", "88/BC-QLCN")
        page.fill("#doc_date", "2022-07-21")
        page.set_input_files("#files", str(pdf))
        page.click("text=Gửi báo cáo hoàn thành")
        assert "đầu mối sẽ xác nhận" in page.inner_text("main")

        # The focal point signs in (a second browser), finds the report and confirms it.
        admin = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN")
        apage = admin.new_page()
        apage.goto(web.base + "/dang-nhap")
        apage.fill("#email", ADMIN)
        apage.click("button[type=submit]")
        r = hanchot(tmp, "run", "--once", "--now", "2022-07-22T09:10:00+07:00")
        assert r.returncode == 0, r.stderr
        notice = [m for m in mails(server) if "chờ xác nhận" in m["Subject"]]
        assert [m["To"].addresses[0].addr_spec for m in notice] == [ADMIN]
        apage.goto(signin_link(server, ADMIN))
        assert "Đã báo cáo, chờ xác nhận (1)" in apage.inner_text("main")
        apage.click("text=Rà soát, đánh giá thủ tục hành chính năm 2022")
        assert "ket-qua-ra-soat.pdf" in apage.inner_text("main")
        shot(apage, "han-xac-nhan-dien-thoai.png")
        with apage.expect_download() as dl:
            apage.click("text=ket-qua-ra-soat.pdf")
        assert Path(dl.value.path()).read_bytes() == pdf.read_bytes()
        apage.click("text=Xác nhận hoàn thành")
        assert "Đã xác nhận hoàn thành" in apage.inner_text("main")
        apage.goto(web.base + "/tong-quan?ky=2022-Q3")
        shot(apage, "tong-quan-dien-thoai.png")
        page.goto(web.base + "/tong-quan?ky=2022-Q3")  # the unit: not for it
        assert "Không có quyền" in page.inner_text("main")
        ctx.close()
        admin.close()
    finally:
        web.stop()
    r = hanchot(tmp, "status", "--format", "json", "--now", "2022-07-29T09:00:00+07:00")
    assert "ra-soat-tthc" not in r.stdout  # done: no longer open
    before = len(server.received)
    r = hanchot(tmp, "run", "--once", "--now", "2022-07-29T09:00:00+07:00")
    assert r.returncode == 0, r.stderr
    later = [body(m) for m in mails(server)[before:]]
    assert later and not any("Rà soát" in b for b in later)  # the other rule still goes


def sign_in(browser, web: Web, tmp: Path, server, address: str, at: str, **ctx_kw):
    """Ask for a sign-in link in the browser, let the daemon mail it, open it."""
    ctx = browser.new_context(locale="vi-VN", **ctx_kw)
    page = ctx.new_page()
    page.goto(web.base + "/dang-nhap")
    page.fill("#email", address)
    page.click("button[type=submit]")
    r = hanchot(tmp, "run", "--once", "--now", at)
    assert r.returncode == 0, r.stderr
    page.goto(signin_link(server, address))
    assert page.url.endswith("/viec")
    return ctx, page


def test_an_approved_extension_moves_the_reminders(site, browser):
    tmp, port, server = site
    # Wed 20/07: before the first reminder (Fri 22/07) of the 29/07 due date.
    web = Web(tmp, port, "2022-07-20T09:00:00+07:00")
    try:
        _u, unit = sign_in(browser, web, tmp, server, UNIT, "2022-07-20T09:05:00+07:00")
        unit.click("text=Rà soát, đánh giá thủ tục hành chính năm 2022")
        unit.fill("#new_due", "2022-08-12")
        unit.fill("#reason", "Chờ ý kiến thẩm định của Sở Tư pháp")
        unit.click("text=Gửi đề nghị gia hạn")
        assert "hạn chỉ thay đổi khi được đồng ý" in unit.inner_text("main")
        _a, admin = sign_in(browser, web, tmp, server, ADMIN, "2022-07-20T09:10:00+07:00")
        admin.click("text=Rà soát, đánh giá thủ tục hành chính năm 2022")
        assert "Thứ Sáu, 12/08/2022" in admin.inner_text("main")
        admin.click("button:has-text('Đồng ý gia hạn')")
        assert "Đã đồng ý gia hạn" in admin.inner_text("main")
        admin.click("text=Quay lại")
        text = admin.inner_text("main")
        assert "Thứ Sáu, 12/08/2022 (gia hạn; hạn ban đầu Thứ Sáu, 29/07/2022)" in text
    finally:
        web.stop()

    def mailed_about_review(at: str) -> list[str]:
        before = len(server.received)
        r = hanchot(tmp, "run", "--once", "--now", at)
        assert r.returncode == 0, r.stderr
        return [
            m["To"].addresses[0].addr_spec for m in mails(server)[before:] if "Rà soát" in body(m)
        ]

    # The old ladder (22/07, 28/07, 29/07) sends nothing any more ...
    assert mailed_about_review("2022-07-22T08:30:00+07:00") == []
    assert mailed_about_review("2022-07-29T08:30:00+07:00") == []
    # ... the new one does: 5 working days before Fri 12/08 is Fri 05/08 (lead only).
    assert mailed_about_review("2022-08-05T08:30:00+07:00") == [UNIT]
    last = [m for m in mails(server) if "Rà soát" in body(m)][-1]
    assert "12/08/2022" in body(last)


QUARTER_RULES = """\
rules:
  - {id: dung-han, title: Việc đúng hạn, plan_item: "1", lead: qlcn, due: {on: 2022-07-15}}
  - {id: qua-han, title: Việc hoàn thành muộn, plan_item: "2", lead: qlcn, due: {on: 2022-07-20}}
  - {id: trong-han, title: Việc còn trong hạn, plan_item: "3", lead: qlnl, due: {on: 2022-09-30}}
  - {id: chua-xong, title: Việc quá hạn chưa xong, plan_item: "3", lead: qlnl,
     due: {on: 2022-08-05}}
"""


def test_overview_of_a_hand_made_quarter_and_its_xlsx(site, browser, tmp_path):
    """2022-Q3, as of Mon 15/08/2022 (no holiday 01/07–31/08 in 2022):
    dung-han due Fri 15/07 done Thu 14/07 → on time; qua-han due Wed 20/07 done Tue
    26/07 → late by 4 working days (21, 22, 25, 26); trong-han due Fri 30/09 → open in
    time; chua-xong due Fri 05/08 → overdue by 6 working days (8–12, 15 August)."""
    from openpyxl import load_workbook

    tmp, port, server = site
    (tmp / "rules" / "plan.yaml").write_text(QUARTER_RULES, encoding="utf-8")
    for args in (
        ("run", "--once", "--now", "2022-07-01T07:00+07:00"),  # creates the store
        ("done", "dung-han", "once", "--evidence", "12/BC", "--now", "2022-07-14T15:00+07:00"),
        ("done", "qua-han", "once", "--evidence", "20/BC", "--now", "2022-07-26T10:00+07:00"),
    ):
        r = hanchot(tmp, *args)
        assert r.returncode == 0, r.stderr
    web = Web(tmp, port, "2022-08-15T09:00:00+07:00")
    try:
        ctx, page = sign_in(
            browser,
            web,
            tmp,
            server,
            ADMIN,
            "2022-08-15T09:05:00+07:00",
            viewport={"width": 1280, "height": 900},
            accept_downloads=True,
        )
        page.click("text=Tổng quan")
        page.fill("#ky", "2022-Q3")
        page.click("button:has-text('Xem')")
        cells = page.eval_on_selector_all(
            "#by-unit tbody tr",
            "rows => rows.map(r => [r.querySelector('th').innerText,"
            " ...[...r.querySelectorAll('td')].map(td => Number(td.innerText))])",
        )
        assert sorted(cells) == [
            ["Phòng Quản lý Công nghiệp", 1, 1, 0, 0, 0],
            ["Phòng Quản lý Năng lượng", 0, 0, 1, 1, 0],
        ]
        items = page.eval_on_selector_all(
            "#by-item tbody tr",
            "rows => rows.map(r => [r.querySelector('th').innerText,"
            " ...[...r.querySelectorAll('td')].map(td => Number(td.innerText))])",
        )
        assert items == [["1", 1, 0, 0, 0, 0], ["2", 0, 1, 0, 0, 0], ["3", 0, 0, 1, 1, 0]]
        assert page.locator("svg rect").count() == 4  # one bar segment per non-zero count
        shot(page, "tong-quan.png")
        with page.expect_download() as dl:
            page.click("text=Excel (XLSX)")
        target = tmp_path / "q3.xlsx"
        dl.value.save_as(target)
        ctx.close()
    finally:
        web.stop()
    rows = [[c.value for c in r] for r in load_workbook(target)["Chi tiết"].iter_rows()]
    assert rows[1:] == [
        [
            1,
            "Việc đúng hạn",
            "15/07/2022",
            "Phòng Quản lý Công nghiệp",
            None,
            None,
            "Đã hoàn thành đúng hạn",
            "14/07/2022",
            0,
            "12/BC",
        ],
        [
            2,
            "Việc hoàn thành muộn",
            "20/07/2022",
            "Phòng Quản lý Công nghiệp",
            None,
            None,
            "Đã hoàn thành quá hạn",
            "26/07/2022",
            4,
            "20/BC",
        ],
        [
            3,
            "Việc quá hạn chưa xong",
            "05/08/2022",
            "Phòng Quản lý Năng lượng",
            None,
            None,
            "Chưa hoàn thành quá hạn",
            None,
            6,
            None,
        ],
        [
            4,
            "Việc còn trong hạn",
            "30/09/2022",
            "Phòng Quản lý Năng lượng",
            None,
            None,
            "Chưa hoàn thành trong hạn",
            None,
            0,
            None,
        ],
    ]


def links_in(msg) -> dict[str, str]:
    """Label → URL of the portal links in a digest's text part."""
    return dict(
        re.findall(
            r"^\s+(Báo cáo hoàn thành|Đề nghị gia hạn|Đã tiếp nhận): (\S+)\r?$", body(msg), re.M
        )
    )


def test_a_link_from_a_real_mail_reports_completion_and_the_reminders_stop(site, browser, tmp_path):
    """Fri 22/07 08:00 is "5 working days before" Fri 29/07: each lead gets its digest,
    with signed links. Văn phòng (the focal point) leads bao-cao-6-thang, so its report
    closes the deadline at once (direct)."""
    tmp, port, server = site
    r = hanchot(tmp, "run", "--once", "--now", "2022-07-22T08:30:00+07:00")
    assert r.returncode == 0, r.stderr
    by_rcpt = {m["To"].addresses[0].addr_spec: m for m in mails(server)}
    vp = links_in(by_rcpt[ADMIN])
    assert set(vp) == {"Báo cáo hoàn thành", "Đề nghị gia hạn", "Đã tiếp nhận"}
    assert all(u.startswith(f"http://127.0.0.1:{port}/a/") for u in vp.values())
    assert "hanchot done" not in body(by_rcpt[ADMIN])  # links, not commands
    assert "Danh sách việc của anh/chị: http://127.0.0.1" in body(by_rcpt[ADMIN])
    assert set(links_in(by_rcpt[UNIT])) == {"Báo cáo hoàn thành", "Đề nghị gia hạn", "Đã tiếp nhận"}
    html = by_rcpt[ADMIN].get_body(("html",)).get_content()
    assert vp["Báo cáo hoàn thành"].replace("&", "&amp;") in html

    pdf = tmp_path / "bao-cao-6-thang.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    web = Web(tmp, port, "2022-07-25T10:00:00+07:00")
    try:
        page = browser.new_context(locale="vi-VN").new_page()
        page.goto(vp["Báo cáo hoàn thành"])
        assert "Báo cáo tình hình, kết quả kiểm soát TTHC 6 tháng" in page.inner_text("main")
        page.fill("#doc_number", "512/BC-SCT")
        page.fill("#doc_date", "2022-07-25")
        page.set_input_files("#files", str(pdf))
        page.click("text=Gửi báo cáo hoàn thành")
        assert "hạn đã được đóng là hoàn thành" in page.inner_text("main")
        page.click("text=Quay lại")  # the same link: the deadline is closed now
        assert "đã đóng" in page.inner_text("main") or "closed" in page.inner_text("main")
        page.goto(web.base + "/viec")
        assert "Đã xong trong quý (1)" in page.inner_text("main")
    finally:
        web.stop()
    r = hanchot(
        tmp,
        "report",
        "--period",
        "2022-Q3",
        "--format",
        "json",
        "--now",
        "2022-07-25T11:00:00+07:00",
    )
    done = {d["rule"]: d for d in __import__("json").loads(r.stdout)["deadlines"]}
    assert done["bao-cao-6-thang"]["category"] == "done_on_time"
    assert done["bao-cao-6-thang"]["evidence"].startswith("512/BC-SCT; 2022-07-25")
    for at in ("2022-07-28T08:30:00+07:00", "2022-07-29T08:30:00+07:00"):
        before = len(server.received)
        r = hanchot(tmp, "run", "--once", "--now", at)
        assert r.returncode == 0, r.stderr
        later = [body(m) for m in mails(server)[before:]]
        assert later  # ra-soat-tthc still goes ...
        assert not any("Báo cáo tình hình" in b for b in later)  # ... the closed one not


#: What officials really type: a document number with its full issuing-body suffix, a
#: link to the legal-document database, and a note without spaces (pasted).
LONG_NUMBER = "1234/QĐ-UBND-KSTTHC-VPUBND-SCT-KH-2022-00000000000000000001"
LONG_LINK = "https://vbpl.khanhhoa.gov.vn/van-ban/quyet-dinh-1234-qd-ubnd-ngay-20-07-2022"
PHONE = {"width": 390, "height": 844}

NO_OVERFLOW = "() => [document.documentElement.scrollWidth, window.innerWidth]"


def assert_fits(page, what: str) -> None:
    scroll, inner = page.evaluate(NO_OVERFLOW)
    assert scroll <= inner, f"{what}: the page is {scroll}px wide in a {inner}px window"


def test_every_page_fits_a_390px_phone(site, browser):
    """No page scrolls sideways on a 390×844 phone, the deadline page included with a
    long history (three refused extensions, an approved one, a report) and long
    document numbers; wide tables scroll inside their own box."""
    tmp, port, server = site
    reason = f"Chờ ý kiến thẩm định theo văn bản {LONG_NUMBER} ({LONG_LINK})"
    steps = [("run", "--once", "--now", "2022-07-11T09:00:00+07:00")]
    for n, day in enumerate(("12", "13", "14"), 1):
        steps += [
            ("extension", "request", "ra-soat-tthc", "once", "--to", "2022-08-12")
            + ("--reason", f"Lần {n}: {reason}", "--by", UNIT)
            + ("--now", f"2022-07-{day}T09:00:00+07:00"),
            ("extension", "refuse", "ra-soat-tthc", "once", "--reason", f"Chưa đủ căn cứ: {reason}")
            + ("--now", f"2022-07-{day}T10:00:00+07:00"),
        ]
    steps += [
        ("extension", "request", "ra-soat-tthc", "once", "--to", "2022-08-12")
        + ("--reason", reason, "--by", UNIT, "--now", "2022-07-15T09:00:00+07:00"),
        ("extension", "approve", "ra-soat-tthc", "once", "--now", "2022-07-15T10:00:00+07:00"),
        ("done", "bao-cao-6-thang", "once", "--evidence", f"{LONG_NUMBER}; {LONG_LINK}")
        + ("--now", "2022-07-18T10:00:00+07:00"),
    ]
    for args in steps:
        r = hanchot(tmp, *args)
        assert r.returncode == 0, (args, r.stderr)
    web = Web(tmp, port, "2022-07-20T09:00:00+07:00")
    try:
        ctx = browser.new_context(viewport=PHONE, locale="vi-VN")
        page = ctx.new_page()
        page.goto(web.base + "/dang-nhap")
        assert_fits(page, "/dang-nhap")
        page.fill("#email", ADMIN)
        page.click("button[type=submit]")
        r = hanchot(tmp, "run", "--once", "--now", "2022-07-20T09:05:00+07:00")
        assert r.returncode == 0, r.stderr
        page.goto(signin_link(server, ADMIN))
        assert_fits(page, "/viec")
        page.click("text=Rà soát, đánh giá thủ tục hành chính năm 2022")
        text = page.inner_text("main")
        assert "Lần 3" in text and "(gia hạn; hạn ban đầu Thứ Sáu, 29/07/2022)" in text
        assert_fits(page, "an open deadline with a long history and every form")
        # The history is readable without scrolling sideways: stacked, not cut.
        inner, box = page.eval_on_selector(
            "#history", "t => [t.scrollWidth, t.parentElement.clientWidth]"
        )
        assert inner <= box, f"the history is {inner}px wide in a {box}px box"
        page.evaluate(
            "() => window.scrollTo(0, document.getElementById('history')"
            ".getBoundingClientRect().top + window.scrollY - 70)"
        )
        shot(page, "han-lich-su-dien-thoai.png", full_page=False)  # the screen at the history
        page.goto(web.base + "/viec")
        page.click("text=Báo cáo tình hình, kết quả kiểm soát TTHC 6 tháng")
        assert LONG_NUMBER in page.inner_text("main")
        assert_fits(page, "a closed deadline with a long document number")
        page.goto(web.base + "/tong-quan?ky=2022-Q3")
        assert_fits(page, "/tong-quan")
        page.goto(web.base + "/su-kien")
        assert_fits(page, "/su-kien")
        ctx.close()
    finally:
        web.stop()
