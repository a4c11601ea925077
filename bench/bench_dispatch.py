"""Benchmark of the dispatch cycle (issue 4 targets), printed against baselines.

* 100,000 open deadlines and 1,000,000 outbox rows in SQLite: one cycle that finds
  nothing due (target <= 50 ms);
* 5,000 digests to a local aiosmtpd server over one reused connection (target
  >= 150 messages/s), baseline: raw smtplib sending ready-made messages to the
  same server;
* resident memory of the process (target <= 150 MB).

Run: ``.venv/bin/python bench/bench_dispatch.py [--deadlines N] [--outbox N] [--mails N]``.
"""

from __future__ import annotations

import argparse
import resource
import smtplib
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "integration")]

import subprocess  # noqa: E402

from conftest import free_port  # noqa: E402
from store_helpers import make_config  # noqa: E402

from engine.core.config import SmtpSettings  # noqa: E402
from engine.store import db  # noqa: E402
from engine.store.dispatch import dispatch, transport_factory  # noqa: E402
from engine.store.tables import deadlines, outbox  # noqa: E402

NOW = datetime(2022, 7, 28, 1, 0, tzinfo=UTC)


def fill(sessions, n_deadlines: int, n_outbox: int) -> None:
    later = NOW + timedelta(days=30)
    chunk = 20_000
    with sessions() as s, s.begin():
        for start in range(0, n_deadlines, chunk):
            s.execute(
                deadlines.insert(),
                [
                    {
                        "rule_id": f"rule-{i % 100}",
                        "key": f"k{i}",
                        "title": f"Nhiệm vụ {i}",
                        "due": date(2022, 8, 29),
                        "lead": "van-phong",
                        "coordinating": [],
                        "status": "open",
                        "created_at": NOW,
                        "updated_at": NOW,
                        "next_send_at": later,
                        "materialised_through": NOW,
                    }
                    for i in range(start, min(start + chunk, n_deadlines))
                ],
            )
        for start in range(0, n_outbox, chunk):
            s.execute(
                outbox.insert(),
                [
                    {
                        "deadline_id": i % n_deadlines + 1,
                        "stage": f"stage-{i // n_deadlines}",
                        "repeat": 0,
                        "recipient": f"u{i % 7}@example.gov.vn",
                        "send_at": NOW - timedelta(days=1),
                        "state": "sent",
                        "attempts": 1,
                        "next_attempt_at": NOW - timedelta(days=1),
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                    for i in range(start, min(start + chunk, n_outbox))
                ],
            )


def queue_mails(sessions, n: int) -> None:
    with sessions() as s, s.begin():
        s.execute(
            outbox.insert(),
            [
                {
                    "deadline_id": i + 1,
                    "stage": "due",
                    "repeat": 0,
                    "recipient": f"nguoi-nhan-{i}@example.gov.vn",
                    "recipient_name": "Văn phòng Sở",
                    "send_at": NOW,
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": NOW,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i in range(n)
            ],
        )


def baseline_smtplib(host: str, port: int, n: int) -> float:
    msgs = []
    for i in range(n):
        m = EmailMessage()
        m["From"] = "nhachan@example.gov.vn"
        m["To"] = f"nguoi-nhan-{i}@example.gov.vn"
        m["Subject"] = "[Nhắc hạn] 1 việc sắp đến hạn"
        m.set_content("Nhiệm vụ ... hạn Thứ Sáu, 29/07/2022\n" * 20)
        msgs.append(m)
    t0 = time.perf_counter()
    with smtplib.SMTP(host, port) as smtp:
        for m in msgs:
            smtp.send_message(m)
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--deadlines", type=int, default=100_000)
    ap.add_argument("--outbox", type=int, default=1_000_000)
    ap.add_argument("--mails", type=int, default=5_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hanchot-bench-"))
    port = free_port()
    # The SMTP server runs in its own process (aiosmtpd's Sink handler) so this
    # process's memory is the engine's alone.
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ]
    )
    for _ in range(100):
        try:
            smtplib.SMTP("127.0.0.1", port).quit()
            break
        except OSError:
            time.sleep(0.1)
    try:
        smtp = SmtpSettings(host="127.0.0.1", port=port, security="none", timeout=10)
        config = make_config(tmp, smtp=smtp, rules=(), admin_email=None)
        engine = db.make_engine(config.settings.database)
        db.migrate(engine)
        sessions = db.session_factory(engine)
        t0 = time.perf_counter()
        fill(sessions, args.deadlines, args.outbox)
        print(
            f"filled {args.deadlines:,} deadlines, {args.outbox:,} outbox rows "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        transports = transport_factory(config.settings)
        times = []
        for k in range(20):
            t0 = time.perf_counter()
            r = dispatch(config, sessions, transports, NOW + timedelta(seconds=k))
            times.append((time.perf_counter() - t0) * 1000)
            assert r.digests_sent == 0
        idle = statistics.median(times)
        print(
            f"nothing-due cycle: median {idle:.1f} ms, max {max(times):.1f} ms  "
            f"(target <= 50 ms) {'OK' if idle <= 50 else 'MISSED'}"
        )

        queue_mails(sessions, args.mails)
        t0 = time.perf_counter()
        r = dispatch(config, sessions, transports, NOW + timedelta(minutes=1))
        rate = r.digests_sent / (time.perf_counter() - t0)
        print(
            f"hanchot: {r.digests_sent:,} digests at {rate:.0f} messages/s over "
            f"one SMTP connection (target >= 150/s) "
            f"{'OK' if rate >= 150 else 'MISSED'}"
        )
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        base = baseline_smtplib("127.0.0.1", port, args.mails)
        print(f"baseline raw smtplib, same server: {base:.0f} messages/s")
        print(
            f"peak resident memory of this process: {rss:.0f} MB (target <= 150 MB) "
            f"{'OK' if rss <= 150 else 'MISSED'}"
        )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
