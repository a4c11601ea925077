"""``hanchot run`` as a real process: sends on start, refuses a second daemon,
reloads edited config (keeping the old one when the new is bad), stops on SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def rule(rule_id: str, due: date) -> str:
    return (
        f"  - id: {rule_id}\n"
        f"    title: Nhiệm vụ {rule_id}\n"
        f"    lead: van-phong\n"
        f"    due: {{on: {due.isoformat()}}}\n"
    )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "rules").mkdir()
    # Overdue by a week as of the real clock: its latest stage is due right away.
    due = date.today() - timedelta(days=7)
    (tmp_path / "rules" / "a.yaml").write_text("rules:\n" + rule("viec-a", due), "utf-8")
    return tmp_path


def env() -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith("HANCHOT_") or k == "HANCHOT_LANG"}
    e["HANCHOT_POLL_SECONDS"] = "0.5"
    return e


def start(site: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "from engine.cli import main; main()", "run"],
        cwd=site,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )


def wait_for(predicate, timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def eml(site: Path) -> list[Path]:
    return sorted((site / "var" / "mail").rglob("*.eml"))


def settled(site: Path, quiet: float = 1.5, timeout: float = 30.0) -> int:
    """The number of .eml files once the daemon has written none for ``quiet`` seconds.

    A dispatch cycle writes one file per recipient; counting in the middle of a
    cycle would make the test depend on the machine's speed.
    """
    end = time.monotonic() + timeout
    count, since = len(eml(site)), time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.1)
        now = len(eml(site))
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return count
    raise AssertionError("the daemon kept writing mail")


def test_daemon_sends_refuses_second_reloads_and_stops(site):
    proc = start(site)
    try:
        assert wait_for(lambda: len(eml(site)) >= 1), "no mail from the daemon"
        first = settled(site)

        second = subprocess.run(
            [sys.executable, "-c", "from engine.cli import main; main()", "run"],
            cwd=site,
            env=env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2
        # The database is the deployment's (config/'s parent), named by its full path.
        db_file = site / "var" / "hanchot.db"
        assert f"another hanchot daemon is running on {db_file} (pid {proc.pid})" in second.stderr

        # A broken rules file is reported; the old configuration keeps running.
        bad = site / "rules" / "b.yaml"
        bad.write_text("rules:\n  - id: Sai Định Danh\n", "utf-8")
        time.sleep(2)
        assert proc.poll() is None
        # Fixed: the new rule's overdue deadline is mailed without a restart.
        due = date.today() - timedelta(days=10)
        bad.write_text("rules:\n" + rule("viec-b", due), "utf-8")
        assert wait_for(lambda: len(eml(site)) > first), "edited rules not picked up"
        n = settled(site)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert "new configuration rejected" in err
    assert "configuration reloaded" in err
    assert "hanchot daemon stopped" in err
    assert err.count(" sent <") == n  # one log line per message
    # after a clean stop the lock is free again: --once works and sends nothing new
    r = subprocess.run(
        [sys.executable, "-c", "from engine.cli import main; main()", "run", "--once"],
        cwd=site,
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert len(eml(site)) == n
