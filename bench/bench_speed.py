"""Issue 11's table in one command: every row against its baseline measured in the same run.

* ``hanchot event import`` of 100,000 events (CSV) vs a plain sqlite3 executemany of the
  same rows, the events and their audit rows, and for comparison of the event rows
  alone (``bench_import.rows``);
* the real ``hanchot run`` process with 100,000 deadlines stored (``--million``:
  1,000,000 too): start to ready, resident memory, idle CPU (``bench_daemon.rows``);
* 5,000 digests to a local aiosmtpd over one connection vs raw ``smtplib`` sending
  ready-made messages to the same server (``bench_dispatch.rows``).

Run: ``.venv/bin/python bench/bench_speed.py [--runs 3] [--idle 60] [--million]``. Prints
one Markdown table and appends it to ``bench/results/DATE-speed.md``. The materialisation
rows (1,000,000 deadlines on SQLite and PostgreSQL) are ``bench/bench_ops.py``'s.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_daemon  # noqa: E402
import bench_dispatch  # noqa: E402
import bench_import  # noqa: E402


def fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return "" if v is None else str(v)


def verdict(ok) -> str:
    return "" if ok is None else ("OK" if ok else "MISSED")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--idle", type=float, default=60.0)
    ap.add_argument("--million", action="store_true", help="the daemon rows at 1,000,000 too")
    args = ap.parse_args()
    table: list[dict] = []
    parts = [
        ("import", lambda: bench_import.rows(args.runs)),
        ("daemon", lambda: bench_daemon.rows(args.runs, idle=args.idle)),
        ("mail", lambda: bench_dispatch.rows(args.runs)),
    ]
    if args.million:
        parts.append(
            ("daemon 1M", lambda: bench_daemon.rows(args.runs, n=1_000_000, idle=args.idle))
        )
    for name, run in parts:
        print(f"... {name}", file=sys.stderr, flush=True)
        table.extend(run())
    load = os.getloadavg()
    head = (
        f"# bench/bench_speed.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
        f"`{' '.join(sys.argv)}` on {platform.node()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {load[0]:.1f} {load[1]:.1f}; "
        f"{args.runs} runs per row.\n\n"
        "| what | hanchot | baseline | ratio | ratio of medians | target | ok |\n"
        "|---|---|---|---|---|---|---|\n"
    )
    lines = "".join(
        "| "
        + " | ".join(
            fmt(r.get(k))
            for k in ("what", "hanchot", "baseline", "ratio", "ratio_median", "target")
        )
        + f" | {verdict(r.get('ok'))} |\n"
        for r in table
    )
    text = head + lines
    print(text)
    out = HERE / "results" / f"{datetime.now(UTC):%Y-%m-%d}-speed.md"
    with out.open("a", encoding="utf-8") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
