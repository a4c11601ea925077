"""Benchmark of ``hanchot event import`` (issue 11 item 1), against a baseline measured
in the same run.

Run:  .venv/bin/python bench/bench_import.py [--events 100000] [--runs 3] [--no-write]

It writes a site (the repository's ``config/`` with a SQLite database in a temporary
directory, and one rule like the repository's event rule:
``{after: publication, in: 30 days, when: {delegated: false}}``) and a CSV of
``--events`` events (``type,id,date,delegated``; dates spread over 2022, every fourth
one delegated), then times, each as a whole process on a fresh database, ``runs`` times:

1. *baseline, the same rows*: a plain ``python`` that reads the same CSV with the
   ``csv`` module and stores what ``hanchot event import`` stores for it, with the
   ``sqlite3`` module alone: the event rows and one audit row per event (the JSON of
   the event, by ``json.dumps``), each table created with the same columns, unique
   constraint and index, one ``executemany`` each, one commit. The floor for storing
   those rows, and the baseline of the target;
2. *baseline, the event rows alone*: the same without the audit rows. Shown for
   comparison: hanchot cannot come within 2× of it, since starting the process and
   loading SQLAlchemy, Typer and the configuration (about 0.4 s) plus inserting the
   event and audit rows at the driver's speed (about 0.35 s) already take twice its
   time, before a single value is checked;
3. *events*: ``hanchot event import FILE`` with materialisation stubbed out
   (``engine.store.materialise.materialise`` replaced by a no-op in that process):
   reading and validating the file, creating the store (migrations), the events and
   their audit rows; target: at least 0.5× the speed of baseline 1 (time ≤ 2× its);
4. *end to end*: ``hanchot event import FILE`` as an admin runs it, deadlines included;
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

#: Both baselines' start: a table of the same shape as ``events`` (columns, unique key).
_EVENTS_TABLE = """\
import csv, json, sqlite3, sys
c = sqlite3.connect(sys.argv[2])
c.execute(
    "CREATE TABLE events (id INTEGER PRIMARY KEY, type VARCHAR(100) NOT NULL,"
    " event_id VARCHAR(200) NOT NULL, date DATE NOT NULL, attrs JSON NOT NULL,"
    " recorded_by VARCHAR(200) NOT NULL, recorded_at DATETIME NOT NULL,"
    " CONSTRAINT uq_events_type_id UNIQUE (type, event_id))"
)
"""

#: The plain insert of the event rows alone: a table of the same shape as ``events``.
BASELINE_EVENTS = (
    _EVENTS_TABLE
    + """\
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
)

#: The plain insert of the same rows as hanchot: the events and one audit row each,
#: tables of the same shape as ``events`` and ``audit_log`` (with its index).
BASELINE = (
    _EVENTS_TABLE
    + """\
c.execute(
    "CREATE TABLE audit_log (id INTEGER PRIMARY KEY, at DATETIME NOT NULL,"
    " actor VARCHAR(200) NOT NULL, action VARCHAR(50) NOT NULL, entity VARCHAR(20) NOT NULL,"
    " entity_id INTEGER, rule_id VARCHAR(200), \\"key\\" VARCHAR(200), old JSON, new JSON,"
    " reason TEXT, os_user VARCHAR(200))"
)
c.execute("CREATE INDEX ix_audit_entity_id ON audit_log (entity, id)")
AT = "2022-12-31 01:00:00.000000"
with open(sys.argv[1], encoding="utf-8", newline="") as f:
    r = csv.reader(f)
    next(r)
    rows = [(t, i, d, {"delegated": g}) for t, i, d, g in r]
c.executemany(
    "INSERT INTO events (id, type, event_id, date, attrs, recorded_by, recorded_at)"
    " VALUES (?, ?, ?, ?, ?, 'bench', ?)",
    ((k, t, i, d, json.dumps(a), AT) for k, (t, i, d, a) in enumerate(rows, 1)),
)
c.executemany(
    "INSERT INTO audit_log (at, actor, action, entity, entity_id, old, new, reason, os_user)"
    " VALUES (?, 'bench', 'record', 'event', ?, 'null', ?, 'event recorded', 'bench')",
    (
        (AT, k, json.dumps({"type": t, "id": i, "date": d, "attrs": a}))
        for k, (t, i, d, a) in enumerate(rows, 1)
    ),
)
c.commit()
"""
)

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
    out: dict[str, list[tuple[float, float]]] = {
        "baseline": [],
        "baseline_events": [],
        "events": [],
        "end_to_end": [],
    }
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
            out["baseline_events"].append(
                _timed([PY, "-c", BASELINE_EVENTS, str(csv_file), str(base_db)], root, fresh)
            )
            out["events"].append(_timed([PY, "-c", EVENTS_ONLY, *args], root, fresh))
            out["end_to_end"].append(_timed([HANCHOT, *args], root, fresh))
    return out


