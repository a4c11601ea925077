"""Benchmark of fast commands (issue 13), each against a baseline measured in the same run.

Run:  .venv/bin/python bench/bench_fast.py [--runs 20] [--reps 3] [--deadlines 100000]
                                           [--million] [--no-write]

Every figure is a whole ``hanchot`` process, as an admin or cron runs it: the minimum
of ``reps`` × ``runs`` runs (the machine is shared and noisy; the minimum is the
figure least disturbed by other load). Rows:

1. ``hanchot due 2022-03-11 "30 days"`` vs ``python -c 'import holidays'`` and
   ``python -c pass`` (target ≤ 150 ms);
2. ``hanchot check`` on the repository vs the same (target ≤ 300 ms);
3. ``hanchot plan --format json`` of the repository's 2022 rules vs libyaml loading the
   same files plus ``json.dumps(indent=2)`` of them;
4. ``hanchot run --once`` with nothing due over ``--deadlines`` deadlines (target
   ≤ 0.3 s at 100,000; with ``--million`` also 1,000,000, target ≤ 1 s) vs a fresh
   process asking SQLite the indexed "anything due?" questions;
5. ``hanchot due --stdin`` of 200,000 lines end to end vs the ``holidays`` package's
   own loop, warm, in-process (timed on 20,000 lines, scaled).

The figures are printed and appended to ``bench/results/<date>-fast.md`` (the date of
the run, UTC) unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HANCHOT = str(BIN / "hanchot")
PY = sys.executable
NOW = "2022-01-03T08:00:00+07:00"

BENCH_RULES = """\
rules:
  - id: bench-quy-trinh
    title: Trình phê duyệt quy trình nội bộ giải quyết TTHC (bench)
    lead: qlcn
    due: {after: publication, in: 30 days}
"""

ANYTHING_DUE = """\
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
now = "2022-01-03 01:00:00.000000"
c.execute("SELECT 1 FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? LIMIT 1",
          (now,)).fetchall()
c.execute("SELECT 1 FROM deadlines WHERE status = 'open' AND next_send_at <= ? LIMIT 1",
          (now,)).fetchall()
