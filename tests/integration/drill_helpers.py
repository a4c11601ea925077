"""Building blocks of the fault drills: a PostgreSQL server the test may stop and
start, a site (config + rules) generated for many units and deadlines, an SMTP
handler that can be slow, and ``hanchot`` processes."""

from __future__ import annotations

import asyncio
import email
import email.policy
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from tests.integration.conftest import RecordingHandler


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unavailable(reason: str):
    """Skip without PostgreSQL on a developer's machine; fail in CI (see .ci/run)."""
    if os.environ.get("HANCHOT_REQUIRE_POSTGRES"):
        pytest.fail(f"PostgreSQL required (HANCHOT_REQUIRE_POSTGRES): {reason}")
    pytest.skip(reason)


class PgServer:
    """A throwaway PostgreSQL cluster (Debian's initdb/pg_ctl) that a drill may stop
    and start again on the same port and data directory."""

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            unavailable("no PostgreSQL binaries (apt-get install postgresql)")
        self.bindir = os.path.dirname(bins[-1])
        as_root = os.geteuid() == 0
        if as_root and shutil.which("runuser") is None:
            unavailable("running as root without runuser")
        self.prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
        self.base = tempfile.mkdtemp(prefix="hanchot-drill-pg-")
        if as_root:
            shutil.chown(self.base, "postgres")
        self.data = os.path.join(self.base, "data")
        self.port = free_port()
        try:
            self._pg("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8")
        except subprocess.CalledProcessError as e:
            unavailable(f"initdb failed: {e.stderr.decode(errors='replace')}")
        self.start()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, tool: str, *args: str) -> None:
        subprocess.run(
            self.prefix + [f"{self.bindir}/{tool}", *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg("pg_ctl", "-D", self.data, "-l", f"{self.base}/log", "-o", opts, "-w", "start")

    def stop(self) -> None:
        self._pg("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def close(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.base, ignore_errors=True)

    def fresh_database(self, name: str) -> str:
        import sqlalchemy as sa

        engine = sa.create_engine(self.url)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        engine.dispose()
        return self.url.rsplit("/", 1)[0] + "/" + name


@dataclass
class SlowHandler(RecordingHandler):
    """Records every message, then waits ``delay`` seconds before answering 250."""

    delay: float = 0.0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        answer = await super().handle_DATA(server, session, envelope)
        if self.delay:
            await asyncio.sleep(self.delay)
        return answer


def write_site(
    root: Path,
    *,
    units: int,
    per_unit: int,
    due: date,
    smtp_port: int | None = None,
    database: str | None = None,
) -> Path:
    """``units`` units ``u000``.., each leading ``per_unit`` rules due on ``due``; one
    stage ``due`` to the lead, so each unit gets one digest of ``per_unit`` items."""
    (root / "config").mkdir(parents=True)
    (root / "rules").mkdir()
    lines = ["units:"]
    for i in range(units):
        lines.append(f"  u{i:03}: {{name: Phòng số {i}, email: u{i:03}@example.gov.vn}}")
    (root / "config" / "units.yaml").write_text("\n".join(lines) + "\n", "utf-8")
    (root / "config" / "escalation.yaml").write_text(
        "policies:\n  default:\n    - {at: due, notify: [lead]}\n", "utf-8"
    )
    settings = [
        "timezone: Asia/Ho_Chi_Minh",
        'send_time: "08:00"',
        'sender: {name: "Hệ thống nhắc hạn", email: nhachan@example.gov.vn}',
    ]
    if smtp_port is not None:
        settings.append(f"smtp: {{host: 127.0.0.1, port: {smtp_port}, timeout: 10}}")
    if database is not None:
        settings.append(f"database: {database}")
    (root / "config" / "settings.yaml").write_text("\n".join(settings) + "\n", "utf-8")
    rules = ["rules:"]
    for i in range(units):
        for k in range(per_unit):
            rules.append(
                f"  - {{id: viec-{i:03}-{k:03}, title: Việc {k} của phòng {i}, "
                f"lead: u{i:03}, due: {{on: {due.isoformat()}}}}}"
            )
    (root / "rules" / "drill.yaml").write_text("\n".join(rules) + "\n", "utf-8")
    return root


def hanchot_env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("HANCHOT_") or k == "HANCHOT_LANG"
    }
    env.update(HANCHOT_POLL_SECONDS="0.5", HANCHOT_RETRY_MAX_SECONDS="2")
    env.update(extra)
    return env


def hanchot(site: Path, *args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "from engine.cli import main; main()", *args],
        cwd=site,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )


def healthz(port: int) -> tuple[int, dict] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
    except OSError:
        return None


def wait_for(predicate, timeout: float = 60.0, step: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return False


def stop(proc: subprocess.Popen, timeout: float = 30) -> tuple[str, str]:
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


def message_ids(handler: RecordingHandler) -> list[tuple[str, str]]:
    """(recipient, Message-ID) of every message the server received, in order."""
    out = []
    for r in handler.received:
        msg = email.message_from_bytes(r.content, policy=email.policy.default)
        for rcpt in r.rcpt_tos:
            out.append((rcpt, msg["Message-ID"]))
    return out
