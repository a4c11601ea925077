"""Daemon start-up, memory and idle benchmark (issue 11 item 2, issue 9 item 8).

Builds a store of 100,000 deadlines (``--million``: 1,000,000) directly with SQL —
10 ``after`` rules x N/10 events, every deadline open, nothing due for a month, one
sent outbox row per deadline — and the materialisation fingerprint that matches it
(computed with the functions of :mod:`engine.store.materialise`), so a start finds
"nothing changed". Then it measures the real ``hanchot run --http`` process (the
``.venv/bin/hanchot`` entry point, a separate process, with psutil):

- start -> ready, 3 runs (min and median). *Ready* is the first ``GET /healthz``
  that answers 200: the configuration is loaded, the database migrated, the lock
  taken, the deadlines materialised (or the fingerprint found unchanged), the first
  dispatch cycle scheduled and the scheduler about to run (target <= 2 s);
- resident memory (RSS) at ready and after ``--idle`` seconds idle (target <= 150 MB);
- CPU seconds used over those first idle seconds (psutil: the start-up's tail, whose
  first checks are full ones, shown for reference); then, for the next ``--idle``
  seconds, the steady state to the nanosecond from ``/proc/PID/task/*/schedstat``
  (target ~ 0: at most 0.05 s a minute), next to the floor of any poller on this
  machine: a bare Python process (SQLAlchemy imported) whose thread runs one SQLite
  transaction on the same store every 30 s, measured the same way over the same seconds.

Baselines, measured in the same run: a process that only imports ``engine.cli``
(start time and RSS), and for the idle CPU the time of the indexed "anything due?"
queries (:func:`engine.store.dispatch.next_wake`) on the same store, once per 30-s
poll.

Run: ``nice .venv/bin/python bench/bench_daemon.py [--million | --only-million]
[--postgres] [--idle 60] [--runs 3]`` (about 2 minutes at 100,000; ``--million``
about 5 more; ``--postgres`` adds 100,000 on a throwaway server from Debian's
``postgresql`` package). Results are appended to
``bench/results/<UTC date>-daemon.md``. ``rows(runs)`` gives the figures to an
aggregating benchmark as dicts ``{what, hanchot, baseline, ratio, target, ok}``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import psutil  # noqa: E402
from bench_ops import RULES, write_site  # noqa: E402

from engine.store import db  # noqa: E402
from engine.store.tables import deadlines, events, meta, outbox  # noqa: E402

HANCHOT = Path(sys.executable).with_name("hanchot")
CHUNK = 50_000


def sqlite_url(root: Path) -> str:
    # In var/ beside config/, as the embedded default: the calendar cache lives there too.
    return f"sqlite:///{root / 'var' / 'hanchot.db'}"


def build_store(root: Path, n: int, now: datetime, url: str | None = None) -> Path:
    """A site under ``root`` whose store (SQLite in ``var/``, or ``url``) holds ``n``
    open deadlines, ``n`` sent outbox rows and a materialisation fingerprint that
    matches its configuration."""
    from engine.loader.config import load_config
    from engine.store import materialise as m

    url = url or sqlite_url(root)
    site = write_site(root, url)
    (root / "var").mkdir(mode=0o700)
    engine = db.make_engine(url)
    db.migrate(engine)
    n_events = n // RULES
    wake = now + timedelta(days=30)
    with engine.begin() as conn:
        for s in range(0, n_events, CHUNK):
            conn.execute(
                events.insert(),
                [
                    {
                        "type": "publication",
                        "event_id": f"qd-{i:07}",
                        "date": (now - timedelta(days=1 + i % 300)).date(),
                        "attrs": {},
                        "recorded_by": "bench",
                        "recorded_at": now,
                    }
                    for i in range(s, min(s + CHUNK, n_events))
                ],
            )
        for s in range(0, n, CHUNK):
            conn.execute(
                deadlines.insert(),
                [
                    {
                        "rule_id": f"sau-cong-bo-{i % RULES}",
                        "key": f"qd-{i // RULES:07}",
                        "title": f"Việc {i % RULES} sau công bố",
                        "due": (now + timedelta(days=31 + i % 200)).date(),
                        "lead": "van-phong",
                        "coordinating": [],
                        "status": "open",
                        "created_at": now,
                        "updated_at": now,
                        "next_send_at": wake + timedelta(minutes=i % 1000),
                        "materialised_through": now,
                    }
                    for i in range(s, min(s + CHUNK, n))
                ],
            )
        for s in range(0, n, CHUNK):
            conn.execute(
                outbox.insert(),
                [
                    {
                        "deadline_id": i + 1,
                        "due": date(2026, 1, 1),
                        "stage": "bench",
                        "repeat": 0,
                        "recipient": "vanphong@example.gov.vn",
                        "send_at": now - timedelta(days=1),
                        "state": "sent",
                        "attempts": 1,
                        "next_attempt_at": now - timedelta(days=1),
                        "message_id": f"<bench-{i}@hanchot>",
                        "sent_at": now - timedelta(days=1),
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(s, min(s + CHUNK, n))
                ],
            )
    # As the daemon loads it (cwd = the site, the default ./config and ./rules): each
    # rule's fingerprint includes the path of its file as given.
    here = Path.cwd()
    os.chdir(site)
    try:
        cfg = load_config(Path("config"), Path("rules"), clock_year=now.year)
    finally:
        os.chdir(here)
    start, end = m.window(cfg, now)
    covered = (start.year, end.year)
    sessions = db.session_factory(engine)
    with sessions() as s, s.begin():
        m._store_fingerprint(
            s,
            {
                "format": m.FINGERPRINT_FORMAT,
                "inputs": m.inputs_fingerprint(s, cfg, start, end, covered),
                "years": list(covered),
                "rules": {r.id: m.rule_fingerprint(r) for r in cfg.rules},
            },
        )
        s.execute(meta.insert().values(key="ladder", value=m.ladder_fingerprint(cfg)))
    with sessions() as s, s.begin():  # the daemon's start must find nothing to do
        report = m.materialise(s, cfg, now)
        assert report.skipped and not report.rescheduled, report
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return site


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANCHOT_")}
    env["HANCHOT_LANG"] = "en"
    return env


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_daemon(site: Path, *, timeout: float = 300) -> tuple[subprocess.Popen, int, float]:
    """Start ``hanchot run --http``; (process, port, seconds until /healthz said 200)."""
    port = _free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(HANCHOT), "run", "--http", f"127.0.0.1:{port}"],
        cwd=site,
        env=_env(),
        stderr=subprocess.DEVNULL,
    )
    while not _healthy(port):
        if proc.poll() is not None:
            raise RuntimeError(f"hanchot run exited with {proc.returncode} before ready")
        if time.perf_counter() - t0 > timeout:
            proc.kill()
            raise RuntimeError("hanchot run not ready in time")
        time.sleep(0.01)
    return proc, port, time.perf_counter() - t0


def stop_daemon(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def bare_import() -> tuple[float, float]:
    """(seconds, RSS MB) of a process that only imports engine.cli."""
    t0 = time.perf_counter()
    p = subprocess.Popen(
        [sys.executable, "-c", "import engine.cli, sys; print(flush=True); sys.stdin.readline()"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    p.stdout.readline()  # the import is done
    took = time.perf_counter() - t0
    rss = psutil.Process(p.pid).memory_info().rss / 2**20
    p.communicate(b"\n")
    return took, rss


def due_queries_ms(url: str) -> float:
    """Median ms of the indexed "anything due?" look-ups (next_wake), 20 runs."""
    from engine.store.dispatch import next_wake

    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        with sessions() as s:
            next_wake(s)
        times.append((time.perf_counter() - t0) * 1000)
    engine.dispose()
    return statistics.median(times)


def measure(site: Path, url: str, n: int, runs: int, idle: float) -> list[dict]:
    base_s, base_mb = min(bare_import() for _ in range(3))
    due_ms = due_queries_ms(url)
    starts = []
    for k in range(runs):
        proc, _port, took = start_daemon(site)
        starts.append(took)
        if k < runs - 1:
            stop_daemon(proc)
    floor = None
    try:
        p = psutil.Process(proc.pid)
        rss_ready = p.memory_info().rss / 2**20
        c0 = p.cpu_times()
        time.sleep(idle)
        c1 = p.cpu_times()
        rss_idle = p.memory_info().rss / 2**20
        # Steady state (the first check, its worker thread's start, is behind us), to
        # the nanosecond, next to the floor of any process that polls the same store.
        if url.startswith("sqlite:///"):
            floor = subprocess.Popen([sys.executable, "-c", FLOOR, url[len("sqlite:///") :]])
            time.sleep(1)
        e0 = exact_cpu(proc.pid), floor and exact_cpu(floor.pid)
        time.sleep(idle)
        e1 = exact_cpu(proc.pid), floor and exact_cpu(floor.pid)
    finally:
        stop_daemon(proc)
        if floor is not None:
            floor.kill()
            floor.wait()
    cpu = (c1.user + c1.system) - (c0.user + c0.system)
    steady = e1[0] - e0[0] if e0[0] is not None and e1[0] is not None else None
    floor_cpu = e1[1] - e0[1] if floor is not None and e0[1] is not None else None
    dialect = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    label = f"{n:,} deadlines, {dialect}"
    ready_target = 2.0 if n <= 100_000 else None

    def row(what, value, baseline, target, ok):
        ratio = value / baseline if baseline else None
        return {
            "what": what,
            "hanchot": value,
            "baseline": baseline,
            "ratio": ratio,
            "target": target,
            "ok": ok,
        }

    return [
        row(
            f"start -> ready, min of {runs} ({label}, s)",
            min(starts),
            base_s,
            ready_target,
            None if ready_target is None else min(starts) <= ready_target,
        ),
        row(
            f"start -> ready, median of {runs} ({label}, s)",
            statistics.median(starts),
            base_s,
            ready_target,
            None if ready_target is None else statistics.median(starts) <= ready_target,
        ),
        row(f"RSS at ready ({label}, MB)", rss_ready, base_mb, 150.0, rss_ready <= 150),
        row(f"RSS after {idle:g} s idle ({label}, MB)", rss_idle, base_mb, 150.0, rss_idle <= 150),
        row(
            f"CPU over the first {idle:g} s after ready ({label}, s; psutil): the start-up's "
            "tail, its first checks are full ones",
            cpu,
            # one round of the "anything due?" look-ups per 30-s poll
            max(1.0, idle / 30) * due_ms / 1000,
            None,
            None,
        ),
        row(
            f"CPU over the next {idle:g} s idle, steady ({label}, s; schedstat); baseline: "
            "a bare Python process with one SQLite transaction per 30 s",
            steady,
            floor_cpu,
            0.05 * idle / 60,
            None if steady is None else steady <= 0.05 * idle / 60,
        ),
    ]


#: The floor of an idle poller: a Python process with SQLAlchemy loaded (a heap like
#: a daemon's) whose thread wakes every 30 s for one SQLite transaction.
FLOOR = """\
import sqlite3, sys, threading, time
import sqlalchemy
c = sqlite3.connect(sys.argv[1], check_same_thread=False, isolation_level=None)
def loop():
    while True:
        time.sleep(30)
        c.execute("BEGIN IMMEDIATE")
        c.execute("SELECT min(next_send_at) FROM deadlines").fetchall()
        c.execute("COMMIT")
