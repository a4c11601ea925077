"""Benchmark of planning and checking (issue 3).

Run:  .venv/bin/python bench/bench_plan.py

Prints, for each case, the time and the deadlines per second:

1. ``plan`` over 10,000 rules × 1 year (a mix of every due-date form), in-process;
2. ``plan`` over 100,000 publication events × the 2 event rules of the 2022 plan;
3. ``hanchot check`` of 1,000 rule files (a copy of the repository's seven files,
   round-robin, rule ids made unique), as a user runs it (a new process).

Targets: ≥ 200,000 deadlines/s in-process; ``check`` of 1,000 files ≤ 2 s.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.core.calendar import WorkingCalendar  # noqa: E402
from engine.core.periods import Period  # noqa: E402
from engine.core.rules import After, Before, EndOf, Event, Every, On, RRule, Rule, plan  # noqa: E402
from engine.core.spans import Roll, parse_span  # noqa: E402
from engine.loader.config import load_config  # noqa: E402

START, END = date(2022, 1, 1), date(2022, 12, 31)


def mixed_rules(n: int, rng: random.Random) -> list[Rule]:
    forms = []
    for i in range(n):
        k = i % 10
        d = START + timedelta(days=rng.randrange(365))
        if k < 4:
            form = Every("month", rng.choice([1, 5, 15, 18, 25, 31, "last", "last working day"]))
        elif k < 6:
            form = Every("quarter", rng.randrange(1, 29), rng.randrange(1, 4))
        elif k == 6:
            form = RRule("FREQ=MONTHLY;BYMONTHDAY=25", START, END)
        elif k == 7:
            form = EndOf(Period(2022, rng.choice(["month", "quarter", "half", "year"]), 1))
        elif k == 8:
            form = On(d, rng.choice([None, Roll.BACKWARD]))
        else:
            form = Before(d)
        forms.append(Rule(id=f"r{i}", title=f"Rule {i}", lead="van-phong", due=form))
    return forms


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def report(name: str, count: int, seconds: float) -> None:
    print(f"{name}: {count:,} deadlines in {seconds:.3f} s = {count / seconds:,.0f} deadlines/s")


def main() -> None:
    rng = random.Random(2022)
    cal = WorkingCalendar()
    cal.is_working_day(date(2022, 6, 1))  # load 2021–2023 outside the timing

    rules = mixed_rules(10_000, rng)
    occ, s = timed(lambda: plan(rules, cal, START, END))
    report("plan, 10,000 rules x 1 year", len(occ), s)

    cfg = load_config(REPO / "config", REPO / "rules")
    event_rules = [
        r for r in cfg.rules if isinstance(r.due, After) and r.due.event == "publication"
    ]
    assert len(event_rules) == 2
    events = [
        Event(
            "publication",
            f"qd-{i}",
            START + timedelta(days=rng.randrange(330)),
            {"delegated": "true"} if i % 3 == 0 else {},
        )
        for i in range(100_000)
    ]
    occ, s = timed(lambda: plan(event_rules, cfg.calendar, START, END, events))
    report("plan, 100,000 events x 2 event rules", len(occ), s)

    span_rule = Rule("x", "x", "van-phong", After("publication", parse_span("5 working days")))
    occ, s = timed(lambda: plan([span_rule], cfg.calendar, START, END, events))
    report("plan, 100,000 events x 1 working-day rule", len(occ), s)

    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        shutil.copytree(REPO / "config", root / "config")
        (root / "rules").mkdir()
        sources = [p.read_text(encoding="utf-8") for p in sorted((REPO / "rules").glob("*.yaml"))]
        for i in range(1000):
            text = sources[i % len(sources)].replace("- id: ", f"- id: f{i}-")
            (root / "rules" / f"r{i:04d}.yaml").write_text(text, encoding="utf-8")
        cmd = [
            sys.executable,
            "-m",
            "engine.cli",
            "check",
            "--config",
            "config",
            "--rules",
            "rules",
        ]
        res, s = timed(lambda: subprocess.run(cmd, cwd=root, capture_output=True, text=True))
        assert res.returncode == 0, res.stderr
        rules_line = next(x for x in res.stdout.splitlines() if x.startswith("Quy tắc:"))
        print(f"hanchot check, 1,000 rule files ({rules_line}): {s:.3f} s (target ≤ 2 s)")


if __name__ == "__main__":
    main()
