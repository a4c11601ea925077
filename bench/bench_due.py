"""Benchmark of due-date arithmetic (issue: working calendar).

Run:  .venv/bin/python bench/bench_due.py [N]      (default N = 200000)

On N random (start, span) pairs, starts 2015–2035, spans 1–400, it prints, in one run:

1. the engine in-process: working-day spans, and mixed spans (days, working days,
   weeks, months), in µs per computation;
2. the baseline: ``holidays``' own ``get_nth_working_day`` for the same working-day
   spans (it walks day by day), and for calendar-day spans a day-by-day roll loop
   over the same ``holidays`` object; the ratio engine/baseline;
3. ``hanchot due --stdin`` end to end (a subprocess, start-up included), lines/s.

Results are checked to agree with the baseline, so the figures compare equal work.
Targets (issue 2): ≥ 30× the baseline for working-day spans and ≤ 1 µs per
computation in-process; ``--stdin`` ≥ 100,000 lines/s.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import holidays  # noqa: E402

from engine.core.calendar import WorkingCalendar, vietnam_year  # noqa: E402
from engine.core.spans import Span, Unit, add_span  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    rng = random.Random(20220730)
    first = date(2015, 1, 1)
    days = (date(2035, 12, 31) - first).days
    starts = [first + timedelta(days=rng.randrange(days)) for _ in range(n)]
    counts = [rng.randint(1, 400) for _ in range(n)]
    units = [rng.choice(list(Unit)) for _ in range(n)]

    # No calendar.yaml extras and no shipped corrections: the baseline knows only what
    # the holidays package knows.
    cal = WorkingCalendar(source=lambda year: vietnam_year(year, swaps=()))
    cal.add_working_days(date(2035, 12, 31), 400)  # warm: every year computed once
    cal.add_working_days(first, 1)

    t = time.perf_counter()
    engine_wd = [cal.add_working_days(s, k) for s, k in zip(starts, counts, strict=True)]
    t_wd = time.perf_counter() - t

    spans = [Span(k, u) for k, u in zip(counts, units, strict=True)]
    shipped = WorkingCalendar()  # as the CLI runs: with the shipped corrections
    shipped.add_working_days(date(2035, 12, 31), 400)
    shipped.add_working_days(first, 1)
    t = time.perf_counter()
    engine_mixed = [add_span(shipped, s, sp) for s, sp in zip(starts, spans, strict=True)]
    t_mixed = time.perf_counter() - t

    vn = holidays.country_holidays("VN", years=range(2014, 2039))
    m = min(n, 20_000)  # the baseline is slow: time a sample, report per computation
    t = time.perf_counter()
    base_wd = [vn.get_nth_working_day(s, k) for s, k in zip(starts[:m], counts[:m], strict=True)]
    t_base_wd = (time.perf_counter() - t) / m * n
    assert base_wd == engine_wd[:m], "engine and holidays disagree on working-day spans"

    def roll_loop(d: date) -> date:
        while not vn.is_working_day(d):
            d += timedelta(days=1)
        return d

    t = time.perf_counter()
    base_days = [
        roll_loop(s + timedelta(days=k)) for s, k in zip(starts[:m], counts[:m], strict=True)
    ]
    t_base_days = (time.perf_counter() - t) / m * n
    t = time.perf_counter()
    engine_days = [
        add_span(cal, s, Span(k, Unit.DAYS)) for s, k in zip(starts, counts, strict=True)
    ]
    t_days = time.perf_counter() - t
    assert base_days == engine_days[:m], "engine and the roll loop disagree on day spans"

    words = {
        Unit.DAYS: "days",
        Unit.WORKING_DAYS: "working days",
        Unit.WEEKS: "weeks",
        Unit.MONTHS: "months",
    }
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False, encoding="utf-8") as f:
        for s, sp in zip(starts, spans, strict=True):
            f.write(f"{s.isoformat()}\t{sp.n} {words[sp.unit]}\n")
        path = f.name
    empty_config = tempfile.mkdtemp()
    exe = [sys.executable, "-m", "engine.cli", "due", "--stdin", "--config", empty_config]
    try:
        with open(path, "rb") as inp:
            t = time.perf_counter()
            out = subprocess.run(exe, stdin=inp, capture_output=True, check=True, cwd=ROOT).stdout
            t_cli = time.perf_counter() - t
    finally:
        os.unlink(path)
    got = out.decode().split()
    assert got == [d.isoformat() for d in engine_mixed], "--stdin disagrees with in-process"

    us = 1e6 / n
    print(f"pairs: {n:,} (starts 2015–2035, spans 1–400)")
    print(f"engine, working-day spans:   {t_wd * us:8.3f} µs/computation")
    print(f"engine, calendar-day spans:  {t_days * us:8.3f} µs/computation")
    print(f"engine, mixed units:         {t_mixed * us:8.3f} µs/computation")
    print(
        f"baseline holidays.get_nth_working_day: {t_base_wd * us:8.3f} µs/computation "
        f"(timed on {m:,})"
    )
    print(f"baseline day-by-day roll loop (days):  {t_base_days * us:8.3f} µs/computation")
    print(f"ratio working days (baseline/engine):  {t_base_wd / t_wd:8.1f}×  (target ≥ 30×)")
    print(f"ratio calendar days (baseline/engine): {t_base_days / t_days:8.1f}×")
    print(
        f"hanchot due --stdin end to end: {t_cli:.2f} s, {n / t_cli:,.0f} lines/s "
        "(target ≥ 100,000)"
    )


if __name__ == "__main__":
    main()
