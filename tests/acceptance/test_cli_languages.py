"""The same `hanchot` commands in Vietnamese and in English (issue 7, point 12).

Vietnamese is the default: nothing set and ``LANG=C.UTF-8`` (a server's usual locale)
gives Vietnamese; ``HANCHOT_LANG=en`` or ``LANG=en_US.UTF-8`` gives English. Only the
words change: ``file:line:`` prefixes, ``hanchot:`` prefixes, exit codes, ids and dates
stay as they are. The expected texts are the catalogue's wording
(``engine/locale/vi/cli.po``), written out here by hand.

Dates, worked out by hand (Bộ luật Dân sự 2015 Điều 147–148; the holiday schedule):

- ``event add publication --date 2022-03-11`` starts ``quy-trinh-noi-bo`` (30 days):
  counted from 12/03, day 30 is Sunday 10/04/2022, Giỗ Tổ Hùng Vương; Monday 11/04 is
  its day off in lieu, so the deadline rolls forward to Tuesday 12/04/2022.
- ``status`` as of Tuesday 05/04/2022: working days after 05/04 up to 12/04 are 06, 07,
  08 and 12/04 (11/04 is off) → 4 left; within 5 working days → due soon.
- ``run --once --now 2022-07-22T08:00+07:00``: ``bao-cao-6-thang`` is due Friday
  29/07/2022; the default policy's first stage, 5 working days before, is 28, 27, 26,
  25, 22/07 → Friday 22/07 at 08:00: one message (one reminder) to the lead, nothing
  earlier to supersede.
- ``check --today 2022-03-01``: 01/03/2022 is a Tuesday.
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

RULES = """\
rules:
  - id: bao-cao-6-thang
    title: Báo cáo tình hình, kết quả kiểm soát TTHC 6 tháng
    lead: van-phong
    coordinating: [thanh-tra]
    due: {on: 2022-07-29}
  - id: quy-trinh-noi-bo
    title: Trình phê duyệt quy trình nội bộ giải quyết TTHC
    lead: qlcn
    due: {after: publication, in: 30 days}
