"""The daemon's start-up and periodic check (issue 11 item 2): nothing O(deadlines)
when nothing changed, every change still picked up while running, and the
look-ups of a start and of each ``_poll`` indexed (SQLite's query plans), so that a
table scan cannot creep back unnoticed.

Due dates (Bộ luật Dân sự 2015 Điều 147: a period in days starts the day after the
event; Điều 148: ending on a day off, it ends on the next working day):
- publication 11/03/2022 + 30 days = Sun 10/04/2022, Giỗ Tổ Hùng Vương (10/3 âm
  lịch), off in lieu Mon 11/04 -> Tue 12/04/2022;
- publication 14/03/2022 + 30 days = Wed 13/04/2022, a working day;
- the real processes run on today's clock, so their events are dated relative to
  today (inside the window: last year to the horizon) and their rule says ``roll:
  none``: the due date is the 30th day after the event (Điều 147) even on a day
  off, whatever the year's holidays.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, timedelta
from pathlib import Path

import sqlalchemy as sa

from engine import daemon as daemon_mod
from engine.store import db
from engine.store.materialise import events_mark
from engine.store.ops import record_event, remove_event
from engine.store.tables import deadlines, events
from tests.integration.store_helpers import PUBLISH_RULE, local, make_config

ROOT = Path(__file__).resolve().parents[2]
NOW = local(2022, 7, 1)


def in_process_daemon(tmp_path: Path, clock) -> daemon_mod.Daemon:
    """A Daemon set up as :meth:`Daemon.run` sets it up, on a config built in code and
    a paused scheduler: its jobs are called by the test."""
    from apscheduler.schedulers.background import BackgroundScheduler

    for d in ("config", "rules"):
        (tmp_path / d).mkdir()
    d = daemon_mod.Daemon(tmp_path / "config", tmp_path / "rules", {}, clock=clock)
    d._signature = daemon_mod.files_signature(d.config_dir, d.rules_dir)
    d.config = make_config(tmp_path, rules=(PUBLISH_RULE,))
    d.engine = db.make_engine(d.config.settings.database)
    db.migrate(d.engine)
    d.sessions = db.session_factory(d.engine)
    d._transports()
    d._scheduler = BackgroundScheduler(timezone=UTC)
    d._scheduler.start(paused=True)
    return d


def dues(sessions) -> dict[str, tuple[date, str]]:
    with sessions() as s:
        return {
            r.key: (r.due, r.status)
            for r in s.execute(sa.select(deadlines.c.key, deadlines.c.due, deadlines.c.status))
        }


def test_poll_sees_an_event_removed_and_recorded_again_under_the_reused_id(tmp_path):
    # The README's correction of a wrong date: `event remove`, then `event add` again.
    # SQLite gives the new event the id of the one removed, so the events' count and
    # newest id are what they were; the daemon used to take that for "no change" and
    # kept the cancelled deadline until the next day.
    now = NOW
    d = in_process_daemon(tmp_path, lambda: now)
    try:
        with d.sessions() as s, s.begin():
            record_event(s, "publication", "qd-1", date(2022, 3, 11), {}, actor="t", now=now)
        d._materialise(now, "start: {report}")
        assert dues(d.sessions) == {"qd-1": (date(2022, 4, 12), "open")}
        with d.sessions() as s, s.begin():
            remove_event(s, d.config.rules, "publication", "qd-1", "ghi nhầm", actor="t", now=now)
            record_event(s, "publication", "qd-2", date(2022, 3, 14), {}, actor="t", now=now)
        with d.sessions() as s:
            assert s.execute(sa.select(events.c.id)).scalars().all() == [1]  # reused
        d._poll()
        assert dues(d.sessions) == {
            "qd-1": (date(2022, 4, 12), "cancelled"),
            "qd-2": (date(2022, 4, 13), "open"),
        }
    finally:
        d._scheduler.shutdown(wait=False)
        d.engine.dispose()


# ------------------------------------------------------------------ query plans
def _statements(engine, action) -> list[tuple[str, tuple]]:
    """The SELECTs ``action()`` sends to ``engine``, with their parameters."""
    seen: list[tuple[str, tuple]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, tuple(parameters or ())))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return seen


def _unindexed(engine, statements) -> list[str]:
    """Each statement whose plan reads a table without an index (``SCAN t``)."""
    bad = []
    with engine.connect() as conn:
        for sql, params in statements:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
            for row in plan:
                detail = row[-1]
                if detail.startswith("SCAN") and "INDEX" not in detail:
                    bad.append(f"{sql.strip()} -> {detail}")
    return bad


def test_start_and_poll_lookups_use_indexes(tmp_path):
    now = NOW
    d = in_process_daemon(tmp_path, lambda: now)
    try:
        with d.sessions() as s, s.begin():
            for i in range(50):
                record_event(s, "publication", f"qd-{i}", date(2022, 3, 11), {}, actor="t", now=now)
        d._materialise(now, "start: {report}")
        with d.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")  # as a store in use would have statistics
        # The events' high-water mark is materialise's (engine.store.materialise,
        # tested there); every other look-up of the start and of a poll must search.
        with d.sessions() as s:
            mark = {sql for sql, _ in _statements(d.engine, lambda: events_mark(s))}
        start = _statements(d.engine, lambda: d._materialise(now, "again: {report}"))
        start += _statements(d.engine, lambda: d._schedule(now))
        poll = _statements(d.engine, d._poll)
        assert len(poll) >= 4  # lock/notices/events/next wake: the capture works
        checked = [(sql, p) for sql, p in start + poll if sql not in mark]
        assert _unindexed(d.engine, checked) == []
        # and the check itself can fail: a full read of the deadlines is caught
        assert _unindexed(d.engine, [("SELECT count(*), max(title) FROM deadlines", ())])
    finally:
        d._scheduler.shutdown(wait=False)
        d.engine.dispose()


# ------------------------------------------------------------------ real processes
RULES = """\
rules:
  - id: quy-trinh-noi-bo
    title: Trình phê duyệt quy trình nội bộ giải quyết TTHC
    lead: qlcn
    due: {after: publication, in: 30 days, roll: none}
