"""`hanchot calendar YEAR` run as a user runs it (issue 7, point 19).

The 2026 days below are worked out by hand from Bộ luật Lao động 2019 Điều 112 and the
swap decisions: 1/1 Thu (Tết Dương lịch); Fri 2/1 off and Sat 10/1 worked (Công văn
12729/VPCP-KGVX); Tết Bính Ngọ falls on Tue 17/2, so 16/2 (the eve) to 20/2 (mùng 4),
Mon–Fri; Giỗ Tổ (10/3 âm lịch) is Sun 26/4, so Mon 27/4 is off in lieu; 30/4 Thu and
1/5 Fri; Sat 22/8 worked and Mon 31/8 off (the Quốc khánh swap); Quốc khánh Wed 2/9
with Tue 1/9; and Tue 24/11, Ngày Văn hóa Việt Nam, whose legal status is unsettled.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import icalendar
import pytest

ROOT = Path(__file__).resolve().parents[2]

DAYS_2026 = [
    ("2026-01-01", False, "package"),
    ("2026-01-02", False, "correction"),
    ("2026-01-10", True, "correction"),
    ("2026-02-16", False, "package"),
    ("2026-02-17", False, "package"),
    ("2026-02-18", False, "package"),
    ("2026-02-19", False, "package"),
    ("2026-02-20", False, "package"),
    ("2026-04-27", False, "package"),
    ("2026-04-30", False, "package"),
    ("2026-05-01", False, "package"),
    ("2026-08-22", True, "package"),
    ("2026-08-31", False, "package"),
    ("2026-09-01", False, "package"),
    ("2026-09-02", False, "package"),
    ("2026-11-24", False, "package"),
]


def hanchot(*args: str, config: Path | None = None, lang: str = "en"):
    env = {**os.environ, "HANCHOT_LANG": lang}
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args, "--config", str(config or ROOT / "config")],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env=env,
        timeout=60,
    )


def test_json_lists_every_day_with_its_source():
    r = hanchot("calendar", "2026", "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["year"] == 2026
    assert data["holidays_version"]
    got = [(x["date"], x["working"], x["source"]) for x in data["days"]]
    assert got == DAYS_2026
    by = {x["date"]: x for x in data["days"]}
    assert "12729/VPCP-KGVX" in by["2026-01-02"]["document"]
    assert by["2026-11-24"]["name"] == "Ngày Văn hóa Việt Nam"
    assert by["2026-11-24"]["status"] == "policy-only"
    assert "calendar.yaml" in by["2026-11-24"]["note"]
    assert not any(x["estimated"] for x in data["days"])
    assert by["2026-01-02"]["weekday"] == "Thứ Sáu"


def test_same_answer_without_the_repo_config(tmp_path):
    r = hanchot("calendar", "2026", "--format", "json", config=tmp_path)
    assert r.returncode == 0, r.stderr
    got = [(x["date"], x["working"], x["source"]) for x in json.loads(r.stdout)["days"]]
    assert got == DAYS_2026


def test_table_names_source_and_marks_policy_only():
    r = hanchot("calendar", "2026")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    row = next(line for line in lines if line.startswith("Thứ Ba, 24/11/2026"))
    assert "Ngày Văn hóa Việt Nam" in row
    assert "holidays" in row and "package rule" in row
    assert "POLICY-ONLY" in row
    row = next(line for line in lines if line.startswith("Thứ Sáu, 02/01/2026"))
    assert "shipped correction" in row and "12729/VPCP-KGVX" in row
    row = next(line for line in lines if line.startswith("Thứ Bảy, 10/01/2026"))
    assert "working day" in row
    # 16 days, one row each, no ordinary weekend or weekday.
    assert sum(line[:8].startswith("Thứ") for line in lines) == 16


def test_ics_one_event_per_day():
    r = subprocess.run(
        [sys.executable, "-m", "engine.cli", "calendar", "2026", "--format", "ics"],
        capture_output=True,
        cwd=ROOT,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    cal = icalendar.Calendar.from_ical(r.stdout)
    events = [c for c in cal.walk("VEVENT")]
    assert [c.decoded("dtstart").isoformat() for c in events] == [x[0] for x in DAYS_2026]
    uids = {str(c["UID"]) for c in events}
    assert "calendar/2026-11-24@hanchot" in uids
    ev = next(c for c in events if str(c["UID"]) == "calendar/2026-01-10@hanchot")
    assert str(ev["SUMMARY"]).startswith("Làm việc: ")


def test_local_override_shows_as_local(tmp_path):
    (tmp_path / "calendar.yaml").write_text(
        "extra_working_days:\n"
        "  - {date: 2026-11-24, reason: 'Vẫn làm việc theo thông báo của UBND tỉnh'}\n",
        encoding="utf-8",
    )
    r = hanchot("calendar", "2026", "--format", "json", config=tmp_path)
    assert r.returncode == 0, r.stderr
    by = {x["date"]: x for x in json.loads(r.stdout)["days"]}
    assert by["2026-11-24"]["working"] is True
    assert by["2026-11-24"]["source"] == "local"
    assert "Ngày Văn hóa Việt Nam" in by["2026-11-24"]["note"]
    # And due agrees: Mon 23/11/2026 + 1 working day = Tue 24/11, now worked.
    r = hanchot("due", "2026-11-23", "1 working day", config=tmp_path)
    assert r.stdout == "2026-11-24\n"


@pytest.mark.parametrize(
    "args, words",
    [
        (["calendar", "2026", "--format", "xml"], "unknown --format 'xml'"),
        (["calendar", "2101"], "year 2101 is outside the Vietnamese calendar"),
        (["calendar", "1900"], "year 1900 is outside the Vietnamese calendar"),
        (["calendar", "năm-nay"], "Invalid value for 'year'"),
    ],
)
def test_bad_usage_exit_2_without_traceback(args, words):
    r = hanchot(*args)
    assert r.returncode == 2
    assert words in r.stderr
    assert "Traceback" not in r.stderr
    assert r.stdout == ""


def test_bad_calendar_yaml_is_file_line_exit_2(tmp_path):
    path = tmp_path / "calendar.yaml"
    path.write_text("extra_days_off:\n  - {date: 2026-02-30, reason: x}\n", encoding="utf-8")
    r = hanchot("calendar", "2026", config=tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith(f"{path}:2: ")
    assert "Traceback" not in r.stderr
