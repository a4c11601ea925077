"""`hanchot due` run as a user runs it: a real process, its output and exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config"


def hanchot(*args: str, stdin: str | None = None, config: Path = CONFIG, lang: str = "en"):
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", args[0], "--config", str(config), *args[1:]],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env={**os.environ, "HANCHOT_LANG": lang},
        timeout=60,
    )


def test_spec_example_30_days():
    # 11/3/2022 + 30 days = Sun 10/4/2022 (Giỗ Tổ), Mon 11/4 off in lieu -> Tue 12/4/2022.
    r = hanchot("due", "2022-03-11", "30 days")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "2022-04-12\n"


def test_vietnamese_span_and_backward_roll():
    # 28/1/2022 + 3 ngày = Mon 31/1/2022 (Tết): backward -> Fri 28/1/2022.
    r = hanchot("due", "2022-01-28", "3 ngày", "--roll", "backward")
    assert (r.returncode, r.stdout) == (0, "2022-01-28\n")


def test_json_output_has_start_span_roll_due_steps():
    r = hanchot("due", "2022-03-11", "30 days", "--format", "json", lang="vi")
    data = json.loads(r.stdout)
    assert data["start"] == "2022-03-11"
    assert data["span"] == "30 days"
    assert data["roll"] == "forward"
    assert data["due"] == "2022-04-12"
    assert [s["step"] for s in data["steps"]][0] == "start"
    assert data["steps"][-1] == {
        "step": "due",
        "date": "2022-04-12",
        "text": "Hạn: Thứ Ba, 12/04/2022",
    }


def test_explain_names_each_skipped_day_in_vietnamese():
    r = hanchot("due", "2022-03-11", "30 days", "--explain", lang="vi")
    assert r.returncode == 0
    assert "Bỏ qua Chủ nhật, 10/04/2022: Ngày Giỗ Tổ Hùng Vương" in r.stdout
    assert "Bỏ qua Thứ Hai, 11/04/2022: Ngày Giỗ Tổ Hùng Vương (nghỉ bù)" in r.stdout
    assert r.stdout.splitlines()[-1] == "2022-04-12"


def test_explain_in_english_names_the_holiday_in_english():
    # The same computation as above (Giỗ Tổ Hùng Vương on Sun 10/4/2022, Mon 11/4 off in
    # lieu), said in English, with the holidays package's English holiday names.
    r = hanchot("due", "2022-03-11", "30 days", "--explain", lang="en")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "Start: Friday, 11/03/2022 (not counted; the period starts on the next day — "
        "Điều 147 BLDS 2015)",
        "Add 30 days: Sunday, 10/04/2022",
        "Sunday, 10/04/2022 is a day off: moved to the next working day "
        "(Điều 148 khoản 5 BLDS 2015)",
        "Skipped Sunday, 10/04/2022: Hung Kings' Commemoration Day (Sunday)",
        "Skipped Monday, 11/04/2022: Hung Kings' Commemoration Day (observed)",
        "Due: Tuesday, 12/04/2022",
        "2022-04-12",
    ]


def test_lang_en_us_without_hanchot_lang_gives_english_errors():
    env = {k: v for k, v in os.environ.items() if k not in ("HANCHOT_LANG", "LC_ALL")}
    env.update(LANG="en_US.UTF-8", LC_MESSAGES="")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine.cli",
            "due",
            "--config",
            str(CONFIG),
            "2022-03-11",
            "3 fortnights",
        ],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert r.returncode == 2
    assert "span '3 fortnights': unknown unit 'fortnights'; use days" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("lang", "message"),
    [
        ("en", "span '3 fortnights': unknown unit 'fortnights'; use days, working days"),
        ("vi", "thời hạn '3 fortnights': không có đơn vị thời gian 'fortnights'; dùng ngày"),
    ],
)
def test_bad_span_in_both_languages(lang, message):
    r = hanchot("due", "2022-03-11", "3 fortnights", lang=lang)
    assert r.returncode == 2
    assert message in r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("where", ["repo", "empty"])
def test_2026_swap_same_answer_from_any_directory(tmp_path, where):
    # The New Year 2026 swap (CV 12729/VPCP-KGVX) ships inside hanchot, so the answer
    # does not depend on the repo's config/ (issue 7.8). Thu 1/1/2026 + 1 working
    # day: Fri 2/1 swapped off, Sat 3/1 and Sun 4/1 weekend -> Mon 5/1/2026.
    config = CONFIG if where == "repo" else tmp_path
    r = hanchot("due", "2026-01-01", "1 working day", config=config)
    assert (r.returncode, r.stdout) == (0, "2026-01-05\n"), r.stderr
    # Fri 9/1/2026 + 1 working day = Sat 10/1/2026, the make-up working day.
    r = hanchot("due", "2026-01-09", "1 ngày làm việc", config=config)
    assert (r.returncode, r.stdout) == (0, "2026-01-10\n"), r.stderr


def test_stdin_bulk_one_date_per_line():
    lines = "2022-03-11\t30 days\n2022-01-28\t1 working day\n2024-05-03\t1 working day\n"
    r = hanchot("due", "--stdin", stdin=lines)
    # 28/1/2022 + 1 wd: 31/1-4/2 Tết, 5-6/2 weekend -> Mon 7/2; 3/5/2024 + 1 wd -> Sat 4/5.
    assert r.stdout.splitlines() == ["2022-04-12", "2022-02-07", "2024-05-04"]


def test_stdin_bad_line_names_the_line_and_keeps_earlier_answers():
    r = hanchot("due", "--stdin", stdin="2022-03-11\t30 days\n2022-02-30\t3 days\n")
    assert r.returncode == 2
    assert r.stdout == "2022-04-12\n"
    assert "<stdin>:2:" in r.stderr and "2022-02-30" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["2022-02-30", "3 days"], "'2022-02-30' is not a date: 02/2022 has 28 days"),
        (["30.7.2022", "3 days"], "is not a valid date"),
        (["2022-03-11", "3 fortnights"], "unknown unit 'fortnights'"),
        (["2022-03-11", "--", "-3 days"], "is negative"),
        (["2022-03-11", "40000 days"], "longer than 100 years"),
        (["2022-03-11", "3 days", "--roll", "sideways"], "unknown roll 'sideways'"),
        (["2101-01-01", "3 days"], "outside the Vietnamese calendar"),
        (["2022-03-11", "3 days", "--format", "xml"], "unknown --format 'xml'"),
    ],
)
def test_bad_input_exit_2_one_message_no_traceback(args, message):
    r = hanchot("due", *args)
    assert r.returncode == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr
    assert r.stdout == ""


def test_accepts_vietnamese_dd_mm_yyyy():
    # Documented in the README: dd/mm/yyyy is accepted as well as ISO.
    # 30/7/2022 (Sat) + 1 day = Sun 31/7 -> Mon 1/8/2022.
    r = hanchot("due", "30/7/2022", "1 day")
    assert r.stdout == "2022-08-01\n"


def test_malformed_calendar_yaml_file_line_message(tmp_path):
    (tmp_path / "calendar.yaml").write_text(
        "extra_days_off:\n"
        "  - {date: 2022-12-30, reason: Nghỉ}\n"
        "extra_working_days:\n"
        "  - {date: 2022-12-30, reason: Làm bù}\n"
        "  - {date: 2022-02-30, reason: sai}\n"
        "  - {date: 2022-03-05}\n",
        encoding="utf-8",
    )
    r = hanchot("due", "2022-03-11", "30 days", config=tmp_path)
    assert r.returncode == 2
    path = tmp_path / "calendar.yaml"
    lines = r.stderr.splitlines()
    assert (
        f"{path}:4: 2022-12-30 is both in extra_days_off (line 2) and in extra_working_days; "
        "keep only one" in lines
    )
    assert f"{path}:5: '2022-02-30' is not a date: 02/2022 has 28 days" in lines
    assert (
        f"{path}:6: extra_working_days: entry for 2022-03-05 needs a reason (cite the "
        "decision)" in lines
    )
    assert "Traceback" not in r.stderr


def test_calendar_yaml_syntax_error_has_line(tmp_path):
    (tmp_path / "calendar.yaml").write_text(
        "extra_days_off:\n  - {date: 2022-12-30, reason: x\n", encoding="utf-8"
    )
    r = hanchot("due", "2022-03-11", "30 days", config=tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith(f"{tmp_path / 'calendar.yaml'}:")
    assert "YAML:" in r.stderr


def test_calendar_yaml_object_tag_refused(tmp_path):
    (tmp_path / "calendar.yaml").write_text(
        "extra_days_off: !!python/object/apply:os.system ['echo pwned']\n", encoding="utf-8"
    )
    r = hanchot("due", "2022-03-11", "30 days", config=tmp_path)
    assert r.returncode == 2
    assert "tags are not allowed" in r.stderr
    assert "pwned" not in r.stdout
