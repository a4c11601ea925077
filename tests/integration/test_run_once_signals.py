"""``hanchot run --once`` as a real process: a real signal mid-cycle (issue 7.5), its
exit codes (7.6, SPEC §5.1) and its log lines (7.10).

Six rules due Friday 29/07/2022, each led by another unit, with the repo's default
policy: at 29/07 08:00 (+07:00) the stage ``due`` mails each lead once, six messages.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.integration.conftest import RecordingHandler, SmtpServer, free_port

pytestmark = pytest.mark.smtp

ROOT = Path(__file__).resolve().parents[2]
LEADS = ["van-phong", "thanh-tra", "qltm-xnk", "qlcn", "qlnl", "ktat-mt"]
NOW = "2022-07-29T08:00:00+07:00"


class SlowHandler(RecordingHandler):
    """Takes ``delay`` seconds to answer DATA: a cycle lasts long enough to signal."""

    delay: float = 0.6

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_server():
    handler = SlowHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, handler)
    finally:
        controller.stop()


def make_site(tmp_path: Path, port: int, *, admin: bool = False) -> Path:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    settings = tmp_path / "config" / "settings.yaml"
    text = settings.read_text("utf-8").replace("admin_email: vanphong@example.gov.vn\n", "")
    text += f"smtp: {{host: 127.0.0.1, port: {port}, security: none, timeout: 10}}\n"
    if admin:
        text += "admin_email: vanphong@example.gov.vn\n"
    settings.write_text(text, "utf-8")
    (tmp_path / "rules").mkdir()
    body = "".join(
        f"  - id: viec-{lead}\n"
        f"    title: Nhiệm vụ của {lead}\n"
        f"    lead: {lead}\n"
        f"    due: {{on: 2022-07-29}}\n"
        for lead in LEADS
    )
    (tmp_path / "rules" / "a.yaml").write_text("rules:\n" + body, "utf-8")
    return tmp_path


def env() -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith("HANCHOT_") or k == "HANCHOT_LANG"}
    e["HANCHOT_LANG"] = "en"
    return e


def run_once(site: Path, *more: str, now: str = NOW) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "from engine.cli import main; main()", "run", "--once"]
        + ["--now", now, *more],
        cwd=site,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )


def recipients(server) -> list[str]:
    return sorted(r for m in server.received for r in m.rcpt_tos)


EXPECTED = sorted(
    f"{a}@example.gov.vn" for a in ["vanphong", "thanhtra", "qltm-xnk", "qlcn", "qlnl", "ktat-mt"]
)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_cycle_leaves_nothing_claimed_and_loses_or_repeats_nothing(
    tmp_path, slow_server, sig
):
    site = make_site(tmp_path, slow_server.port)
    proc = run_once(site)
    end = time.monotonic() + 60
    while not slow_server.received and time.monotonic() < end:
        time.sleep(0.05)
    assert slow_server.received, "the first message never arrived"
    proc.send_signal(sig)  # the second message is in flight now
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    sent = len(slow_server.received)
    assert 1 <= sent < len(LEADS)
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "left pending" in line]
    assert lines == [
        f"stopped by signal {sig.name}: {len(LEADS) - sent} reminder(s) left pending "
        "for the next run"
    ]
    # Nothing stays claimed: the very next run (same instant) sends the rest at once.
    again = run_once(site)
    out2, err2 = again.communicate(timeout=60)
    assert again.returncode == 0, err2
    assert recipients(slow_server) == EXPECTED  # each exactly once, across both runs
    third = run_once(site)
    third.communicate(timeout=60)
    assert third.returncode == 0
    assert recipients(slow_server) == EXPECTED


def test_exit_codes_for_cron(tmp_path, smtp_server):
    site = make_site(tmp_path, smtp_server.port)
    # 3: something deferred (a 4xx answer)
    smtp_server.handler.reject["qlcn@example.gov.vn"] = "451 4.3.0 try again later"
    p = run_once(site)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 3, err
    assert "1 deferred" in out
    # 4: something failed for good (5xx), also when something else was deferred
    smtp_server.handler.reject["qlcn@example.gov.vn"] = "451 4.3.0 try again later"
    smtp_server.handler.reject["qlnl@example.gov.vn"] = "550 5.1.1 no such user"
    p = run_once(site, now="2022-08-01T08:00:00+07:00")  # 1 wd after: lead, head, oversight
    out, err = p.communicate(timeout=60)
    assert p.returncode == 4, err
    # 0: everything due was sent
    smtp_server.handler.reject.clear()
    p = run_once(site, now="2022-08-01T09:00:00+07:00")  # the 451 row, after its backoff
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert out.startswith("1 messages sent")


def test_log_lines_carry_the_utc_offset(tmp_path, smtp_server):
    site = make_site(tmp_path, smtp_server.port)
    p = run_once(site)
    _out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    logged = [line for line in err.splitlines() if " INFO " in line]
    assert logged
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d INFO ")
    assert all(stamp.match(line) for line in logged), logged