def rows(runs: int = 3, n: int = 100_000) -> list[dict]:
    """The figures as dicts for an aggregating benchmark: what, hanchot, baseline (seconds,
    minimum of ``runs``), ratio (the baseline's time over hanchot's: hanchot's speed as a
    fraction of the plain insert's), target, ok (the ratio of the minimums and the
    ratio of the medians both meet the target), and the medians and CPU times."""
    t = measure(n, runs)
    wall = {k: [w for w, _ in v] for k, v in t.items()}
    cpu = {k: [c for _, c in v] for k, v in t.items()}
    big = n >= 1_000_000
    specs = [
        (
            f"`hanchot event import`, {n:,} events, without materialisation",
            "events",
            "baseline",
            "≥ 0.5×",
        ),
        (
            f"`hanchot event import`, {n:,} events × 1 rule, end to end",
            "end_to_end",
            "baseline",
            "< 60 s" if big else "",
        ),
        (
            f"the same, {n:,} events without materialisation, against the event rows alone "
            "(no audit rows)",
            "events",
            "baseline_events",
            "",
        ),
    ]
    out = []
    for what, key, base, target in specs:
        r = {
            "what": what,
            "hanchot": min(wall[key]),
            "baseline": min(wall[base]),
            "baseline_what": "same rows" if base == "baseline" else "event rows alone",
            "median": statistics.median(wall[key]),
            "baseline_median": statistics.median(wall[base]),
            # CPU seconds (user + system): less disturbed by other work on a shared machine.
            "hanchot_cpu": min(cpu[key]),
            "baseline_cpu": min(cpu[base]),
            "target": target,
            "runs": runs,
        }
        r["ratio"] = r["baseline"] / r["hanchot"]
        r["ratio_median"] = r["baseline_median"] / r["median"]
        r["ratio_cpu"] = r["baseline_cpu"] / r["hanchot_cpu"]
        if target.startswith("≥"):
            r["ok"] = r["ratio"] >= 0.5 and r["ratio_median"] >= 0.5
        elif target:
            r["ok"] = r["hanchot"] < 60
        else:
            r["ok"] = None
        out.append(r)
    return out


def table(found: list[dict]) -> str:
    lines = [
        "| what | hanchot min (median); CPU | baseline: plain sqlite3 insert of … min "
        "(median); CPU | ratio of minimums (of medians; of CPU) | target |",
        "|---|---|---|---|---|",
    ]
    for r in found:
        verdict = "" if r["ok"] is None else (" OK" if r["ok"] else " MISSED")
        lines.append(
            f"| {r['what']} | {r['hanchot']:.2f} s ({r['median']:.2f} s); {r['hanchot_cpu']:.2f} s "
            f"| {r['baseline_what']}: {r['baseline']:.2f} s ({r['baseline_median']:.2f} s); "
            f"{r['baseline_cpu']:.2f} s "
            f"| {r['ratio']:.2f}× ({r['ratio_median']:.2f}×; {r['ratio_cpu']:.2f}×) "
            f"| {r['target']}{verdict} |"
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