threading.Thread(target=loop, daemon=True).start()
time.sleep(86400)
"""


def exact_cpu(pid: int) -> float | None:
    """CPU seconds of every live thread of ``pid``, to the nanosecond (Linux
    ``/proc/PID/task/*/schedstat``; psutil's figures count 10-ms clock ticks, which
    a process that wakes briefly on a timer is charged unevenly); None elsewhere."""
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
    except OSError:
        return None
    return total / 1e9


_BUILT: dict[tuple[int, str | None], Path] = {}


def rows(
    runs: int = 3, *, n: int = 100_000, idle: float = 60.0, postgres: str | None = None
) -> list[dict]:
    """The figures at ``n`` deadlines (SQLite, or the empty PostgreSQL database at the
    URL ``postgres``), for an aggregating benchmark. Baselines: the bare ``import
    engine.cli`` process (start s, RSS MB) and, for the idle CPU, the time of the
    indexed "anything due?" queries once per 30-s poll (s)."""
    if (n, postgres) not in _BUILT:
        tmp = Path(tempfile.mkdtemp(prefix="hanchot-bench-daemon-"))
        build_store(tmp, n, datetime.now(UTC), postgres)
        _BUILT[n, postgres] = tmp
    return measure(_BUILT[n, postgres], postgres or sqlite_url(_BUILT[n, postgres]), n, runs, idle)


def _fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "OK" if x else "MISSED"
    return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--million", action="store_true", help="also 1,000,000 deadlines")
    ap.add_argument("--only-million", action="store_true")
    ap.add_argument("--idle", type=float, default=60.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument(
        "--postgres", action="store_true", help="also 100,000 on a throwaway PostgreSQL"
    )
    args = ap.parse_args()
    now = datetime.now(UTC)
    out = ROOT / "bench" / "results" / f"{now:%Y-%m-%d}-daemon.md"
    out.parent.mkdir(exist_ok=True)
    load = os.getloadavg()
    lines = [
        f"\n## bench_daemon {now:%Y-%m-%d %H:%M} UTC",
        "",
        f"`bench/bench_daemon.py {' '.join(sys.argv[1:])}`, {os.cpu_count()} cores "
        f"(shared; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}), "
        f"Python {sys.version.split()[0]}",
        "",
        "| what | hanchot | baseline | ratio | target | ok |",
        "|---|---|---|---|---|---|",
    ]
    sizes = [] if args.only_million else [100_000]
    if args.million or args.only_million:
        sizes.append(1_000_000)
    pg = None
    if args.postgres:
        sys.path.insert(0, str(ROOT / "tests" / "integration"))
        from drill_helpers import PgServer

        pg = PgServer()
    cases = [(n, None) for n in sizes]
    if pg is not None:
        cases.append((100_000, pg.fresh_database("bench_daemon")))
    try:
        for n, pg_url in cases:
            t0 = time.perf_counter()
            got = rows(args.runs, n=n, idle=args.idle, postgres=pg_url)
            print(f"{n:,}: built and measured in {time.perf_counter() - t0:.0f} s", flush=True)
            for r in got:
                line = "| " + " | ".join(_fmt(r[k]) if k != "what" else r[k] for k in r) + " |"
                lines.append(line)
                print(line, flush=True)
    finally:
        if pg is not None:
            pg.close()
    with open(out, "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    for site in _BUILT.values():  # 1,000,000 deadlines take 650 MB
        shutil.rmtree(site, ignore_errors=True)
    print(f"appended to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
