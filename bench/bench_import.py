"""Benchmark of ``hanchot event import`` (issue 11 item 1), against a baseline measured
in the same run.

Run:  .venv/bin/python bench/bench_import.py [--events 100000] [--runs 3] [--no-write]

It writes a site (the repository's ``config/`` with a SQLite database in a temporary
directory, and one rule like the repository's event rule:
``{after: publication, in: 30 days, when: {delegated: false}}``) and a CSV of
``--events`` events (``type,id,date,delegated``; dates spread over 2022, every fourth
one delegated), then times, each as a whole process on a fresh database, ``runs`` times:

1. *baseline*: a plain ``python`` that reads the same CSV with the ``csv`` module and
   inserts the same rows with one ``sqlite3`` ``executemany`` into a table of the same
   shape as ``events`` (same columns, same unique constraint), then commits: the floor
   for storing those rows;
2. *events*: ``hanchot event import FILE`` with materialisation stubbed out
   (``engine.store.materialise.materialise`` replaced by a no-op in that process):
   reading and validating the file, the existence check, the events and their audit
   rows; target: at least 0.5× the baseline's speed (time ≤ 2× the baseline's);
3. *end to end*: ``hanchot event import FILE`` as an admin runs it, deadlines included;
   target for 1,000,000 events: under 60 s.

Figures are the minimum and the median of the wall times of the runs (the machine may
be shared: the minimum is the one least disturbed), and the minimum CPU time (user +
system) of each process, with the ratio of those too. They are printed and appended to
``bench/results/<UTC date>-import.md`` unless ``--no-write``. :func:`rows` gives them
to an aggregating benchmark as dicts (keys what, hanchot, baseline, ratio, target, ok).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
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
NOW = "2022-12-31T08:00:00+07:00"

RULES = """\
rules:
  - id: bench-quy-trinh
    title: Trình Chủ tịch UBND tỉnh phê duyệt quy trình nội bộ giải quyết TTHC (bench)
    lead: van-phong
    due: {after: publication, in: 30 days, when: {delegated: false}}
"""

#: The plain insert: the same rows, a table of the same shape as ``events``.
BASELINE = """\
import csv, json, sqlite3, sys
c = sqlite3.connect(sys.argv[2])
c.execute(
    "CREATE TABLE events (id INTEGER PRIMARY KEY, type VARCHAR(100) NOT NULL,"
    " event_id VARCHAR(200) NOT NULL, date DATE NOT NULL, attrs JSON NOT NULL,"
    " recorded_by VARCHAR(200) NOT NULL, recorded_at DATETIME NOT NULL,"
    " CONSTRAINT uq_events_type_id UNIQUE (type, event_id))"
)
with open(sys.argv[1], encoding="utf-8", newline="") as f:
    r = csv.reader(f)
    next(r)
    c.executemany(
        "INSERT INTO events (type, event_id, date, attrs, recorded_by, recorded_at)"
        " VALUES (?, ?, ?, ?, 'bench', '2022-12-31 01:00:00.000000')",
        ((t, i, d, json.dumps({"delegated": g})) for t, i, d, g in r),
    )
c.commit()
"""

#: ``hanchot`` with materialisation stubbed out: the event half on its own.
EVENTS_ONLY = """\
import sys
import engine.store.materialise as m
m.materialise = lambda *a, **k: m.MaterialiseReport()
from engine.cli import main
sys.argv[0] = "hanchot"
main()
"""


def write_site(root: Path) -> Path:
    """A site under ``root``: the repository's config, a SQLite database, one rule."""
    shutil.copytree(REPO / "config", root / "config")
    (root / "rules").mkdir()
    (root / "rules" / "bench.yaml").write_text(RULES, "utf-8")
    settings = root / "config" / "settings.yaml"
    kept = [
        line
        for line in settings.read_text("utf-8").splitlines()
        if not line.startswith(("database:", "mail_dir:"))
    ]
    kept += [f"database: sqlite:///{root / 'hanchot.db'}", f"mail_dir: {root / 'mail'}"]
    settings.write_text("\n".join(kept) + "\n", "utf-8")
    return root


