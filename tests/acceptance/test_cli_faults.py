"""Broken storage and hostile input as a user meets them: one line, a documented exit
code, no traceback, nothing half-written (issue 12 points 3, 8, 9, 11, 12, 13).

Exit codes (README, Commands): 2 bad usage/config, 3 unusable database, 4 disk full.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_yaml_limits import BOMB

ROOT = Path(__file__).resolve().parents[2]

RULES = """\
rules:
  - id: quy-trinh-noi-bo
    title: Trình phê duyệt quy trình nội bộ giải quyết TTHC
    lead: qlcn
    due: {after: publication, in: 30 days}
"""
NOW = "2022-07-22T08:00+07:00"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "plan.yaml").write_text(RULES, encoding="utf-8")
    return tmp_path


def hanchot(site: Path, *args: str, env: dict | None = None, umask: int | None = None):
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith("HANCHOT_") or k == "HANCHOT_LANG"
    }
    environ["PYTHONPATH"] = str(ROOT)
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", "from engine.cli import main; main()", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=site,
        env=environ,
        timeout=120,
        preexec_fn=(lambda: os.umask(umask)) if umask is not None else None,
    )


def one_line(r: subprocess.CompletedProcess, code: int) -> str:
    """The run failed with ``code`` and exactly one line on stderr, no traceback."""
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def event_ids(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT event_id FROM events ORDER BY event_id")]


# ------------------------------------------------------------------ point 3
def test_check_refuses_an_alias_bomb_in_settings_quickly(site):
    (site / "config" / "settings.yaml").write_text(BOMB, encoding="utf-8")
    r = hanchot(site, "check")
    line = one_line(r, 2)
    assert line.startswith("config/settings.yaml:") and "too many aliases" in line


# ------------------------------------------------------------------ point 8
def test_a_file_of_garbage_as_the_database(site):
    (site / "var").mkdir()
    garbage = bytes(range(256)) * 20  # 5 KB that is no SQLite header
    (site / "var" / "hanchot.db").write_bytes(garbage)
    line = one_line(hanchot(site, "status", "--now", NOW), 5)
    # The file is named by its path, resolved against the deployment (config/'s parent).
    assert line == (
        f"hanchot: the database {site / 'var' / 'hanchot.db'} is not a SQLite database file "
        "(file is not a database)"
    )
    assert (site / "var" / "hanchot.db").read_bytes() == garbage  # left for the admin


def test_a_truncated_database(site):
    assert (
        hanchot(
            site,
            "event",
            "add",
            "publication",
            "--id",
            "qd-1",
            "--date",
            "2022-03-11",
            "--now",
            NOW,
        ).returncode
        == 0
    )
    db = site / "var" / "hanchot.db"
    with sqlite3.connect(db) as conn:  # fold the WAL in, then cut the file in half
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = db.stat().st_size
    assert size > 8192
    with open(db, "r+b") as f:
        f.truncate(size // 2)
    line = one_line(hanchot(site, "status", "--now", NOW), 5)
    assert line.startswith(f"hanchot: the database {site / 'var' / 'hanchot.db'} is damaged")
    assert "database disk image is malformed" in line


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 1 MB tmpfs: the only portable way to make a real full disk (needs root)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a full disk needs root to mount a small tmpfs")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode(errors='replace').strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_full_disk_stops_an_import_whole_and_says_so(site, small_disk):
    url = f"sqlite:///{small_disk / 'hanchot.db'}"
    env = {"HANCHOT_DATABASE_URL": url}
    add = ["event", "add", "publication", "--id", "qd-1", "--date", "2022-03-11", "--now", NOW]
    assert hanchot(site, *add, env=env).returncode == 0
    # Fill the rest of the disk, then import events whose attributes need far more room.
    fd = os.open(small_disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    big = "x" * 200  # the longest attribute value allowed
    rows = [f"publication,qd-{i:04d},2022-03-11,{big}" for i in range(2, 4000)]
    (site / "many.csv").write_text("type,id,date,note\n" + "\n".join(rows) + "\n")
    r = hanchot(site, "event", "import", "many.csv", "--now", NOW, env=env)
    line = one_line(r, 6)
    assert line.startswith("hanchot: ") and "full" in line
    os.remove(small_disk / "filler")
    assert event_ids(small_disk / "hanchot.db") == ["qd-1"]  # all or nothing


def test_a_non_numeric_port_is_reported_without_the_password(site):
    url = "postgresql://hanchot:S3cret-pw@db.example:abc/hanchot"
    line = one_line(hanchot(site, "status", env={"HANCHOT_DATABASE_URL": url}), 2)
    assert line == (
        "hanchot: database URL postgresql://hanchot:***@db.example:abc/hanchot is not valid: "
        "the port must be a number"
    )


@pytest.mark.parametrize(
    "url",
    ["postgres ql://hanchot:S3cret-pw@db/x", "hanchot:S3cret-pw@db/x", "://u:S3cret-pw@h/x"],
)
def test_a_malformed_url_never_prints_its_password(site, url):
    r = hanchot(site, "status", env={"HANCHOT_DATABASE_URL": url})
    one_line(r, 2)
    assert "S3cret-pw" not in r.stderr + r.stdout
    assert "***" in r.stderr


def test_a_database_under_proc(site):
    url = "sqlite:////proc/hanchot/hanchot.db"
    # `status` only says there is no database there; `run --once` tries to create it.
    r = hanchot(site, "run", "--once", "--now", NOW, env={"HANCHOT_DATABASE_URL": url})
    line = one_line(r, 2)
    assert line.startswith("hanchot: cannot create the database /proc/hanchot/hanchot.db: ")


def test_smtp_user_without_password(site):
    settings = site / "config" / "settings.yaml"
    settings.write_text(
        settings.read_text(encoding="utf-8")
        + "smtp: {host: 127.0.0.1, port: 2525, user: nhachan@example.gov.vn}\n",
        encoding="utf-8",
    )
    r = hanchot(site, "run", "--once", "--now", NOW)
    line = one_line(r, 2)
    assert line == (
        "smtp.user is set (nhachan@example.gov.vn) but HANCHOT_SMTP_PASSWORD is not: "
        "set the password in the environment, or remove smtp.user"
    )


# ------------------------------------------------------------------ point 9
def test_plan_output_into_a_missing_directory(site):
    r = hanchot(
        site,
        "plan",
        "--no-store",
        "--from",
        "2022-01-01",
        "--output",
        "nodir/plan.csv",
        "--format",
        "csv",
    )
    line = one_line(r, 2)
    assert line == "hanchot: cannot write or read nodir/plan.csv: No such file or directory"


def test_plan_over_the_whole_range_of_dates(site):
    r = hanchot(site, "plan", "--no-store", "--from", "0001-01-01", "--to", "9999-12-31")
    assert one_line(r, 2) == (
        "hanchot: --from: 0001-01-01 is outside the years the calendar covers (1901–2100)"
    )


@pytest.mark.parametrize("now", ["0001-01-01T00:00+07:00", "9999-12-31T23:00-07:00"])
def test_now_in_year_1_or_9999(site, now):
    line = one_line(hanchot(site, "status", "--now", now), 2)
    assert line == f"hanchot: --now {now}: the year must be within the calendar (1901–2100)"
    assert not (site / "var").exists()  # refused before anything was opened


def test_5000_digit_spans_in_due_and_rules(site):
    nines = "9" * 5000
    line = one_line(hanchot(site, "due", "2022-01-01", f"{nines} days"), 2)
    assert line.endswith("is longer than 100 years")
    (site / "rules" / "plan.yaml").write_text(RULES + f"    n: {nines}\n", encoding="utf-8")
    line = one_line(hanchot(site, "check"), 2)
    assert line == "rules/plan.yaml:6: YAML: a number may have at most 4300 digits"


def test_due_stdin_flushes_the_answers_before_a_5000_digit_line(site):
    nines = "9" * 5000
    # 11/03/2022 + 30 days = 10/04/2022 (Điều 147: count from the next day), a Sunday:
    # Điều 148 rolls it to Monday 11/04/2022, which is Giỗ Tổ Hùng Vương (10/3 âm lịch,
    # off that year on Monday 11/04 in lieu of the Sunday), so the due date is 12/04/2022.
    r = subprocess.run(
        [sys.executable, "-c", "from engine.cli import main; main()", "due", "--stdin"],
        input=f"2022-03-11\t30 days\n2022-03-11\t{nines} days\n",
        capture_output=True,
        text=True,
        cwd=site,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert r.stdout == "2022-04-12\n"
    assert one_line(r, 2).startswith("hanchot: <stdin>:2: span ")


def test_event_dates_outside_the_calendar_name_their_row(site):
    (site / "ev.csv").write_text(
        "type,id,date\npublication,qd-1,2022-03-11\npublication,qd-2,1900-01-01\n"
    )
    line = one_line(hanchot(site, "event", "import", "ev.csv", "--now", NOW), 2)
    assert line == "ev.csv:3: date 1900-01-01 is outside the years the calendar covers (1901–2100)"


# ------------------------------------------------------------------ point 12
def test_data_directory_and_database_files_are_private_under_umask_022(site):
    r = hanchot(site, "run", "--once", "--now", NOW, umask=0o022)
    assert r.returncode == 0, r.stderr
    var = site / "var"
    assert oct(var.stat().st_mode & 0o777) == "0o700"
    files = [p for p in var.iterdir() if p.name.startswith("hanchot.db")]
    assert site / "var" / "hanchot.db" in files
    for p in files:
        assert oct(p.stat().st_mode & 0o777) == "0o600", p


def test_an_existing_world_readable_database_is_tightened(site):
    assert hanchot(site, "run", "--once", "--now", NOW, umask=0o022).returncode == 0
    db = site / "var" / "hanchot.db"
    os.chmod(db, 0o644)
    assert hanchot(site, "status", "--now", NOW, umask=0o022).returncode == 0
    assert oct(db.stat().st_mode & 0o777) == "0o600"


def test_plan_reading_a_garbage_database_or_an_unreachable_server(site):
    (site / "var").mkdir()
    (site / "var" / "hanchot.db").write_bytes(b"not sqlite at all\n" * 300)
    line = one_line(hanchot(site, "plan", "--from", "2022-01-01"), 5)
    # The file is named by its path, resolved against the deployment (config/'s parent).
    assert line == (
        f"hanchot: the database {site / 'var' / 'hanchot.db'} is not a SQLite database file "
        "(file is not a database)"
    )
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    url = "postgresql+psycopg2://hanchot:S3cret-pw@127.0.0.1:1/hanchot"
    r = hanchot(site, "plan", "--from", "2022-01-01", env={"HANCHOT_DATABASE_URL": url})
    line = one_line(r, 5)
    assert line.startswith(
        "hanchot: cannot use the database postgresql+psycopg2://hanchot:***@127.0.0.1:1/hanchot: "
    )
    assert "S3cret-pw" not in r.stderr