c.execute("SELECT min(next_send_at) FROM deadlines WHERE status = 'open'").fetchall()
"""

PLAN_BASELINE = """\
import json, sys, yaml
from pathlib import Path
data = [yaml.load(p.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        for d in sys.argv[1:] for p in sorted(Path(d).glob("*.yaml"))]
sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str))
"""


#: (command, min wall ms, min CPU ms) of every :func:`timed` call: CPU time (user +
#: system of the child) is less disturbed than wall time when other work shares the cores.
MEASURED: list[tuple[str, float, float]] = []


def timed(
    cmd: list[str],
    runs: int,
    reps: int,
    cwd: Path,
    stdin: Path | None = None,
    env_extra: dict[str, str] | None = None,
) -> float:
    """Minimum wall time in ms of ``reps`` × ``runs`` runs of ``cmd`` (exit 0 required)."""
    import resource

    best = best_cpu = float("inf")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANCHOT_")}
    env.update(env_extra or {})
    for _ in range(reps):
        for _ in range(runs):
            fin = stdin.open("rb") if stdin else subprocess.DEVNULL
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            r = subprocess.run(
                cmd, cwd=cwd, env=env, stdin=fin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            best = min(best, time.perf_counter() - t)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            best_cpu = min(best_cpu, cpu)
            if stdin:
                fin.close()
            if r.returncode != 0:
                raise SystemExit(f"{cmd}: exit {r.returncode}\n{r.stderr.decode()[-2000:]}")
    shown = " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))[:90]
    if env_extra:
        shown = " ".join(f"{k}={v}" for k, v in env_extra.items()) + " " + shown
    MEASURED.append((shown, best * 1000, best_cpu * 1000))
    return best * 1000


def fill_events(db: Path, n: int) -> None:
    """``n`` publication events dated 01/03/2022 onwards (due dates 2022–2023, all after
    the first reminder of the default policy as of ``NOW``)."""
    first = date(2022, 3, 1)
    at = datetime(2022, 1, 2, tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(db) as c:
        c.executemany(
            "INSERT INTO events (type, event_id, date, attrs, recorded_by, recorded_at) "
            "VALUES ('publication', ?, ?, '{}', 'bench', ?)",
            ((f"qd-{i}", (first + timedelta(days=i % 600)).isoformat(), at) for i in range(n)),
        )


def run_once_rows(n: int, runs: int, reps: int) -> list[tuple]:
    site = Path(tempfile.mkdtemp(prefix="hanchot-bench-fast-"))
    try:
        shutil.copytree(REPO / "config", site / "config")
        (site / "rules").mkdir()
        (site / "rules" / "bench.yaml").write_text(BENCH_RULES, encoding="utf-8")
        once = [HANCHOT, "run", "--once", "--now", NOW]
        timed(once, 1, 1, site)  # creates the database
        db = site / "var" / "hanchot.db"
        fill_events(db, n)
        t = time.perf_counter()
        timed(once, 1, 1, site)
        first = time.perf_counter() - t
        with sqlite3.connect(db) as c:
            count = c.execute("SELECT count(*) FROM deadlines").fetchone()[0]
            pending = c.execute("SELECT count(*) FROM outbox").fetchone()[0]
        assert count == n and pending == 0, (count, pending)
        # The materialising run already recorded what lets the next ones take the
        # shortcut (engine/quick_once.py): the first run after it is timed apart.
        t = time.perf_counter()
        timed(once, 1, 1, site)
        settle = time.perf_counter() - t
        ms = timed(once, runs, reps, site)
        base = timed([PY, "-c", ANYTHING_DUE, str(db)], runs, reps, site)
        # The full cycle (no shortcut), as before issue 13's shortcut: for comparison.
        full = timed(once, max(1, runs // 2), reps, site, env_extra={"HANCHOT_SHORTCUTS": "off"})
        target = 300 if n <= 100_000 else 1000
        return [
            (
                f"`hanchot run --once`, nothing due, {n:,} deadlines",
                ms,
                f'fresh process, sqlite3, indexed "anything due?" queries: {base:.0f} ms',
                ms / base,
                f"≤ {target} ms",
                ms <= target,
            ),
            (
                f"(the same, full cycle: `HANCHOT_SHORTCUTS=off`: {full:.0f} ms; the first run "
                f"after materialising: {settle * 1000:.0f} ms)",
            ),
            (f"(first run: materialises the {n:,} deadlines: {first:.1f} s)",),
        ]
    finally:
        shutil.rmtree(site, ignore_errors=True)


def stdin_row(n: int) -> tuple:
    rng = random.Random(20220730)
    first = date(2015, 1, 1)
    days = (date(2035, 12, 31) - first).days
    pairs = [(first + timedelta(days=rng.randrange(days)), rng.randint(1, 400)) for _ in range(n)]
    tmp = Path(tempfile.mkdtemp(prefix="hanchot-bench-stdin-"))
    try:
        src = tmp / "in.tsv"
        with src.open("w", encoding="utf-8") as f:
            for s, k in pairs:
                f.write(f"{s.isoformat()}\t{k} working days\n")
        ms = timed([HANCHOT, "due", "--stdin"], 1, 3, REPO, stdin=src)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    import holidays

    vn = holidays.country_holidays("VN", years=range(2014, 2039))
    m = 20_000
    t = time.perf_counter()
    for s, k in pairs[:m]:
        vn.get_nth_working_day(s, k)
    base = (time.perf_counter() - t) / m * n * 1000
    return (
        f"`hanchot due --stdin`, {n:,} lines, end to end",
        ms,
        f"`holidays` get_nth_working_day loop, warm, in-process: {base / 1000:.1f} s",
        ms / base,
        "",
        None,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--deadlines", type=int, default=100_000)
    ap.add_argument("--million", action="store_true", help="also 1,000,000 deadlines (slow)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    runs, reps = args.runs, args.reps

    def row(label, ms, base_label, base, target=None):
        return (
            label,
            ms,
            base_label,
            ms / base,
            f"≤ {target} ms" if target else "",
            None if target is None else ms <= target,
        )

    # Warm: the calendar cache under var/ (created as `hanchot run` would) and the .pyc files.
    (REPO / "var").mkdir(mode=0o700, exist_ok=True)
    # Byte-code as an installed package has it: with PYTHONDONTWRITEBYTECODE set (as on
    # the CI machine) an editable install recompiles hanchot's modules in every process.
    subprocess.run([PY, "-m", "compileall", "-q", "engine", "notifications"], cwd=REPO, check=True)
    timed([HANCHOT, "due", "2022-03-11", "30 days"], 1, 1, REPO)
    py_pass = timed([PY, "-c", "pass"], runs, reps, REPO)
    py_hol = timed([PY, "-c", "import holidays"], runs, reps, REPO)
    base_both = f"`import holidays` {py_hol:.0f} ms; `python -c pass` {py_pass:.0f} ms"
    rows = []
    due = timed([HANCHOT, "due", "2022-03-11", "30 days"], runs, reps, REPO)
    rows.append(row('`hanchot due 2022-03-11 "30 days"`', due, base_both, py_hol, 150))
    chk = timed([HANCHOT, "check"], runs, reps, REPO)
    rows.append(row("`hanchot check`, the repo", chk, base_both, py_hol, 300))
    plan = [
        HANCHOT,
        "plan",
        "--format",
        "json",
        "--from",
        "2022-01-01",
        "--to",
        "2022-12-31",
        "--no-store",
    ]
    pl = timed(plan, runs, reps, REPO)
    base_plan = timed([PY, "-c", PLAN_BASELINE, "config", "rules"], runs, reps, REPO)
    rows.append(
        row(
            "`hanchot plan --format json`, the repo's rules",
            pl,
            f"libyaml load of the same files + `json.dumps`: {base_plan:.0f} ms",
            base_plan,
        )
    )
    sizes = [args.deadlines] + ([1_000_000] if args.million else [])
    for n in sizes:
        rows.extend(run_once_rows(n, max(3, runs // 4), reps))
    rows.append(stdin_row(200_000))

    head = "| command | hanchot | baseline | ratio | target |\n|---|---|---|---|---|"
    lines = [head]
    for r in rows:
        if len(r) == 1:
            lines.append(f"| {r[0]} | | | | |")
            continue
        label, ms, base_label, ratio, target, ok = r
        verdict = "" if ok is None else (" OK" if ok else " MISSED")
        # ratio: hanchot's time over the baseline's (below 1: hanchot is faster)
        shown = f"{ratio:.1f}×" if ratio >= 1 else f"1/{1 / ratio:.0f} ({1 / ratio:.0f}× faster)"
        lines.append(f"| {label} | {ms:.0f} ms | {base_label} | {shown} | {target}{verdict} |")
    cpu = ["", "| process | min wall | min CPU (user + sys) |", "|---|---|---|"]
    cpu += [f"| `{c}` | {w:.0f} ms | {u:.0f} ms |" for c, w, u in MEASURED if u > 0]
    table = "\n".join(lines + cpu)
    print(table)
    if not args.no_write:
        today = datetime.now(UTC).date().isoformat()
        out = REPO / "bench" / "results" / f"{today}-fast.md"
        out.parent.mkdir(exist_ok=True)
        # Appended: earlier runs of the day stay in the file for comparison.
        earlier = out.read_text(encoding="utf-8") + "\n" if out.exists() else ""
        stamp = datetime.now(UTC).strftime("%H:%M UTC")
        out.write_text(
            earlier + f"# bench/bench_fast.py, {today} {stamp}\n\n"
            f"`{' '.join(sys.argv)}` on {platform.node() or 'this machine'}, "
            f"{os.cpu_count()} cores (shared with other work: min of {reps} × {runs} runs; "
            f"run --once rows {reps} × {max(3, runs // 4)}), Python "
            f"{platform.python_version()}.\n\n{table}\n",
            encoding="utf-8",
        )
        print(f"written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