"""

#: How a user picks the language; the value is the language expected.
MODES = {"default": "vi", "HANCHOT_LANG=en": "en", "LANG=en_US.UTF-8": "en"}


@pytest.fixture(params=list(MODES))
def mode(request) -> str:
    return request.param


def hanchot(mode: str, *args: str, cwd: Path = ROOT):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("HANCHOT_") and k not in ("LANG", "LC_ALL", "LC_MESSAGES")
    }
    env["COLUMNS"] = "200"
    env["LANG"] = "C.UTF-8"
    if mode == "HANCHOT_LANG=en":
        env["HANCHOT_LANG"] = "en"
    elif mode == "LANG=en_US.UTF-8":
        env["LANG"] = "en_US.UTF-8"
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=env,
        timeout=120,
    )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "plan.yaml").write_text(RULES, encoding="utf-8")
    return tmp_path


def one_error_line(r) -> str:
    assert r.stdout == ""
    assert "Traceback" not in r.stderr
    (line,) = r.stderr.splitlines()
    return line


def test_due_errors(mode):
    lang = MODES[mode]
    r = hanchot(mode, "due", "2022-03-11")
    assert r.returncode == 2
    assert (
        one_error_line(r)
        == {
            "vi": "hanchot: cách dùng: hanchot due START SPAN "
            "(ví dụ hanchot due 2022-03-11 '30 ngày')",
            "en": "hanchot: usage: hanchot due START SPAN (e.g. hanchot due 2022-03-11 '30 days')",
        }[lang]
    )

    r = hanchot(mode, "due", "2022-03-11", "30 fortnights")
    assert r.returncode == 2
    line = one_error_line(r)
    # The span's own message belongs to the core's catalogue; the CLI keeps its prefix.
    assert line.startswith("hanchot: ") and "'30 fortnights'" in line
    if lang == "en":
        assert line == (
            "hanchot: span '30 fortnights': unknown unit 'fortnights'; use days, working "
            "days, weeks, months (or ngày, ngày làm việc, tuần, tháng)"
        )

    r = hanchot(mode, "due", "--stdin", "--format", "xml")
    assert r.returncode == 2
    assert (
        one_error_line(r)
        == {
            "vi": "hanchot: không rõ --format 'xml'; dùng text hoặc json",
            "en": "hanchot: unknown --format 'xml'; use text or json",
        }[lang]
    )


def test_check_summary_of_the_repo_rules(mode):
    lang = MODES[mode]
    r = hanchot(mode, "check", "--today", "2022-03-01")
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    want = {
        "vi": [
            "Cấu hình hợp lệ: config và rules",
            "Đơn vị: 8, nhóm: 3, vai trò: 3",
            "Chính sách nhắc hạn: 3 (default, bao-cao, thuong-xuyen)",
            "Quy tắc: 36 trong 7 tệp",
        ],
        "en": [
            "Valid configuration: config and rules",
            "Units: 8, groups: 3, roles: 3",
            "Reminder policies: 3 (default, bao-cao, thuong-xuyen)",
            "Rules: 36 in 7 files",
        ],
    }[lang]
    assert out[:4] == want
    nxt = {
        "vi": "5 hạn tiếp theo (từ Thứ Ba, 01/03/2022):",
        "en": "Next 5 deadlines (from Thứ Ba, 01/03/2022):",
    }[lang]
    assert nxt in out
    events = {
        "vi": "Loại sự kiện dùng: publication (2 quy tắc), training-call (1 quy tắc)",
        "en": "Event types used: publication (2 rules), training-call (1 rule)",
    }[lang]
    assert events in out


def test_check_errors_keep_file_and_line(mode, tmp_path):
    lang = MODES[mode]
    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "a.yaml").write_text(
        "rules:\n"
        "  - id: a\n"
        "    title: A\n"
        "    lead: van-phong\n"
        "    coordinatng: [qlcn]\n"
        "    due: {on: 2022-07-29}\n",
        encoding="utf-8",
    )
    r = hanchot(mode, "check", cwd=tmp_path)
    assert r.returncode == 2
    line = one_error_line(r)
    # The fault's text is the loader's message; its place is unchanged in every language.
    assert line.startswith("rules/a.yaml:5: ") and "'coordinatng'" in line
    if lang == "en":
        assert line == "rules/a.yaml:5: unknown key 'coordinatng' (did you mean 'coordinating'?)"

    r = hanchot(mode, "check", "--rules", "nowhere", cwd=tmp_path)
    assert r.returncode == 2
    assert (
        one_error_line(r)
        == {
            "vi": "nowhere: không tìm thấy thư mục quy tắc (do --rules chỉ định)",
            "en": "nowhere: rules directory not found (given by --rules)",
        }[lang]
    )


def test_event_add_and_status(mode, site):
    lang = MODES[mode]
    add = ("event", "add", "publication", "--id", "qd-0425", "--date", "2022-03-11")
    now = ("--now", "2022-03-11T10:00:00+07:00")
    r = hanchot(mode, *add, *now, cwd=site)
    assert r.returncode == 0, r.stderr
    assert (
        r.stdout
        == {
            "vi": "Đã ghi sự kiện publication qd-0425 ngày 2022-03-11; 1 hạn mới.\n",
            "en": "Recorded event publication qd-0425 of 2022-03-11; 1 new deadline(s).\n",
        }[lang]
    )
    r = hanchot(mode, *add, *now, cwd=site)
    assert r.returncode == 0, r.stderr
    assert (
        r.stdout
        == {
            "vi": "Sự kiện publication qd-0425 đã có; không thay đổi.\n",
            "en": "Event publication qd-0425 is already recorded; nothing changed.\n",
        }[lang]
    )

    r = hanchot(mode, "status", "--format", "table", "--now", "2022-04-05T08:00:00+07:00", cwd=site)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    title, _top, header = (x.strip(" ┃┏┓━┳") for x in lines[:3])
    assert title == {"vi": "Theo dõi hạn", "en": "Deadlines to watch"}[lang]
    cells = [c.strip() for c in header.split("┃")]
    assert (
        cells
        == {
            "vi": ["Tình trạng", "Hạn", "Còn lại", "Quy tắc / kỳ", "Việc", "Chủ trì"],
            "en": ["State", "Due", "Left", "Rule / period", "Task", "Lead"],
        }[lang]
    )
    row = next(x for x in lines if "quy-trinh-noi-bo" in x)
    cells = [c.strip() for c in row.split("│")[1:-1]]
    assert (
        cells[:4]
        == {
            "vi": ["Sắp đến hạn", "Thứ Ba, 12/04/2022", "4 ngày làm việc", "quy-trinh-noi-bo"],
            "en": ["Due soon", "Thứ Ba, 12/04/2022", "4 working days", "quy-trinh-noi-bo"],
        }[lang]
    )

    # Machine-readable output does not change with the language.
    r = hanchot(mode, "status", "--format", "json", "--now", "2022-04-05T08:00:00+07:00", cwd=site)
    assert '"state": "due-soon"' in r.stdout and '"due": "2022-04-12"' in r.stdout


def test_run_once_report_line(mode, site):
    lang = MODES[mode]
    r = hanchot(mode, "run", "--once", "--now", "2022-07-22T08:00+07:00", cwd=site)
    assert r.returncode == 0, r.stderr
    assert (
        r.stdout
        == {
            "vi": "Đã gửi 1 thư (1 lời nhắc), 0 thất bại, 0 hoãn lại, "
            "0 được thay bằng lần nhắc sau\n",
            "en": "1 messages sent (1 reminders), 0 failed, 0 deferred, 0 superseded\n",
        }[lang]
    )
    # The mail to officials stays Vietnamese whatever the operator's language.
    (eml,) = (site / "var" / "mail").rglob("*.eml")
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert msg["Subject"] == "[Nhắc hạn] 1 việc sắp đến hạn — Văn phòng Sở"


def test_calendar_2026(mode):
    lang = MODES[mode]
    r = hanchot(mode, "calendar", "2026")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == {"vi": "Lịch làm việc năm 2026", "en": "Working calendar 2026"}[lang]
    assert (
        lines[1].split()
        == {
            "vi": ["Ngày", "Trạng", "thái", "Tên", "Nguồn", "Cần", "xác", "nhận"],
            "en": ["Date", "Status", "Name", "Source", "Check"],
        }[lang]
    )
    # Friday 02/01/2026: the New Year swap of Công văn 12729/VPCP-KGVX.
    row = next(x for x in lines if x.startswith("Thứ Sáu, 02/01/2026"))
    words = {
        "vi": ["ngày nghỉ", "điều chỉnh kèm theo hanchot: Công văn số 12729/VPCP-KGVX"],
        "en": ["day off", "shipped correction: Công văn số 12729/VPCP-KGVX"],
    }[lang]
    assert all(w in row for w in words), row
    assert (
        lines[-1]
        == {
            "vi": "Hãy đối chiếu từng ngày với thông báo chính thức; muốn sửa một ngày thì ghi "
            "vào config/calendar.yaml (extra_days_off / extra_working_days).",
            "en": "Confirm each day against the official notice; override a day in "
            "config/calendar.yaml (extra_days_off / extra_working_days).",
        }[lang]
    )
