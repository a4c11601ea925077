"""Paths as a user meets them: missing directories, where the database lives, whether a
command may create it, ``--database``, and what ``plan`` shows of closed deadlines.

Every test runs the real command in a fresh directory (a copy of the shipped
``config/`` and a small rules directory), with messages in English.
"""

from __future__ import annotations

import json
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
    due: {on: 2022-07-29}
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    shutil.copytree(ROOT / "config", root / "config")
    (root / "rules").mkdir()
    (root / "rules" / "plan.yaml").write_text(RULES, encoding="utf-8")
    return root


def hanchot(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith("HANCHOT_") or k == "HANCHOT_LANG"
    }
    environ.update({"HANCHOT_LANG": "en", "COLUMNS": "200", "PYTHONPATH": str(ROOT)})
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", "from engine.cli import main; main()", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=environ,
        timeout=120,
    )


def one_line_error(r: subprocess.CompletedProcess, code: int = 2) -> str:
    """The single stderr line of a clean exit ``code`` (no traceback)."""
    assert r.returncode == code, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


# ----------------------------------------------------------------- point 7: directories
def test_due_with_a_missing_config_is_an_error_not_the_builtin_calendar(tmp_path):
    # Before: 2026-01-02 from the built-in calendar, exit 0. The repo's config/ makes
    # Fri 02/01/2026 a day off (Công văn 12729/VPCP-KGVX), so the honest answers are
    # "that directory does not exist" or, with the real config, Mon 05/01/2026.
    r = hanchot(tmp_path, "due", "2026-01-01", "1 working day", "--config", "/nonexistent")
    assert one_line_error(r) == (
        "/nonexistent: configuration directory not found (given by --config)"
    )
    assert r.stdout == ""


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HANCHOT_CONFIG": "/nonexistent"}, "/nonexistent: configuration directory not found"),
        ({"HANCHOT_RULES": "/no-rules"}, "/no-rules: rules directory not found"),
    ],
)
def test_due_with_a_missing_directory_from_the_environment(tmp_path, env, expected):
    r = hanchot(tmp_path, "due", "2026-01-01", "1 working day", env=env)
    name = next(iter(env))
    assert one_line_error(r) == f"{expected} (given by {name})"


def test_due_without_the_default_directories_uses_the_builtin_calendar_quietly(tmp_path):
    # 11/3/2022 + 30 days = Sun 10/4/2022 (Giỗ Tổ), Mon 11/4 off in lieu -> Tue 12/4/2022;
    # no config/ or rules/ here, and nothing is said about it.
    r = hanchot(tmp_path, "due", "2022-03-11", "30 days")
    assert (r.returncode, r.stdout, r.stderr) == (0, "2022-04-12\n", "")


def test_a_file_where_a_directory_is_wanted(site):
    r = hanchot(site, "due", "2022-03-11", "30 days", "--config", "rules/plan.yaml")
    assert one_line_error(r) == "rules/plan.yaml: not a directory (given by --config)"


def test_check_reports_every_missing_directory_at_once(tmp_path):
    r = hanchot(tmp_path, "check", "--config", "/no-config", "--rules", "/no-rules")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.splitlines() == [
        "/no-config: configuration directory not found (given by --config)",
        "/no-rules: rules directory not found (given by --rules)",
    ]


def test_check_in_a_directory_without_config_says_how_to_point_at_one(tmp_path):
    r = hanchot(tmp_path, "check")
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        "config: configuration directory not found (the default; run hanchot from the "
        "directory that holds config/, or give --config DIR)",
        "rules: rules directory not found (the default; run hanchot from the directory "
        "that holds rules/, or give --rules DIR)",
    ]


@pytest.mark.parametrize(
    "command",
    [
        ["check"],
        ["schema"],
        ["plan"],
        ["status"],
        ["event", "list"],
        ["event", "add", "publication", "--id", "a", "--date", "2022-03-11"],
        ["event", "import", "events.csv"],
        ["done", "bao-cao-6-thang", "once", "--evidence", "x"],
        ["waive", "bao-cao-6-thang", "once", "--reason", "x"],
        ["run", "--once", "--now", "2022-07-22T08:00+07:00"],
    ],
)
def test_every_command_refuses_a_missing_config_and_touches_nothing(site, command):
    (site / "events.csv").write_text("type,id,date\npublication,a,2022-03-11\n", "utf-8")
    r = hanchot(site, *command, "--config", "/nonexistent")
    assert one_line_error(r) == (
        "/nonexistent: configuration directory not found (given by --config)"
    )
    assert not (site / "var").exists()


