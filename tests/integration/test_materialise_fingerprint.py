"""Nothing changed, nothing done (issue 13): materialisation is skipped when its inputs
match the stored fingerprint, and every change of an input is still picked up at once
— a rule, a calendar entry, a new event, a removed event, a new year of the horizon —
through the store API on SQLite and through real ``hanchot run --once`` processes."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from engine.core.calendar import WorkingCalendar
from engine.core.rules import On
from engine.store.materialise import FINGERPRINT_KEY, materialise
from engine.store.ops import record_event, remove_event
from engine.store.tables import deadlines, events, meta
from tests.integration.store_helpers import (
    PUBLISH_RULE,
    REPORT_RULE,
    local,
    make_config,
    open_store,
)

NOW = local(2022, 7, 1)
ROOT = Path(__file__).resolve().parents[2]


def run(sessions, config, now=NOW):
    with sessions() as s, s.begin():
        return materialise(s, config, now)


def rows(sessions):
    with sessions() as s:
        return {
            (r.rule_id, r.key): r
            for r in s.execute(sa.select(deadlines).order_by(deadlines.c.id)).all()
        }


def test_second_run_with_nothing_changed_is_skipped(tmp_path):
    config = make_config(tmp_path, rules=(REPORT_RULE, PUBLISH_RULE))
    _, sessions = open_store(config)
    first = run(sessions, config)
    assert first.created == 1 and not first.skipped and first.rules_redone is None
    again = run(sessions, config, local(2022, 7, 2))  # another day of the same year
    assert again.skipped and again.rules_redone == frozenset()
    assert (again.created, again.updated, again.cancelled) == (0, 0, 0)


def test_where_a_rule_was_read_from_does_not_redo_it(tmp_path):
    """The daemon's unit reads /srv/hanchot/rules, an admin in /srv/hanchot reads rules/,
    and a comment added above a rule moves its line: same deadlines, nothing redone."""
    here = replace(REPORT_RULE, file="/srv/hanchot/rules/ke-hoach.yaml", line=12)
    config = make_config(tmp_path, rules=(here, PUBLISH_RULE))
    _, sessions = open_store(config)
    run(sessions, config)
    there = replace(here, file="rules/ke-hoach.yaml", line=14)
    again = run(sessions, replace(config, rules=(there, PUBLISH_RULE)))
    assert again.skipped and again.rules_redone == frozenset()
    # ...while a change of what the rule says is still seen.
    moved = replace(there, due=On(date(2022, 8, 5)))
    assert run(sessions, replace(config, rules=(moved, PUBLISH_RULE))).rules_redone == {
        "bao-cao-6-thang"
    }


def test_changed_rule_is_redone_alone(tmp_path):
    other = replace(REPORT_RULE, id="bao-cao-quy", due=On(date(2022, 9, 30)))
    config = make_config(tmp_path, rules=(REPORT_RULE, other))
    _, sessions = open_store(config)
    run(sessions, config)
    # 29/07/2022 is a Friday; moved to 05/08/2022, a Friday too: no holiday in between
    # matters for an `on:` date that is itself a working day.
    moved = replace(config, rules=(replace(REPORT_RULE, due=On(date(2022, 8, 5))), other))
    report = run(sessions, moved)
    assert not report.skipped
    assert report.rules_redone == frozenset({"bao-cao-6-thang"})
    assert report.updated == 1
    got = rows(sessions)
    assert got[("bao-cao-6-thang", "once")].due == date(2022, 8, 5)
    assert got[("bao-cao-quy", "once")].due == date(2022, 9, 30)
    assert run(sessions, moved).skipped


def test_removed_rule_is_cancelled_and_new_rule_created(tmp_path):
    other = replace(REPORT_RULE, id="bao-cao-quy", due=On(date(2022, 9, 30)))
    config = make_config(tmp_path, rules=(REPORT_RULE,))
    _, sessions = open_store(config)
    run(sessions, config)
    report = run(sessions, replace(config, rules=(other,)))
    assert report.rules_redone == frozenset({"bao-cao-6-thang", "bao-cao-quy"})
    assert (report.created, report.cancelled) == (1, 1)
    got = rows(sessions)
    assert got[("bao-cao-6-thang", "once")].status == "cancelled"
    assert got[("bao-cao-quy", "once")].status == "open"


def test_calendar_entry_is_picked_up(tmp_path):
    config = make_config(tmp_path)
    _, sessions = open_store(config)
    run(sessions, config)
    # A local day off on Fri 29/07/2022 moves the `on:` deadline to the next working
    # day, Mon 01/08/2022 (BLDS 2015 Điều 148 khoản 5: no holiday on Sat 30/07–Mon 01/08).
    off = WorkingCalendar(extra_days_off={date(2022, 7, 29): "Nghỉ đột xuất"})
    report = run(sessions, replace(config, calendar=off))
    assert not report.skipped and report.updated == 1
    assert rows(sessions)[("bao-cao-6-thang", "once")].due == date(2022, 8, 1)


def test_calendar_change_moving_an_event_deadline_is_picked_up(tmp_path):
    config = make_config(tmp_path, rules=(PUBLISH_RULE,))
    _, sessions = open_store(config)
    with sessions() as s, s.begin():
        record_event(s, "publication", "qd-1", date(2022, 3, 11), {}, actor="t", now=NOW)
    run(sessions, config)
    # 11/03/2022 + 30 days = Sun 10/04/2022 (Giỗ Tổ), Mon 11/04 off in lieu -> 12/04.
    assert rows(sessions)[("quy-trinh-noi-bo", "qd-1")].due == date(2022, 4, 12)
    # The province makes Tue 12/04/2022 a day off too: the next working day is 13/04.
    off = WorkingCalendar(extra_days_off={date(2022, 4, 12): "Quyết định của UBND tỉnh"})
    report = run(sessions, replace(config, calendar=off))
    assert not report.skipped
    assert rows(sessions)[("quy-trinh-noi-bo", "qd-1")].due == date(2022, 4, 13)


def test_new_event_is_picked_up(tmp_path):
    config = make_config(tmp_path, rules=(PUBLISH_RULE,))
    _, sessions = open_store(config)
    assert run(sessions, config).created == 0
    with sessions() as s, s.begin():
        record_event(s, "publication", "qd-1", date(2022, 3, 11), {}, actor="t", now=NOW)
    report = run(sessions, config)
    assert not report.skipped and report.created == 1
    assert rows(sessions)[("quy-trinh-noi-bo", "qd-1")].due == date(2022, 4, 12)


def test_event_removed_then_another_recorded_under_the_reused_id_is_picked_up(tmp_path):
    # SQLite gives the next event the id of the newest one just removed: the events'
    # count and newest id are then what they were. The audit log is what tells.
    config = make_config(tmp_path, rules=(PUBLISH_RULE,))
    _, sessions = open_store(config)
    with sessions() as s, s.begin():
        record_event(s, "publication", "qd-1", date(2022, 3, 11), {}, actor="t", now=NOW)
    run(sessions, config)
    with sessions() as s, s.begin():
        remove_event(
            s, config.rules, "publication", "qd-1", "ghi nhầm", actor="t", now=local(2022, 7, 2)
        )
        record_event(s, "publication", "qd-2", date(2022, 3, 15), {}, actor="t", now=NOW)
    with sessions() as s:
        assert s.execute(sa.select(events.c.id)).scalars().all() == [1]  # reused
    report = run(sessions, config, local(2022, 7, 3))
    assert not report.skipped and report.created == 1
    got = rows(sessions)
    assert got[("quy-trinh-noi-bo", "qd-1")].status == "cancelled"
    # 15/03/2022 + 30 days = Thu 14/04/2022, a working day (Giỗ Tổ was 10–11/04).
    assert got[("quy-trinh-noi-bo", "qd-2")].due == date(2022, 4, 14)


def test_event_remove_alone_is_picked_up(tmp_path):
    config = make_config(tmp_path, rules=(PUBLISH_RULE,))
    _, sessions = open_store(config)
    with sessions() as s, s.begin():
        record_event(s, "publication", "qd-1", date(2022, 3, 11), {}, actor="t", now=NOW)
    run(sessions, config)
    with sessions() as s, s.begin():
        remove_event(s, config.rules, "publication", "qd-1", "ghi nhầm", actor="t", now=NOW)
    assert not run(sessions, config).skipped
    assert rows(sessions)[("quy-trinh-noi-bo", "qd-1")].status == "cancelled"


def test_new_year_of_the_horizon_is_picked_up(tmp_path):
    # Fri 26/07/2024 is an ordinary working day. In 2022 the window ends 31/12/2023;
    # from 1 January 2023 it ends 31/12/2024 and the deadline comes in.
    later = replace(REPORT_RULE, id="bao-cao-2024", due=On(date(2024, 7, 26)))
    config = make_config(tmp_path, rules=(later,))
    _, sessions = open_store(config)
    run(sessions, config, local(2022, 12, 31))
    assert rows(sessions) == {}
    report = run(sessions, config, local(2023, 1, 2))
    assert not report.skipped and report.created == 1
    assert rows(sessions)[("bao-cao-2024", "once")].due == date(2024, 7, 26)


def test_ladder_policy_change_is_not_skipped(tmp_path):
    config = make_config(tmp_path)
    _, sessions = open_store(config)
    run(sessions, config)
    policy = config.policies["default"]
    fewer = replace(policy, stages=policy.stages[1:])
    report = run(sessions, replace(config, policies={"default": fewer}))
    assert not report.skipped and report.rescheduled == 1


def test_damaged_fingerprint_means_a_full_run(tmp_path):
    config = make_config(tmp_path)
    _, sessions = open_store(config)
    run(sessions, config)
    with sessions() as s, s.begin():
        s.execute(meta.update().where(meta.c.key == FINGERPRINT_KEY).values(value="{garbage"))
    report = run(sessions, config)
    assert not report.skipped and report.rules_redone is None
    assert run(sessions, config).skipped  # and it was written again


def test_force_recomputes(tmp_path):
    config = make_config(tmp_path)
    _, sessions = open_store(config)
    run(sessions, config)
    with sessions() as s, s.begin():
        report = materialise(s, config, NOW, force=True)
    assert not report.skipped and report.rules_redone is None


# ---------------------------------------------------------------- real processes
RULES = """\
rules:
  - id: bao-cao-6-thang
    title: Báo cáo tình hình, kết quả kiểm soát TTHC 6 tháng
    lead: van-phong
    due: {on: 2022-07-29}
  - id: quy-trinh-noi-bo
    title: Trình phê duyệt quy trình nội bộ giải quyết TTHC
    lead: qlcn
    due: {after: publication, in: 30 days}