"""


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("HANCHOT_") or k == "HANCHOT_LANG"}
    e["HANCHOT_LANG"] = "en"
    e["HANCHOT_POLL_SECONDS"] = "0.3"
    return e


def hanchot(site: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from engine.cli import main; main()", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=site,
        env=env() | extra,
        timeout=120,
    )


def start(site: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "from engine.cli import main; main()", "run"],
        cwd=site,
        env=env(),
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )


def wait_started(proc: subprocess.Popen) -> list[str]:
    """The log lines up to and including the start line."""
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "hanchot daemon started" in line:
            return lines
    raise AssertionError("the daemon stopped before it started:\n" + "".join(lines))


def stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    assert proc.returncode == 0, err
    return err


def row(site: Path, key: str) -> tuple[str, str, str] | None:
    with sqlite3.connect(site / "var" / "hanchot.db") as c:
        return c.execute(
            "SELECT due, status, title FROM deadlines WHERE key = ?", (key,)
        ).fetchone()


def eventually(predicate, timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_restart_with_nothing_changed_recomputes_nothing_and_changes_are_picked_up(tmp_path):
    site = tmp_path
    shutil.copytree(ROOT / "config", site / "config")
    (site / "rules").mkdir()
    plan = site / "rules" / "plan.yaml"
    plan.write_text(RULES, encoding="utf-8")
    title = "Trình phê duyệt quy trình nội bộ giải quyết TTHC"
    today = date.today()
    ev1, ev2 = today - timedelta(days=40), today - timedelta(days=20)
    due1, due2 = str(ev1 + timedelta(days=30)), str(ev2 + timedelta(days=30))
    r = hanchot(site, "event", "add", "publication", "--id", "qd-1", "--date", str(ev1))
    assert r.returncode == 0, r.stderr

    proc = start(site)  # (`event add` has materialised already)
    try:
        wait_started(proc)
    finally:
        stop(proc)
    assert row(site, "qd-1") == (due1, "open", title)

    # Changed behind hanchot's back (no input of materialise changed): a restart
    # that recomputed the deadlines would put the rule's title back.
    with sqlite3.connect(site / "var" / "hanchot.db") as c:
        c.execute("UPDATE deadlines SET title = 'không tính lại' WHERE key = 'qd-1'")
    proc = start(site)
    try:
        lines = wait_started(proc)
        assert not any("deadlines at start" in x for x in lines), lines
        assert row(site, "qd-1") == (due1, "open", "không tính lại")

        # While running: a new event recorded by another process that does not
        # materialise (`event add` would, and prove nothing) ...
        with sqlite3.connect(site / "var" / "hanchot.db") as c:
            c.execute(
                "INSERT INTO events (type, event_id, date, attrs, recorded_at, recorded_by)"
                " VALUES ('publication', 'qd-2', ?, '{}', '2026-01-01 00:00:00', 't')",
                (str(ev2),),
            )
        assert eventually(lambda: row(site, "qd-2") == (due2, "open", title))
        # ... and an edited rule (its title): both deadlines redone.
        plan.write_text(RULES.replace(title, "Trình phê duyệt quy trình nội bộ"), "utf-8")
        assert eventually(
            lambda: row(site, "qd-1") == (due1, "open", "Trình phê duyệt quy trình nội bộ")
        )
        assert row(site, "qd-2") == (due2, "open", "Trình phê duyệt quy trình nội bộ")
    finally:
        err = stop(proc)
    assert "deadlines after new events: 1 created" in err
    assert "configuration reloaded (1 rules)" in err


def test_the_daemon_imports_neither_the_portal_nor_mail_nor_migrations_to_idle(tmp_path):
    # Resident memory is mostly the code imported: `hanchot run` without --web loads no
    # portal (Starlette, spreadsheets, Word), no mail templates until a mail is due,
    # no Alembic when the schema is current, no holidays once var/ caches the calendar.
    site = tmp_path
    shutil.copytree(ROOT / "config", site / "config")
    (site / "rules").mkdir()
    (site / "rules" / "plan.yaml").write_text(RULES, encoding="utf-8")
    # The first creates and migrates the store, the second (var/ there now) fills the
    # calendar cache: a full run, as an idle `run --once` would take its shortcut and
    # load no configuration.
    for _ in range(2):
        r = hanchot(site, "run", "--once", HANCHOT_SHORTCUTS="off")
        assert r.returncode == 0, r.stderr
    proc = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-c", "from engine.cli import main; main()", "run"],
        cwd=site,
        env=env(),
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    try:
        lines = wait_started(proc)
    finally:
        stop(proc)
    mods = {x.rsplit("|", 1)[1].strip() for x in lines if x.startswith("import time:")}
    assert "engine.daemon" in mods and "apscheduler.schedulers.blocking" in mods
    for heavy in (
        "starlette",
        "uvicorn",
        "openpyxl",
        "docx",
        "engine.web.app",
        "jinja2",
        "notifications",
        "alembic",
        "holidays",
        "prometheus_client",  # only with --http
    ):
        assert heavy not in mods, heavy


def test_checks_write_daemon_seen_at_most_every_five_minutes(tmp_path):
    """A write is the costliest part of an idle check (every 30 s): ``daemon_seen`` is
    written by the first check, then once five minutes have passed; hanchot web calls
    a daemon seen within 20 minutes recent, so it never looks stale for it."""
    from datetime import timedelta

    from engine.store.heartbeat import DAEMON_RECENT_SECONDS, read_daemon_seen

    clock = [NOW]
    d = in_process_daemon(tmp_path, lambda: clock[0])

    def seen():
        with d.sessions() as s:
            return read_daemon_seen(s)

    try:
        d._materialise(NOW, "start: {report}")
        d._poll()
        assert seen() == NOW
        for k in range(1, 10):  # every 30 s up to 4 min 30 s
            clock[0] = NOW + timedelta(seconds=30 * k)
            d._poll()
        assert seen() == NOW
        clock[0] = NOW + timedelta(minutes=5)
        d._poll()
        assert seen() == NOW + timedelta(minutes=5)
        assert 5 * 60 * 2 < DAEMON_RECENT_SECONDS  # two writes fit in "recent"
    finally:
        d._scheduler.shutdown(wait=False)
        d.engine.dispose()


def test_idle_checks_run_no_sql_until_something_changes(tmp_path):
    """SQLite: a check after a full one runs no SQL of the daemon's own while no other
    connection committed, the files and the day are the same and nothing falls due by
    the clock (daemon_seen, a notice's next try); each of those makes the next check a
    full one. (A commit of the daemon's own, as daemon_seen every five minutes, counts
    as a change too: it costs one more full check.)"""
    from datetime import timedelta

    from engine.store.heartbeat import read_daemon_seen
    from engine.store.portal_tables import notices

    clock = [NOW]
    d = in_process_daemon(tmp_path, lambda: clock[0])
    d._watch = db.ChangeWatch.open(d.config.settings.database)
    sql: list[str] = []
    sa.event.listen(d.engine, "before_cursor_execute", lambda *a: sql.append(a[2]))

    def check(minutes: float) -> int:
        """Poll at NOW + minutes; how many statements it sent."""
        clock[0] = NOW + timedelta(minutes=minutes)
        sql.clear()
        d._poll()
        return len(sql)

    try:
        d._materialise(NOW, "start: {report}")
        assert check(0) > 0  # the first check is a full one
        # Its own write (daemon_seen) came after it read data_version: one more.
        assert check(0.5) > 0
        assert check(1) == 0
        # Another process records an event: the next check materialises its deadline.
        with d.sessions() as s, s.begin():
            record_event(s, "publication", "qd-1", date(2022, 3, 11), {}, actor="t", now=NOW)
        assert "qd-1" not in dues(d.sessions)
        assert check(1.5) > 0
        assert dues(d.sessions) == {"qd-1": (date(2022, 4, 12), "open")}
        check(2)  # after its own writes (the new deadline)
        assert check(2.5) == 0
        # daemon_seen is due again five minutes after the first check wrote it.
        assert check(4.5) == 0
        assert check(5) > 0
        with d.sessions() as s:
            assert read_daemon_seen(s) == NOW + timedelta(minutes=5)
        assert check(5.5) > 0  # after its own write
        assert check(5.75) == 0
        # A portal notice to try again at NOW + 7 min: checked when it is due.
        with d.sessions() as s, s.begin():
            s.execute(
                notices.insert().values(
                    kind="test",
                    recipient="van-phong@example.gov.vn",
                    subject="s",
                    body="b",
                    state="pending",
                    created_at=NOW,
                    attempts=1,
                    next_attempt_at=NOW + timedelta(minutes=7),
                )
            )
        assert check(6) > 0  # the commit above is a change
        assert check(6.5) == 0
        assert check(7) > 0  # its next try is due
        # A new day, and an edited rules file, each make a full check.
        assert check(60 * 24) > 0
        check(60 * 24 + 0.5)  # after its own writes (daemon_seen)
        assert check(60 * 24 + 1) == 0
        (tmp_path / "rules" / "new.yaml").write_text("rules: []\n", "utf-8")
        assert check(60 * 24 + 1.5) > 0
    finally:
        d._watch.close()
        d._scheduler.shutdown(wait=False)
        d.engine.dispose()


def test_there_is_no_change_watch_on_postgresql():
    assert db.ChangeWatch.open("postgresql://u@localhost/db") is None
    assert db.ChangeWatch.open("sqlite://") is None


def test_a_change_watch_that_fails_makes_every_check_a_full_one(tmp_path):
    """If the watch's own connection breaks, a check cannot tell that nothing changed:
    it runs in full (and fails only if the database itself does)."""
    clock = [NOW]
    d = in_process_daemon(tmp_path, lambda: clock[0])
    d._watch = db.ChangeWatch.open(d.config.settings.database)
    sql: list[str] = []
    sa.event.listen(d.engine, "before_cursor_execute", lambda *a: sql.append(a[2]))
    try:
        d._materialise(NOW, "start: {report}")
        for minutes in (0, 0.5, 1):
            clock[0] = NOW + timedelta(minutes=minutes)
            d._poll()
        sql.clear()
        d._watch.close()  # PRAGMA data_version now raises
        clock[0] = NOW + timedelta(minutes=1.5)
        d._poll()
        assert sql  # a full check
        assert not d._dirty
    finally:
        d._scheduler.shutdown(wait=False)
        d.engine.dispose()