# ----------------------------------------------------------------- point 9: the database
@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["event", "list"],
        ["done", "bao-cao-6-thang", "once", "--evidence", "Báo cáo số 12/BC-SCT"],
        ["waive", "bao-cao-6-thang", "once", "--reason", "UBND tỉnh lùi hạn"],
    ],
)
def test_reading_commands_never_create_an_empty_database(site, command):
    r = hanchot(site, *command)
    message = one_line_error(r)
    assert message == (
        f"hanchot: no database at {site}/var/hanchot.db (settings.database in "
        f"config/settings.yaml, relative to {site}); `hanchot run` creates it when it "
        "starts (`hanchot run --once` too), and so does the first `hanchot event add`"
    )
    assert not (site / "var").exists()


def test_a_database_without_hanchot_tables_is_named_as_such_and_left_alone(site):
    import sqlite3

    other = site / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    before = other.read_bytes()
    r = hanchot(site, "status", "--database", "sqlite:///other.db")
    assert one_line_error(r).startswith(
        f"hanchot: the database {other} (--database) has no hanchot tables yet; "
    )
    assert other.read_bytes() == before


def test_a_file_that_is_not_a_database(site):
    r = hanchot(site, "status", "--database", "sqlite:///rules/plan.yaml")
    # Exit 5: the database is unusable (README's exit codes).
    assert one_line_error(r, 5) == (
        f"hanchot: the database {site}/rules/plan.yaml is not a SQLite database file "
        "(file is not a database)"
    )
    assert (site / "rules" / "plan.yaml").read_text(encoding="utf-8") == RULES


