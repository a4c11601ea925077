"""Benchmark of the portal (issue 8 targets), printed against a baseline of the same run.

* 100,000 deadlines in SQLite (three years, 9 units, every status);
* the recipient's list (``/viec``) and the overview (``/tong-quan``) rendered in
  <= 50 ms server time (median), against a bare ``SELECT`` of the same rows;
* resident memory of a web process serving them (target <= 120 MB).

"Server time" is measured around the ASGI call (Starlette's TestClient, no network).
Run: ``.venv/bin/python bench/bench_portal.py [--deadlines N] [--runs N]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

import sqlalchemy as sa  # noqa: E402

from engine.loader.config import load_config  # noqa: E402
from engine.store import db  # noqa: E402
from engine.store.tables import deadlines  # noqa: E402

NOW = datetime(2022, 8, 15, 2, 0, tzinfo=UTC)  # Mon 15/08/2022 09:00 in Vietnam
UNITS = ["van-phong", "thanh-tra", "qltm-xnk", "qlcn", "qlnl", "ktat-mt", "ban-giam-doc"]
STATUSES = ["open"] * 6 + ["done"] * 3 + ["waived", "reported"]


def fill(sessions, n: int) -> None:
    rnd = random.Random(8)
    start = date(2021, 1, 1)
    rows = []
    for i in range(n):
        status = rnd.choice(STATUSES)
        due = start + timedelta(days=rnd.randrange(3 * 365))
        closed = datetime.combine(due, datetime.min.time(), UTC) + timedelta(
            days=rnd.randrange(-10, 10)
        )
        rows.append(
            {
                "rule_id": f"rule-{i % 500}",
                "key": f"k{i}",
                "title": f"Nhiệm vụ kiểm soát thủ tục hành chính số {i}",
                "plan_item": str(i % 30 + 1),
                "due": due,
                "lead": rnd.choice(UNITS),
                "coordinating": [rnd.choice(UNITS)] if i % 3 else ["phong-chuyen-mon"],
                "status": status,
                "evidence": "12/BC" if status == "done" else None,
                "closed_at": closed if status in ("done", "waived") else None,
                "reported_at": closed if status == "reported" else None,
                "created_at": NOW,
                "updated_at": NOW,
            }
        )
    with sessions() as s, s.begin():
        for k in range(0, n, 20_000):
            s.execute(deadlines.insert(), rows[k : k + 20_000])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--deadlines", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()

    from starlette.testclient import TestClient

    from engine.web.app import create_app
    from engine.web.overview import add_overview
    from engine.web.tokens import Signer
    from engine.web.views import quarter_bounds

    tmp = Path(tempfile.mkdtemp(prefix="hanchot-bench-portal-"))
    url = f"sqlite:///{tmp / 'h.db'}"
    engine = db.make_engine(url)
    db.migrate(engine)
    sessions = db.session_factory(engine)
    t = time.perf_counter()
    fill(sessions, args.deadlines)
    import sqlite3

    raw = sqlite3.connect(tmp / "h.db")  # as a long-running store is: checkpointed, analysed
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.execute("ANALYZE")
    raw.close()
    print(f"stored {args.deadlines:,} deadlines in {time.perf_counter() - t:.1f} s")

    cfg = load_config(ROOT / "config", ROOT / "rules", clock_year=2022)
    signer = Signer("bench-secret-" * 4)
    app = create_app(cfg, sessions, signer=signer, clock=lambda: NOW, data_dir=tmp)
    add_overview(app, cfg, sessions, lambda: NOW)
    client = TestClient(app, base_url="http://bench")

    def signed_in(address: str) -> TestClient:
        c = TestClient(app, base_url="http://bench", follow_redirects=False)
        c.get(f"/a/{signer.action_token(address, None, 'list', NOW)}")
        return c

    unit = signed_in("qlcn@example.gov.vn")
    director = signed_in("giamdoc@example.gov.vn")
    q_start, q_end = quarter_bounds(date(2022, 8, 15))

    def bare_list():
        with sessions() as s:
            s.execute(
                sa.select(deadlines).where(deadlines.c.due >= q_start, deadlines.c.due <= q_end)
            ).all()

    def page(c, path):
        def go():
            r = c.get(path)
            assert r.status_code == 200, r.status_code
            return r

        return go

    size_list = len(page(unit, "/viec")().content)
    size_over = len(page(director, "/tong-quan?ky=2022-Q3")().content)
    # Interleaved, so that load from other processes hits every figure alike.
    fns = {
        "base": bare_list,
        "list": page(unit, "/viec"),
        "over": page(director, "/tong-quan?ky=2022-Q3"),
        "list_dir": page(director, "/viec"),
    }
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for f in fns.values():
        f()
    for _ in range(args.runs):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            samples[k].append((time.perf_counter() - t) * 1000)
    base, t_list, t_over, t_list_dir = (
        statistics.median(samples[k]) for k in ("base", "list", "over", "list_dir")
    )
    print(f"{'baseline: bare SELECT of the quarter (6 columns)':<45} {base:7.1f} ms")
    for name, ms, size in (
        ("recipient's list (qlcn)", t_list, size_list),
        ("recipient's list (director: every unit)", t_list_dir, None),
        ("overview 2022-Q3 (director)", t_over, size_over),
    ):
        extra = f", page {size / 1024:.0f} KB" if size else ""
        verdict = "ok" if ms <= 50 else "OVER 50 ms"
        print(f"{name:<45} {ms:7.1f} ms  ({ms / base:4.1f}x baseline{extra})  {verdict}")
    del client

    # Resident memory of a separate web process serving the same store.
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from datetime import datetime, UTC
        from pathlib import Path
        from starlette.testclient import TestClient
        from engine.loader.config import load_config
        from engine.store import db
        from engine.web.app import create_app
        from engine.web.overview import add_overview
        from engine.web.tokens import Signer
        NOW = datetime.fromisoformat({NOW.isoformat()!r})
        cfg = load_config(Path({str(ROOT / "config")!r}), Path({str(ROOT / "rules")!r}),
                          clock_year=2022)
        sessions = db.session_factory(db.make_engine({url!r}))
        signer = Signer("bench-secret-" * 4)
        app = create_app(cfg, sessions, signer=signer, clock=lambda: NOW, data_dir=Path("."))
        add_overview(app, cfg, sessions, lambda: NOW)
        for who in ("qlcn@example.gov.vn", "giamdoc@example.gov.vn"):
            c = TestClient(app, base_url="http://bench")
            c.get("/a/" + signer.action_token(who, None, "list", NOW))
            for _ in range(5):
                c.get("/viec"); c.get("/tong-quan?ky=2022-Q3")
        def peak():  # VmHWM, not ru_maxrss: that one keeps the parent's peak across exec
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
        pages = peak()
        c.get("/tong-quan.xlsx?ky=2022-Q3")
        print(pages, peak())
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    if out.returncode:
        print(out.stderr)
        return
    rss, with_xlsx = map(int, out.stdout.strip().splitlines()[-1].split())
    print(f"web process peak RSS serving the pages {rss} MB  ({'ok' if rss <= 120 else 'OVER'})")
    print(f"  ... after also building the quarter's XLSX {with_xlsx} MB")


if __name__ == "__main__":
    main()
