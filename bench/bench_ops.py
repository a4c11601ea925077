"""Operations benchmark (issue 9), each figure printed against a baseline measured in
the same run, and written to ``bench/results/ops-<UTC date>.txt``:

1. materialising 1,000,000 deadlines (100,000 events x 10 ``after`` rules) on SQLite
   and on PostgreSQL (target <= 20 s each); baseline: inserting the same rows with
   one bare executemany, the floor for storing them;
2. a cycle that finds nothing due over 1,000,000 open deadlines and 5,000,000 outbox
   rows on SQLite (target <= 50 ms), with the query plans showing the indexes used;
   baseline: one full count of the outbox (what the indexes avoid);
3. resident memory of ``hanchot run`` itself (a separate process, not this one) on
   that store of 1,000,000 deadlines (target <= 150 MB) and its CPU time while idle
   for 60 s (target ~ 0); baseline: a bare ``python -c 'import engine.cli'``.

Run: ``.venv/bin/python bench/bench_ops.py [--events 100000] [--rules 10] [--outbox 5000000]
[--idle 60] [--no-postgres | --postgres-only] [--materialise-only] [--repeat 1]``
(about 10-20 minutes at full size on 2 cores). ``--materialise-only`` measures item 1
alone, ``--repeat`` times each on a fresh database (min and median reported), with
the peak resident memory of the process while materialising.
PostgreSQL: a throwaway server from Debian's ``postgresql`` package.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import redirect_stdout
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

import psutil  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from engine.store import db  # noqa: E402
from engine.store.tables import deadlines, events, outbox  # noqa: E402

RULES = 10


def set_rules(n: int) -> None:
    global RULES
    RULES = n


def write_site(root: Path, database: str) -> Path:
    (root / "config").mkdir(parents=True)
    (root / "rules").mkdir()
    (root / "config" / "units.yaml").write_text(
        "units:\n  van-phong: {name: Văn phòng Sở, email: vanphong@example.gov.vn,"
        " head: {title: Chánh Văn phòng, email: cvp@example.gov.vn}}\n"
        "  thanh-tra: {name: Thanh tra Sở, email: thanhtra@example.gov.vn}\n"
        "roles: {oversight: thanh-tra}\n",
        "utf-8",
    )
    (root / "config" / "escalation.yaml").write_text(
        "policies:\n  default:\n"
        "    - {at: 5 working days before, notify: [lead]}\n"
        "    - {at: due, notify: [lead]}\n"
        "    - {at: 1 working day after, notify: [lead.head, oversight],"
        " repeat: 5 working days}\n",
        "utf-8",
    )
    (root / "config" / "settings.yaml").write_text(
        f"database: {database}\nmail_dir: {root / 'mail'}\n", "utf-8"
    )
    rules = ["rules:"]
    for k in range(RULES):
        rules.append(
            f"  - {{id: sau-cong-bo-{k}, title: Việc {k} sau công bố, lead: van-phong,"
            f" due: {{after: publication, in: {10 + 5 * k} days}}}}"
        )
    (root / "rules" / "r.yaml").write_text("\n".join(rules) + "\n", "utf-8")
    return root


def add_events(engine, n: int, now: datetime) -> None:
    # Spread over the ten months before now, inside the materialisation window.
    rows = [
        {
            "type": "publication",
            "event_id": f"qd-{i:06}",
            "date": (now - timedelta(days=1 + i % 300)).date(),
            "attrs": {},
            "recorded_by": "bench",
            "recorded_at": now,
        }
        for i in range(n)
    ]
    with engine.begin() as conn:
        for s in range(0, n, 20_000):
            conn.execute(events.insert(), rows[s : s + 20_000])


class PeakRss:
    """The resident memory of this process before and at its peak (MB) while the
    ``with`` block runs, sampled every 20 ms."""

    def __enter__(self):
        self.proc = psutil.Process()
        self.before = self.peak = self.proc.memory_info().rss / 2**20
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()
        return self

    def _watch(self) -> None:
        while not self.stop.wait(0.02):
            self.peak = max(self.peak, self.proc.memory_info().rss / 2**20)

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss / 2**20)


#: (RSS before, peak RSS) in MB of each materialisation measured.
peaks: list[tuple[float, float]] = []


def bench_materialise(url: str, site: Path, n_events: int, now: datetime) -> tuple[float, float]:
    """(seconds for materialise, seconds for the bare-insert baseline)."""
    from engine.loader.config import load_config
    from engine.store.materialise import materialise

    engine = db.make_engine(url)
    db.migrate(engine)
    add_events(engine, n_events, now)
    os.environ["HANCHOT_DATABASE_URL"] = url
    cfg = load_config(site / "config", site / "rules", clock_year=now.year)
    sessions = db.session_factory(engine)
    gc.collect()
    rss = PeakRss()
    t0 = time.perf_counter()
    with rss, sessions() as s, s.begin():
        report = materialise(s, cfg, now)
    took = time.perf_counter() - t0
    assert report.created == n_events * RULES, report
    peaks.append((rss.before, rss.peak))
    # baseline: the same number of rows in a scratch table, one executemany
    scratch = sa.Table(
        "bench_scratch",
        sa.MetaData(),
        *[c._copy() for c in deadlines.columns if c.name != "id"],
        sa.Column("id", sa.Integer, primary_key=True),
    )
    scratch.create(engine)
    rows = [
        {
            "rule_id": f"sau-cong-bo-{i % RULES}",
            "key": f"qd-{i // RULES:06}",
            "title": "Việc",
            "due": date(2026, 1, 1),
            "lead": "van-phong",
            "coordinating": [],
            "status": "open",
            "created_at": now,
            "updated_at": now,
            "next_send_at": now,
            "materialised_through": None,
        }
        for i in range(n_events * RULES)
    ]
    t0 = time.perf_counter()
    with engine.begin() as conn:
        for s in range(0, len(rows), 20_000):
            conn.execute(scratch.insert(), rows[s : s + 20_000])
    base = time.perf_counter() - t0
    scratch.drop(engine)
    engine.dispose()
    return took, base


def fill_outbox(engine, n: int, n_deadlines: int, now: datetime) -> None:
    with engine.begin() as conn:
        for start in range(0, n, 50_000):
            conn.execute(
                outbox.insert(),
                [
                    {
                        "deadline_id": i % n_deadlines + 1,
                        "stage": f"bench-{i // n_deadlines}",
                        "repeat": 0,
                        "recipient": f"u{i % 7}@example.gov.vn",
                        "send_at": now - timedelta(days=1),
                        "state": "sent",
                        "attempts": 1,
                        "next_attempt_at": now - timedelta(days=1),
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(start, min(start + 50_000, n))
                ],
            )


def plans(engine, now: datetime) -> list[str]:
    q = [
        "SELECT id FROM deadlines WHERE next_send_at <= :now AND status = 'open'",
        "SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= :now",
        "SELECT min(next_send_at) FROM deadlines",
        "SELECT min(next_attempt_at) FROM outbox WHERE state = 'pending'",
        "SELECT min(claimed_at) FROM outbox WHERE state = 'sending'",
    ]
    out = []
    with engine.connect() as conn:
        for sql in q:
            rows = conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + sql.replace(":now", "?"),
                (now.replace(tzinfo=None).isoformat(sep=" "),) if ":now" in sql else (),
            ).all()
            out.append(f"  {sql}\n    -> " + "; ".join(r[-1] for r in rows))
    return out


def bench_idle(url: str, site: Path, n_outbox: int, now: datetime) -> tuple[float, float, list]:
    from engine.loader.config import load_config
    from engine.store.dispatch import dispatch, transport_factory

    engine = db.make_engine(url)
    with engine.connect() as conn:
        n_dead = conn.execute(sa.select(sa.func.count()).select_from(deadlines)).scalar()
        # every deadline open, nothing due for a month: the idle case
        conn.execute(
            deadlines.update().values(
                next_send_at=now + timedelta(days=30), materialised_through=now
            )
        )
        conn.commit()
    fill_outbox(engine, n_outbox, n_dead, now)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    cfg = load_config(site / "config", site / "rules", clock_year=now.year)
    sessions = db.session_factory(engine)
    transports = transport_factory(cfg.settings)
    times = []
    for k in range(20):
        t0 = time.perf_counter()
        r = dispatch(cfg, sessions, transports, now + timedelta(seconds=k))
        times.append((time.perf_counter() - t0) * 1000)
        assert r.digests_sent == 0 and r.created == 0
    t0 = time.perf_counter()
    with engine.connect() as conn:
        conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar()
    base = (time.perf_counter() - t0) * 1000
    shown = plans(engine, now)
    engine.dispose()
    return statistics.median(times), base, shown


def bench_daemon(site: Path, idle: float) -> tuple[float, float, float, float]:
    """(RSS MB after start-up, CPU s while idle, baseline import RSS MB, start-up s)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANCHOT_")}
    # (ru_maxrss of a child would carry this big process's peak over exec: use psutil)
    bare = subprocess.Popen(
        [sys.executable, "-c", "import engine.cli, time; time.sleep(4)"], cwd=ROOT
    )
    time.sleep(3)
    base_mb = psutil.Process(bare.pid).memory_info().rss / 2**20
    bare.wait()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from engine.cli import main; main()", "run"],
        cwd=site,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in proc.stderr:
            if "hanchot daemon started" in line:
                break
        started = time.perf_counter() - t0
        p = psutil.Process(proc.pid)
        time.sleep(5)  # let the start-up's garbage go
        rss = p.memory_info().rss / 2**20
        c0 = p.cpu_times()
        time.sleep(idle)
        c1 = p.cpu_times()
        rss = max(rss, p.memory_info().rss / 2**20)
    finally:
        proc.terminate()
        proc.wait(60)
    return rss, (c1.user + c1.system) - (c0.user + c0.system), base_mb, started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--outbox", type=int, default=5_000_000)
    ap.add_argument("--idle", type=float, default=60.0)
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--postgres-only", action="store_true", help="only item 1 on PostgreSQL")
    ap.add_argument("--rules", type=int, default=RULES, help="'after' rules (deadlines per event)")
    ap.add_argument("--materialise-only", action="store_true", help="only item 1")
    ap.add_argument("--repeat", type=int, default=1, help="item 1 this many times, fresh each")
    args = ap.parse_args()
    set_rules(args.rules)
    now = datetime.now(UTC)
    tmp = Path(tempfile.mkdtemp(prefix="hanchot-bench-ops-"))
    n = args.events * RULES
    out = ROOT / "bench" / "results" / f"ops-{now:%Y-%m-%d}.txt"
    out.parent.mkdir(exist_ok=True)

    def say(text: str) -> None:  # each figure is kept as soon as it is measured
        print(text, flush=True)
        with open(out, "a", encoding="utf-8") as f:
            f.write(text + "\n")

    def verdict(took: float) -> str:  # the target is set for 1,000,000 deadlines
        return f" (target <= 20 s) {'OK' if took <= 20 else 'MISSED'}" if n == 10**6 else ""

    def materialise_runs(kind: str, make_url) -> tuple[str, Path]:
        """Item 1 ``--repeat`` times; returns the last store (the others are removed)."""
        took, base, last = [], [], None
        peaks.clear()
        for k in range(args.repeat):
            url, site = make_url(k)
            t, b = bench_materialise(url, site, args.events, now)
            took.append(t)
            base.append(b)
            if last is not None and kind == "SQLite":
                shutil.rmtree(last[1], ignore_errors=True)
            last = (url, site)
        mem = max(p for _, p in peaks), max(b for b, _ in peaks)
        runs = f"{len(took)} run{'s' if len(took) > 1 else ''}"
        say(
            f"materialise {n:,} deadlines ({args.events:,} events x {RULES} rules), {kind}, "
            f"{runs}: min {min(took):.1f} s, median {statistics.median(took):.1f} s"
            f"{verdict(min(took))}; baseline bare insert "
            f"of {n:,} rows in the same runs: min {min(base):.1f} s, median "
            f"{statistics.median(base):.1f} s; peak resident {mem[0]:.0f} MB "
            f"({mem[1]:.0f} MB before)"
        )
        return last

    version = sys.version.split()[0]
    say(f"\nhanchot bench_ops {now:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, Python {version}")
    say(f"command: bench/bench_ops.py {' '.join(sys.argv[1:])}".rstrip())
    say(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if not args.postgres_only:

        def sqlite_store(k: int) -> tuple[str, Path]:
            url = f"sqlite:///{tmp / f'sqlite{k}' / 'hanchot.db'}"
            return url, write_site(tmp / f"sqlite{k}", url)

        url, site = materialise_runs("SQLite", sqlite_store)
    if not args.postgres_only and not args.materialise_only:
        idle_ms, base_ms, shown = bench_idle(url, site, args.outbox, now)
        say(
            f"nothing-due cycle over {n:,} open deadlines and {args.outbox:,} outbox rows: "
            f"median {idle_ms:.1f} ms (target <= 50 ms) {'OK' if idle_ms <= 50 else 'MISSED'}; "
            f"baseline one full count of the outbox: {base_ms:.0f} ms"
        )
        say("query plans of the cycle's look-ups (SQLite):")
        for line in shown:
            say(line)
        rss, cpu, base_mb, started = bench_daemon(site, args.idle)
        say(
            f"hanchot run with {n:,} deadlines stored: started in {started:.1f} s, resident "
            f"{rss:.0f} MB (target <= 150 MB) {'OK' if rss <= 150 else 'MISSED'}; baseline "
            f"import of engine.cli: {base_mb:.0f} MB"
        )
        say(
            f"hanchot run idle for {args.idle:.0f} s: {cpu:.2f} s CPU "
            f"({100 * cpu / args.idle:.2f} % of one core; target ~ 0)"
        )
    if not args.no_postgres:
        sys.path.insert(0, str(ROOT / "tests" / "integration"))
        from drill_helpers import PgServer

        with redirect_stdout(io.StringIO()):
            pg = PgServer()
        try:

            def pg_store(k: int) -> tuple[str, Path]:
                pg_url = pg.fresh_database("bench")
                return pg_url, write_site(tmp / f"pg{k}", pg_url)

            materialise_runs("PostgreSQL", pg_store)
        finally:
            pg.close()
        os.environ.pop("HANCHOT_DATABASE_URL", None)
    os.environ.pop("HANCHOT_DATABASE_URL", None)
    print(f"figures appended to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
