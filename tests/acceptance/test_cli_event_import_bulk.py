"""``hanchot event import`` of big files (issue 11): all or nothing at the 100,000th row,
a progress bar on a terminal and nothing on a pipe.

Each test runs the command in its own site (the shipped config/, the rules of
test_cli_store, the database in var/).
"""

from __future__ import annotations

import io
import os
import pty
import select
import sqlite3
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from tests.acceptance.test_cli_store import hanchot, site  # noqa: F401

NOW = ["--now", "2022-03-20T09:00+07:00"]


def write_events(path: Path, n: int, *, first: date = date(2022, 1, 3), last_row: str = "") -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("type,id,date,delegated\n")
        for k in range(n):
            d = first + timedelta(days=k % 60)
            f.write(f"publication,qd-{k:06d},{d.isoformat()},{'true' if k % 2 else ''}\n")
        f.write(last_row)
    return path


def count(root: Path, table: str) -> int | None:
    db = root / "var" / "hanchot.db"
    if not db.exists():
        return None
    with sqlite3.connect(db) as c:
        return c.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_a_bad_100000th_row_is_reported_and_nothing_is_written(site):  # noqa: F811
    small = write_events(site / "small.csv", 3)
    assert hanchot(site, "event", "import", str(small), *NOW).returncode == 0
    before = (count(site, "events"), count(site, "audit_log"), count(site, "deadlines"))
    assert before[0] == 3
    # 99,999 good rows (lines 2..100000), then a 30 February on line 100001.
    big = write_events(site / "big.csv", 99_999, last_row="publication,qd-x,2022-02-30,\n")
    r = hanchot(site, "event", "import", "big.csv", *NOW)
    assert r.returncode == 2
    assert r.stderr == "big.csv:100001: '2022-02-30' is not a date: 02/2022 has 28 days\n"
    assert r.stdout == ""
    assert (count(site, "events"), count(site, "audit_log"), count(site, "deadlines")) == before
    assert big.stat().st_size > 3_000_000


def test_an_event_recorded_with_other_values_at_the_100000th_row_rolls_back(site):  # noqa: F811
    small = site / "small.csv"
    small.write_text("type,id,date,delegated\npublication,qd-x,2022-01-05,\n", encoding="utf-8")
    assert hanchot(site, "event", "import", str(small), *NOW).returncode == 0
    before = (count(site, "events"), count(site, "audit_log"), count(site, "deadlines"))
    write_events(site / "big.csv", 99_999, last_row="publication,qd-x,2022-01-06,\n")
    r = hanchot(site, "event", "import", "big.csv", *NOW)
    assert r.returncode == 2
    assert r.stderr == (
        "hanchot: event publication qd-x is already recorded (date 2022-01-05, attributes {}); "
        "use another id\n"
    )
    assert (count(site, "events"), count(site, "audit_log"), count(site, "deadlines")) == before


def test_a_bad_file_creates_no_database(site):  # noqa: F811
    write_events(site / "big.csv", 20_000, last_row="publicaton,qd-y,2022-01-06,\n")
    r = hanchot(site, "event", "import", "big.csv", *NOW)
    assert r.returncode == 2
    assert r.stderr.startswith("big.csv:20002: no rule starts from event type 'publicaton'")
    assert count(site, "events") is None


# ---------------------------------------------------------------- progress bar
# Events of 2015: outside the deadlines' window as of 2022, so the import is quick.
OLD = date(2015, 1, 5)


def test_no_progress_bar_on_a_pipe(site):  # noqa: F811
    write_events(site / "e.csv", 6000, first=OLD)
    r = hanchot(site, "event", "import", "e.csv", *NOW, env={"HANCHOT_LANG": "vi"})
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert r.stdout == "Đã nhập 6000 sự kiện (0 đã có); 0 hạn mới.\n"