def write_csv(path: Path, n: int) -> Path:
    """``n`` events over 2022 (a few hundred a day), every fourth one delegated."""
    first = date(2022, 1, 1)
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("type,id,date,delegated\n")
        for k in range(n):
            d = first + timedelta(days=k * 365 // n)
            f.write(f"publication,qd-{k:07d},{d.isoformat()},{'true' if k % 4 == 3 else 'false'}\n")
    return path


def _timed(cmd: list[str], cwd: Path, before=None) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of the process ``cmd``."""
    if before:
        before()
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - used.ru_utime) + (after.ru_stime - used.ru_stime)


def measure(n: int, runs: int) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) seconds of each of the three processes, ``runs`` times each,
    interleaved."""
    out: dict[str, list[tuple[float, float]]] = {"baseline": [], "events": [], "end_to_end": []}
    with tempfile.TemporaryDirectory(prefix="hanchot-bench-import-") as tmp:
        root = write_site(Path(tmp))
        csv_file = write_csv(root / "events.csv", n)
        db = root / "hanchot.db"
        base_db = root / "baseline.db"

        def fresh() -> None:
            for p in (db, base_db):
                for q in (p, p.with_name(p.name + "-wal"), p.with_name(p.name + "-shm")):
                    q.unlink(missing_ok=True)

        args = ["event", "import", str(csv_file), "--now", NOW, "--by", "bench"]
        args += ["--config", str(root / "config"), "--rules", str(root / "rules")]
        # Warm the page cache and the calendar cache once, untimed.
        _timed([PY, "-c", BASELINE, str(csv_file), str(base_db)], root, fresh)
        _timed([PY, "-c", EVENTS_ONLY, *args], root, fresh)
        for _ in range(runs):
            out["baseline"].append(
                _timed([PY, "-c", BASELINE, str(csv_file), str(base_db)], root, fresh)
            )
            out["events"].append(_timed([PY, "-c", EVENTS_ONLY, *args], root, fresh))
            out["end_to_end"].append(_timed([HANCHOT, *args], root, fresh))
    return out


def rows(runs: int = 3, n: int = 100_000) -> list[dict]:
    """The figures as dicts for an aggregating benchmark: what, hanchot, baseline (seconds,
    minimum of ``runs``), ratio (the baseline's time over hanchot's: hanchot's speed as a
    fraction of the plain insert's), target, ok."""
    t = measure(n, runs)
    wall = {k: [w for w, _ in v] for k, v in t.items()}
    cpu = {k: [c for _, c in v] for k, v in t.items()}
    base = min(wall["baseline"])
    ev = min(wall["events"])
    e2e = min(wall["end_to_end"])
    out = [
        {
            "what": f"`hanchot event import`, {n:,} events, without materialisation",
            "hanchot": ev,
            "baseline": base,
            "ratio": base / ev,
            "target": "≥ 0.5×",
            "ok": base / ev >= 0.5,
        },
        {
            "what": f"`hanchot event import`, {n:,} events × 1 rule, end to end",
            "hanchot": e2e,
            "baseline": base,
            "ratio": base / e2e,
            "target": "< 60 s" if n >= 1_000_000 else "",
            "ok": e2e < 60 if n >= 1_000_000 else None,
        },
    ]
    for r, key in zip(out, ("events", "end_to_end"), strict=True):
        r["median"] = statistics.median(wall[key])
        r["baseline_median"] = statistics.median(wall["baseline"])
        # CPU seconds (user + system): less disturbed by other work on a shared machine.
        r["hanchot_cpu"] = min(cpu[key])
        r["baseline_cpu"] = min(cpu["baseline"])
        r["ratio_cpu"] = r["baseline_cpu"] / r["hanchot_cpu"]
        r["runs"] = runs
    return out


def table(found: list[dict]) -> str:
    lines = [
        "| what | hanchot min (median); CPU | plain sqlite3 insert min (median); CPU "
        "| ratio (CPU) | target |",
        "|---|---|---|---|---|",
    ]
    for r in found:
        verdict = "" if r["ok"] is None else (" OK" if r["ok"] else " MISSED")
        lines.append(
            f"| {r['what']} | {r['hanchot']:.2f} s ({r['median']:.2f} s); {r['hanchot_cpu']:.2f} s "
            f"| {r['baseline']:.2f} s ({r['baseline_median']:.2f} s); {r['baseline_cpu']:.2f} s "
            f"| {r['ratio']:.2f}× ({r['ratio_cpu']:.2f}×) | {r['target']}{verdict} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    found = rows(args.runs, args.events)
    text = table(found)
    print(text)
    if not args.no_write:
        today = datetime.now(UTC).date().isoformat()
        out = REPO / "bench" / "results" / f"{today}-import.md"
        out.parent.mkdir(exist_ok=True)
        load = os.getloadavg()[0]
        with out.open("a", encoding="utf-8") as f:
            f.write(
                f"\n# bench/bench_import.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
                f"`{' '.join(sys.argv)}` on {platform.node() or 'this machine'}, "
                f"{os.cpu_count()} cores, load average {load:.1f} at the end (shared "
                f"machine): min (median) of {args.runs} runs, Python "
                f"{platform.python_version()}.\n\n{text}\n"
            )
        print(f"appended to {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
