"""The CLI area's messages in both languages (issue 7, point 12).

Vietnamese is the default; ``HANCHOT_LANG=en`` or ``LANG=en_*`` gives English. The
expected texts below are written from the catalogue's wording, not copied from output;
the dates are worked out by hand: 01/07/2022 and 29/07/2022 are Fridays (29/07 is four
weeks after 01/07), 01/01/2030 is a Tuesday (01/01/2026 is a Thursday, +1 for 2026,
+1 for 2027, +2 for the leap year 2028, +1 for 2029 → Thursday + 5 days).
"""

from __future__ import annotations

import io
import os
from datetime import date

import pytest
from rich.console import Console

from engine.bulk import due_stream
from engine.commands.rules_cmds import summary_lines
from engine.commands.store_cmds import run_report_line
from engine.core.calendar import WorkingCalendar
from engine.errors import DiskFull, HanchotError, InputError, StoreError
from engine.loader.config import load_config
from engine.planimport.rollover import roll_rule
from engine.report import print_status, print_table
from engine.store.dispatch import DispatchReport
from engine.store.ops import StatusLine

RULES = {
    "rules/a.yaml": """\
        rules:
          - id: bao-cao
            title: Báo cáo 6 tháng
            lead: van-phong
            due: {on: 2022-07-29}
          - id: quy-trinh
            title: Trình quy trình nội bộ
            lead: qlcn
            due: {after: publication, in: 30 days}
        """
}


@pytest.fixture
def lang(monkeypatch, request):
    """Set the language the way a user does: ``vi`` (nothing set, LANG=C.UTF-8),
    ``en`` (HANCHOT_LANG=en) or ``en_US`` (LANG=en_US.UTF-8, no HANCHOT_LANG)."""
    for var in ("HANCHOT_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    if request.param == "vi":
        monkeypatch.setenv("LANG", "C.UTF-8")
    elif request.param == "en":
        monkeypatch.setenv("HANCHOT_LANG", "en")
    else:
        monkeypatch.setenv("LANG", "en_US.UTF-8")
    return "vi" if request.param == "vi" else "en"


BOTH = pytest.mark.parametrize("lang", ["vi", "en", "en_US"], indirect=True)


@BOTH
def test_check_summary(make_rule_tree, lang):
    config, rules = make_rule_tree(RULES)
    cfg = load_config(config, rules)
    lines = summary_lines(cfg, date(2022, 7, 1))
    del lines[3]  # the per-file count line: a path and a number, the same in both
    # BASE_FILES: 5 units, 1 group (phong-chuyen-mon), 2 roles, 1 policy (default).
    want = {
        "vi": [
            "Đơn vị: 5, nhóm: 1, vai trò: 2",
            "Chính sách nhắc hạn: 1 (default)",
            "Quy tắc: 2 trong 1 tệp",
            "Dạng hạn: on 1, after 1",
            "Loại sự kiện dùng: publication (1 quy tắc)",
            "1 hạn tiếp theo (từ Thứ Sáu, 01/07/2022):",
            "  Thứ Sáu, 29/07/2022  bao-cao once  Báo cáo 6 tháng",
        ],
        "en": [
            "Units: 5, groups: 1, roles: 2",
            "Reminder policies: 1 (default)",
            "Rules: 2 in 1 file",
            "Due forms: on 1, after 1",
            "Event types used: publication (1 rule)",
            "Next 1 deadline (from Thứ Sáu, 01/07/2022):",
            "  Thứ Sáu, 29/07/2022  bao-cao once  Báo cáo 6 tháng",
        ],
    }[lang]
    assert lines == want


@BOTH
def test_check_summary_without_deadlines_or_events(make_rule_tree, lang):
    config, rules = make_rule_tree(
        {"rules/a.yaml": "rules:\n  - {id: a, title: A, lead: qlcn, due: {on: 2022-07-29}}\n"}
    )
    lines = summary_lines(load_config(config, rules), date(2030, 1, 1))
    want = {
        "vi": [
            "Loại sự kiện dùng: không có",
            "Không có hạn nào trong 5 năm kể từ Thứ Ba, 01/01/2030.",
        ],
        "en": [
            "Event types used: none",
            "No deadline in the 5 years from Thứ Ba, 01/01/2030.",
        ],
    }[lang]
    assert lines[-2:] == want


def _status(lines, width=200) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, soft_wrap=True)
    print_status(lines, lambda ref: "Văn phòng Sở", console)
    return out.getvalue()


def _line(state: str, left: int) -> StatusLine:
    return StatusLine(
        "bao-cao", "once", "Báo cáo", "18", date(2022, 7, 29), "van-phong", (), "open", left, state
    )