@pytest.mark.parametrize("declared", [{"TTY_COMPATIBLE": "1"}, {"FORCE_COLOR": "1"}])
def test_progress_bar_on_a_pipe_declared_a_terminal(site, declared):  # noqa: F811
    """Rich is loaded only when stderr may be a terminal, which includes a pipe that
    TTY_COMPATIBLE or FORCE_COLOR declares one (as Rich itself decides)."""
    write_events(site / "e.csv", 6000, first=OLD)
    r = hanchot(site, "event", "import", "e.csv", *NOW, env={"HANCHOT_LANG": "vi", **declared})
    assert r.returncode == 0, r.stderr
    assert "Đọc và kiểm tra tệp" in r.stderr
    assert r.stdout == "Đã nhập 6000 sự kiện (0 đã có); 0 hạn mới.\n"


def test_progress_bar_on_a_terminal(site):  # noqa: F811
    write_events(site / "e.csv", 6000, first=OLD)
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANCHOT_")}
    env.update(HANCHOT_LANG="vi", TERM="xterm", COLUMNS="120")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from engine.cli import main; main()"]
        + ["event", "import", "e.csv", *NOW],
        cwd=site,
        env=env,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal's other end closed: the process is gone
            break
        if not chunk:
            break
        seen += chunk
    out = proc.communicate(timeout=60)[0].decode()
    os.close(master)
    assert proc.returncode == 0
    assert out == "Đã nhập 6000 sự kiện (0 đã có); 0 hạn mới.\n"
    text = seen.decode("utf-8", "replace")
    assert "Đọc và kiểm tra tệp" in text
    assert "Ghi nhận sự kiện" in text
    assert "Tính hạn xử lý" in text


@pytest.mark.parametrize("terminal", [True, False])
def test_progress_goes_to_the_console_only_when_it_is_a_terminal(site, terminal):  # noqa: F811
    from engine.commands.store_cmds import import_events

    write_events(site / "e.csv", 6000, first=OLD)
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=terminal, width=100)
    cwd = os.getcwd()
    os.chdir(site)
    try:
        import_events(Path("e.csv"), now=NOW[1], console=console)
    finally:
        os.chdir(cwd)
    assert count(site, "events") == 6000
    if terminal:
        # English when no language is set (the tests' default); 6000 events recorded.
        assert "Reading and checking the file" in buf.getvalue()
        assert "Recording the events" in buf.getvalue()
        assert "6000/6000" in buf.getvalue()
    else:
        assert buf.getvalue() == ""


def test_no_progress_bar_for_a_small_file_on_a_terminal(site):  # noqa: F811
    from engine.commands.store_cmds import import_events

    write_events(site / "e.csv", 4000, first=OLD)
    buf = io.StringIO()
    cwd = os.getcwd()
    os.chdir(site)
    try:
        import_events(Path("e.csv"), now=NOW[1], console=Console(file=buf, force_terminal=True))
    finally:
        os.chdir(cwd)
    assert count(site, "events") == 4000
    assert buf.getvalue() == ""


def test_the_garbage_collector_is_back_on_after_an_import_good_or_bad(site):  # noqa: F811
    import gc

    from engine.commands.store_cmds import import_events
    from engine.errors import ConfigError, InputError

    write_events(site / "e.csv", 10, first=OLD)
    write_events(site / "bad.csv", 10, first=OLD, last_row="publication,qd-z,2022-02-30,\n")
    (site / "other.csv").write_text(
        "type,id,date,delegated\npublication,qd-000001,2015-01-05,\n", encoding="utf-8"
    )
    cwd = os.getcwd()
    os.chdir(site)
    try:
        assert gc.isenabled()
        import_events(Path("e.csv"), now=NOW[1])
        assert gc.isenabled()
        with pytest.raises(ConfigError):
            import_events(Path("bad.csv"), now=NOW[1])
        assert gc.isenabled()
        with pytest.raises(InputError):  # qd-000001 is recorded with delegated=true
            import_events(Path("other.csv"), now=NOW[1])
        assert gc.isenabled()
    finally:
        os.chdir(cwd)