def test_plan_without_a_database_says_where_it_looked_and_creates_nothing(site):
    r = hanchot(site, "plan", "--from", "2022-01-01", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert f"note: no database at {site}/var/hanchot.db" in r.stderr
    assert "every deadline shows as open" in r.stderr
    assert not (site / "var").exists()


def test_the_database_is_the_deployments_from_any_directory(site, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = ["--config", str(site / "config"), "--rules", str(site / "rules")]
    now = ["--now", "2022-03-11T10:00+07:00"]
    r = hanchot(elsewhere, "event", "add", "publication", "--id", "a", "--date", "2022-03-11")
    assert r.returncode == 2  # no config/ here: nothing is created in the wrong place
    # (This site's rules start from no event: --allow-unused-type, the point is the paths.)
    add = ["event", "add", "publication", "--id", "a", "--date", "2022-03-11"]
    r = hanchot(elsewhere, *add, "--allow-unused-type", *where, *now)
    assert r.returncode == 0, r.stderr
    assert (site / "var" / "hanchot.db").is_file()
    assert list(elsewhere.iterdir()) == []
    # ... and the same database is found from the deployment itself.
    r = hanchot(site, "event", "list", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert '"id": "a"' in r.stdout
    # The .eml fallback lives in the deployment too.
    r = hanchot(elsewhere, "run", "--once", "--now", "2022-07-22T08:00+07:00", *where)
    assert r.returncode == 0, r.stderr
    assert list((site / "var" / "mail").rglob("*.eml"))
    assert list(elsewhere.iterdir()) == []


# ----------------------------------------------------------------- point 10: local times
def test_already_closed_names_the_local_day_and_time(site):
    now = "2022-07-28T05:35+07:00"  # 27/07/2022 22:35 UTC: the UTC day is the day before
    assert hanchot(site, "run", "--once", "--now", now).returncode == 0
    r = hanchot(
        site, "done", "bao-cao-6-thang", "once", "--evidence", "BC 12", "--by", "cv", "--now", now
    )
    assert r.returncode == 0, r.stderr
    r = hanchot(site, "waive", "bao-cao-6-thang", "once", "--reason", "x")
    assert one_line_error(r) == (
        "hanchot: deadline bao-cao-6-thang once is already done on Thứ Năm, 28/07/2022 "
        "at 05:35 by cv (BC 12)"
    )


# ----------------------------------------------------------------- point 16: --database
@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_separate_database_leaves_the_live_one_alone(site, how):
    url = "sqlite:///thu-2022.db"  # relative: to the current directory, as any argument
    opt, env = (
        (["--database", url], None) if how == "option" else ([], {"HANCHOT_DATABASE_URL": url})
    )
    now = ["--now", "2022-07-22T08:00+07:00"]
    r = hanchot(site, "run", "--once", *now, *opt, env=env)
    assert r.returncode == 0, r.stderr
    r = hanchot(site, "done", "bao-cao-6-thang", "once", "--evidence", "BC 12", *now, *opt, env=env)
    assert r.returncode == 0, r.stderr
    r = hanchot(site, "plan", "--from", "2022-01-01", "--format", "csv", *opt, env=env)
    assert ",done," in r.stdout
    assert (site / "thu-2022.db").is_file()
    assert not (site / "var" / "hanchot.db").exists()
    # The live database, when there is one, knows nothing of it.
    r = hanchot(site, "status")
    assert r.returncode == 2 and "no database" in r.stderr


def test_a_missing_separate_database_is_named_with_its_source(site):
    r = hanchot(site, "status", "--database", "sqlite:///thu-2022.db")
    assert one_line_error(r).startswith(f"hanchot: no database at {site}/thu-2022.db (--database)")
    r = hanchot(site, "status", env={"HANCHOT_DATABASE_URL": "sqlite:///thu-2022.db"})
    assert "(HANCHOT_DATABASE_URL)" in one_line_error(r)
    assert not (site / "thu-2022.db").exists()


def test_the_readme_walkthrough_does_not_touch_the_live_database(site):
    # The walk-through is written for the repository's own 2022 rules.
    shutil.rmtree(site / "rules")
    shutil.copytree(ROOT / "rules", site / "rules")
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("Try the 2022 plan as it would have run", 1)[1]
    block = block.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line.startswith(".venv/bin/hanchot ")]
    assert len(commands) >= 3
    for line in commands:
        args = line.split("#", 1)[0].split()[1:]
        r = hanchot(site, *args)
        assert r.returncode == 0, (line, r.stderr)
    assert not (site / "var" / "hanchot.db").exists()
    assert list(site.glob("var/*.db")), "the walk-through keeps its own database file"


# ----------------------------------------------------------------- point 17: plan
def test_plan_shows_a_closed_deadline_as_it_was_closed(site):
    now = ["--now", "2022-07-27T10:00+07:00"]
    assert hanchot(site, "run", "--once", *now).returncode == 0
    r = hanchot(site, "done", "bao-cao-6-thang", "once", "--evidence", "BC 12", *now)
    assert r.returncode == 0, r.stderr
    # The rule is edited afterwards: a new date and a new title.
    plan_yaml = site / "rules" / "plan.yaml"
    plan_yaml.write_text(
        RULES.replace("2022-07-29", "2022-08-15").replace("6 tháng", "sáu tháng"), "utf-8"
    )
    r = hanchot(site, "plan", "--from", "2022-07-01", "--to", "2022-07-31", "--format", "json")
    assert r.returncode == 0, r.stderr
    (row,) = json.loads(r.stdout)
    # Done as due Fri 29/07/2022 (the date it had when closed), not Mon 15/08/2022.
    assert (row["due"], row["status"]) == ("2022-07-29", "done")
    assert row["title"] == "Báo cáo tình hình, kết quả kiểm soát TTHC 6 tháng"
    assert row["explain"] == [
        {
            "step": "closed",
            "date": "2022-07-29",
            "text": "Closed (done) with the due date it had then: Thứ Sáu, 29/07/2022",
        }
    ]
    # In August, the window of the rule's new date, it does not appear a second time.
    r = hanchot(site, "plan", "--from", "2022-08-01", "--to", "2022-08-31", "--format", "json")
    assert json.loads(r.stdout) == []
    # An open deadline still follows its rule.
    r = hanchot(site, "plan", "--from", "2022-08-01", "--to", "2022-08-31", "--no-store")
    assert "15/08/2022" in r.stdout
