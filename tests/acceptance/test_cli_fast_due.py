"""``hanchot due`` without Typer (issue 13): the entry point reads the common
``due START SPAN [--roll R] [--format F] [--explain] [--config D] [--rules D]`` itself
and calls the same :func:`engine.cli.due_command` as the Typer command. Every case
here is run both ways — the shortcut and, with ``HANCHOT_SHORTCUTS=off``, Typer — in
both languages, and must give the same exit code, stdout and stderr byte for byte.

The expected dates are those of ``test_cli_due.py`` (worked out there by hand); this
file checks that both ways agree, and that the shortcut is really taken.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import DEFAULT_CONFIG, DEFAULT_RULES, GivenPath, parse_due_args

ROOT = Path(__file__).resolve().parents[2]


def run(args, cwd: Path, lang: str, shortcuts: bool, extra_env=None, importtime=False):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("HANCHOT_") and k not in ("LANG", "LC_ALL", "LC_MESSAGES")
    }
    env.update({"LANG": "C.UTF-8", "HANCHOT_LANG": lang, "COLUMNS": "200"})
    if not shortcuts:
        env["HANCHOT_SHORTCUTS"] = "off"
    env.update(extra_env or {})
    py = [sys.executable, *(["-X", "importtime"] if importtime else [])]
    return subprocess.run(
        [*py, "-c", "from engine.cli import main; main()", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=env,
        timeout=60,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("fast-due")
    shutil.copytree(ROOT / "config", site / "config")
    (site / "var").mkdir(mode=0o700)  # as `hanchot run` leaves it: the calendar cache
    return site


CASES = [
    # answers
    ["2022-03-11", "30 days"],
    ["2022-01-28", "3 ngày", "--roll", "backward"],
    ["2022-03-11", "30 days", "--format", "json"],
    ["--explain", "2022-03-11", "30 days"],
    ["2022-03-11", "--format=json", "--explain", "30 days"],
    ["2022-04-08", "5 working days", "--roll=none"],
    ["11/03/2022", "1 tháng", "--explain"],
    ["2022-01-31", "1 month", "--config", "config", "--rules", "config"],
    ["2026-04-24", "2 ngày làm việc", "--explain", "--format", "text"],
    # errors made by due_command (both ways), and usage errors Typer makes
    ["2022-02-30", "30 days"],
    ["2022-03-11", "30 dayz"],
    ["2022-03-11", "30 days", "--roll", "sideways"],
    ["2022-03-11", "30 days", "--format", "xml"],
    ["9999-12-31", "1 day"],
    ["2022-03-11", "30 days", "--config", "nowhere"],
    ["2022-03-11", "30 days", "--rules", "nowhere", "--config=also-nowhere"],
    ["2022-03-11"],
    [],
    ["2022-03-11", "30 days", "extra"],
    ["2022-03-11", "30 days", "--roll"],
    ["2022-03-11", "30 days", "--bogus"],
    ["2022-03-11", "-5 days"],
    ["2022-03-11", "30 days", "--roll", "none", "--roll", "forward"],
    ["--", "2022-03-11", "30 days"],
    ["2022-03-11", "30 days", "--no-explain"],
    ["--help"],
]


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("args", CASES, ids=lambda a: " ".join(a) or "(none)")
def test_shortcut_and_typer_agree(site, lang, args):
    fast = run(["due", *args], site, lang, shortcuts=True)
    slow = run(["due", *args], site, lang, shortcuts=False)
    assert (fast.returncode, fast.stdout, fast.stderr) == (
        slow.returncode,
        slow.stdout,
        slow.stderr,
    )
    assert "Traceback" not in fast.stderr


@pytest.mark.parametrize(
    "env",
    [{"HANCHOT_CONFIG": "nowhere"}, {"HANCHOT_RULES": "nowhere"}, {"HANCHOT_CONFIG": ""}],
    ids=["config", "rules", "empty"],
)
def test_shortcut_and_typer_agree_on_directories_from_the_environment(site, env):
    fast = run(["due", "2022-03-11", "30 days"], site, "vi", True, env)
    slow = run(["due", "2022-03-11", "30 days"], site, "vi", False, env)
    assert (fast.returncode, fast.stdout, fast.stderr) == (
        slow.returncode,
        slow.stdout,
        slow.stderr,
    )
    if env.get("HANCHOT_CONFIG") == "nowhere":
        assert fast.returncode == 2 and "HANCHOT_CONFIG" in fast.stderr


def imports(r) -> set[str]:
    return {
        line.rsplit("|", 1)[1].strip()
        for line in r.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_the_shortcut_is_taken_without_typer_and_without_holidays(site):
    run(["due", "2022-03-11", "30 days"], site, "vi", True)  # fills var/cache/calendar
    r = run(["due", "2022-03-11", "30 days"], site, "vi", True, importtime=True)
    assert r.returncode == 0 and r.stdout == "2022-04-12\n"
    mods = imports(r)
    for heavy in ("typer", "click", "rich", "pydantic", "holidays", "sqlalchemy"):
        assert heavy not in mods, heavy
    # --help and the switch take Typer.
    assert "typer" in imports(run(["due", "--help"], site, "vi", True, importtime=True))
    off = run(["due", "2022-03-11", "30 days"], site, "vi", False, importtime=True)
    assert off.returncode == 0 and "typer" in imports(off)


def test_parse_due_args_marks_given_directories_like_typer():
    p = parse_due_args(["2022-03-11", "30 days", "--config", "c"], {"HANCHOT_RULES": "r"})
    assert p is not None
    assert isinstance(p["config"], GivenPath) and p["config"].given_by == "--config"
    assert isinstance(p["rules"], GivenPath) and p["rules"].given_by == "HANCHOT_RULES"
    p = parse_due_args(["2022-03-11", "30 days"], {})
    assert p is not None
    assert p["config"] is DEFAULT_CONFIG and p["rules"] is DEFAULT_RULES
    assert not isinstance(p["config"], GivenPath)
    assert parse_due_args(["2022-03-11", "30 days", "--stdin"], {}) is None


def test_english_holiday_names_when_the_calendar_comes_from_the_cache(tmp_path):
    # The cache keeps the Vietnamese names; a calendar read from it named the holidays
    # in Vietnamese in English messages. 11/03/2022 + 30 days = Sunday 10/04/2022, Giỗ
    # Tổ Hùng Vương (Hung Kings' Commemoration Day), Monday 11/04 its day off in lieu
    # (test_cli_due.py works it out).
    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "var").mkdir(mode=0o700)
    run(["due", "2022-03-11", "30 days", "--explain"], tmp_path, "vi", True)
    assert (tmp_path / "var" / "cache" / "calendar" / "2022.json").is_file()
    for shortcuts in (True, False):
        r = run(["due", "2022-03-11", "30 days", "--explain"], tmp_path, "en", shortcuts)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert "Skipped Sunday, 10/04/2022: Hung Kings' Commemoration Day (Sunday)" in lines
        assert "Skipped Monday, 11/04/2022: Hung Kings' Commemoration Day (observed)" in lines