"""


def hanchot(site: Path, *args: str):
    import os

    env = {
        k: v for k, v in os.environ.items() if not k.startswith("HANCHOT_") or k == "HANCHOT_LANG"
    }
    env["HANCHOT_LANG"] = "en"
    return subprocess.run(
        [sys.executable, "-c", "from engine.cli import main; main()", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=site,
        env=env,
        timeout=120,
    )


def due_dates(site: Path) -> dict[tuple[str, str], tuple[str, str]]:
    with sqlite3.connect(site / "var" / "hanchot.db") as c:
        return {
            (r, k): (d, st)
            for r, k, d, st in c.execute("SELECT rule_id, key, due, status FROM deadlines")
        }


def test_run_once_picks_up_each_change_at_once(tmp_path):
    site = tmp_path
    shutil.copytree(ROOT / "config", site / "config")
    (site / "rules").mkdir()
    plan = site / "rules" / "plan.yaml"
    plan.write_text(RULES, encoding="utf-8")
    now = ("--now", "2022-07-01T08:00+07:00")

    def once():
        r = hanchot(site, "run", "--once", *now)
        assert r.returncode == 0, r.stderr
        return due_dates(site)

    assert once() == {("bao-cao-6-thang", "once"): ("2022-07-29", "open")}
    assert once() == {("bao-cao-6-thang", "once"): ("2022-07-29", "open")}  # skipped
    # A rule edited: Fri 05/08/2022, a working day.
    plan.write_text(RULES.replace("2022-07-29", "2022-08-05"), encoding="utf-8")
    assert once()[("bao-cao-6-thang", "once")] == ("2022-08-05", "open")
    # A calendar entry: Fri 05/08/2022 made a day off -> Mon 08/08/2022.
    (site / "config" / "calendar.yaml").write_text(
        "extra_days_off:\n  - {date: 2022-08-05, reason: Quyết định của UBND tỉnh}\n",
        encoding="utf-8",
    )
    assert once()[("bao-cao-6-thang", "once")] == ("2022-08-08", "open")
    # A new event: 11/03/2022 + 30 days -> Tue 12/04/2022 (Giỗ Tổ 10/04, off in lieu 11/04).
    r = hanchot(site, "event", "add", "publication", "--id", "qd-1", "--date", "2022-03-11", *now)
    assert r.returncode == 0, r.stderr
    assert once()[("quy-trinh-noi-bo", "qd-1")] == ("2022-04-12", "open")
    # The event removed, and another recorded (SQLite reuses its id).
    r = hanchot(site, "event", "remove", "publication", "qd-1", "--reason", "ghi nhầm", *now)
    assert r.returncode == 0, r.stderr
    with sqlite3.connect(site / "var" / "hanchot.db") as c:
        # Recorded behind hanchot's back, as an older version or a script would: only
        # the events table changes, no audit row. The events' count and newest id
        # still tell (the count went from 0 to 1).
        c.execute(
            "INSERT INTO events (type, event_id, date, attrs, recorded_at, recorded_by) "
            "VALUES ('publication', 'qd-2', '2022-03-15', '{}', '2022-07-01 01:00:00', 't')"
        )
    got = once()
    assert got[("quy-trinh-noi-bo", "qd-1")] == ("2022-04-12", "cancelled")
    # 15/03/2022 + 30 days = Thu 14/04/2022, a working day.
    assert got[("quy-trinh-noi-bo", "qd-2")] == ("2022-04-14", "open")