@BOTH
def test_status_table_headers_states_and_days_left(lang):
    text = _status([_line("overdue", -2), _line("due-soon", 1), _line("open", 9)])
    words = {
        "vi": [
            "Theo dõi hạn",
            "Tình trạng",
            "Còn lại",
            "Quy tắc / kỳ",
            "Việc",
            "Chủ trì",
            "Quá hạn",
            "quá 2 ngày làm việc",
            "Sắp đến hạn",
            "1 ngày làm việc",
            "Đang mở",
            "9 ngày làm việc",
        ],
        "en": [
            "Deadlines to watch",
            "State",
            "Left",
            "Rule / period",
            "Task",
            "Lead",
            "Overdue",
            "2 working days late",
            "Due soon",
            "1 working day ",
            "Open",
            "9 working days",
        ],
    }[lang]
    missing = [w for w in words if w not in text]
    assert not missing, text
    if lang == "en":
        assert "ngày làm việc" not in text and "Quá hạn" not in text


@BOTH
def test_status_blocks_on_a_narrow_terminal_name_the_lead(lang):
    text = _status([_line("overdue", -1)], width=12)
    want = {"vi": "  Chủ trì: Văn phòng Sở", "en": "  Lead: Văn phòng Sở"}[lang]
    assert want in text.splitlines()
    late = {"vi": "Quá hạn — Thứ Sáu, 29/07/2022 — quá 1 ngày làm việc", "en": None}[lang]
    late = late or "Overdue — Thứ Sáu, 29/07/2022 — 1 working day late"
    assert late in text.splitlines()


@BOTH
def test_plan_table_headers_status_and_count(lang):
    row = {
        "rule": "bao-cao",
        "key": "once",
        "title": "Báo cáo",
        "due": "2022-07-29",
        "plan_item": "18",
        "lead_name": "Văn phòng Sở",
        "coordinating_names": [],
        "status": "waived",
    }
    out = io.StringIO()
    print_table([row, {**row, "status": "open"}], Console(file=out, width=200), "T")
    text = out.getvalue()
    words = {
        "vi": ["Hạn", "Mục", "Nhiệm vụ (quy tắc, khóa)", "Chủ trì", "Phối hợp", "Trạng thái"],
        "en": ["Due", "Item", "Task (rule, key)", "Lead", "Coordinating", "Status"],
    }[lang]
    words += {"vi": ["Miễn", "Chưa xong"], "en": ["Waived", "Not done"]}[lang]
    assert all(w in text for w in words), text
    assert text.splitlines()[-1] == {"vi": "2 hạn", "en": "2 deadlines"}[lang]


@BOTH
def test_run_once_report_line(lang):
    r = DispatchReport(digests_sent=2, rows_sent=3, failed=1, deferred=4, superseded=5)
    want = {
        "vi": "Đã gửi 2 thư (3 lời nhắc), 1 thất bại, 4 hoãn lại, 5 được thay bằng lần nhắc sau",
        # The English line scripts parse (`N messages sent`) keeps its wording.
        "en": "2 messages sent (3 reminders), 1 failed, 4 deferred, 5 superseded",
    }[lang]
    assert run_report_line(r) == want


@BOTH
def test_error_default_messages_follow_the_language(lang):
    want = {
        "vi": (
            "hanchot không thực hiện được với dữ liệu đã cho.",
            "Ổ đĩa (hoặc hạn mức dung lượng) đã đầy; thay đổi đang làm đã được hủy toàn bộ.",
            "Cơ sở dữ liệu theo dõi từ chối thao tác (không có hạn này, đang bị khóa, ...).",
        ),
        "en": (
            "Something hanchot cannot do with the input it was given.",
            "The disk (or quota) is full; the change in progress was rolled back.",
            "The tracking database refused an operation (unknown deadline, locked, ...).",
        ),
    }[lang]
    assert (HanchotError().message, DiskFull().message, StoreError().message) == want
    assert InputError("given text").message == "given text"


@BOTH
def test_due_stdin_bad_line_keeps_its_prefix(lang):
    r, w = os.pipe()
    os.write(w, b"2022-03-11\t30 days\n2022-03-11 30 days\n")
    os.close(w)
    out = io.StringIO()
    with pytest.raises(InputError) as e:
        due_stream(WorkingCalendar(), None, r, out)
    os.close(r)
    # 30 days from 11/03/2022 end on Sunday 10/04, Giỗ Tổ; Monday 11/04 is its day
    # off in lieu, so the deadline rolls forward to Tuesday 12/04/2022.
    assert out.getvalue() == "2022-04-12\n"
    want = {"vi": "cần một dòng dạng START<TAB>SPAN", "en": "expected START<TAB>SPAN"}[lang]
    assert e.value.message == f"<stdin>:2: {want}"


@BOTH
def test_rollover_notes(lang):
    notes: list[str] = []
    roll_rule(
        {"id": "a", "title": "Báo cáo năm 2022", "due": {"after": "publication", "in": "5 days"}},
        2022,
        2023,
        notes.append,
    )
    want = {
        "vi": [
            "theo sự kiện (publication): không gắn với năm nào; nếu nạp quy tắc của cả hai "
            "năm thì mỗi sự kiện sinh ra hai hạn: chỉ giữ một trong hai quy tắc",
            "title có nhắc năm 2022: hãy xem lại nội dung",
        ],
        "en": [
            "event-driven (publication): not tied to a year; with both years' rules loaded "
            "each event makes two deadlines: keep one of the two rules",
            "title names 2022: review the text",
        ],
    }[lang]
    assert notes == want
