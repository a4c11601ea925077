"""``hanchot run --once`` with nothing to do, answered without the full cycle (issue 13):
:mod:`engine.quick_once`. Real ``hanchot run --once`` processes against SQLite.

The shortcut must give the full cycle's output and exit code, and every change that
gives the full cycle something to do must still be acted on at once: a changed rule, a
calendar entry, a new or removed event, a new year of the horizon, a reminder coming
due, a pending retry whose time came, a row stuck in ``sending``, a portal notice.
Whether the shortcut was taken is read from ``-X importtime``: it imports no SQLAlchemy.

Dates, worked out by hand (Bộ luật Dân sự 2015 Điều 147–148; the default policy of
``config/escalation.yaml``, first stage 5 working days before, at 08:00 local time):

- ``bao-cao`` ``on: 2022-07-29`` (a Friday, a working day): due 29/07/2022; 5 working
  days before it are 28, 27, 26, 25 and Friday 22/07 → the first reminder at
  22/07/2022 08:00+07:00. As of Thursday 21/07 08:00 nothing is due.
- Moved to ``on: 2022-07-27`` (Wednesday): 5 working days before are 26, 25, 22, 21
  and Wednesday 20/07 → a reminder due as of 21/07 08:00 at once.
- ``calendar.yaml`` making Friday 29/07/2022 a day off: ``on:`` rolls forward to the
  next working day, Monday 01/08/2022.
- ``quy-trinh`` ``after: publication, in: 30 days``, the event dated 01/07/2022: counted
  from 02/07, day 30 is Sunday 31/07/2022 → forward to Monday 01/08/2022; its first
  reminder 5 working days before: 29, 28, 27, 26, Monday 25/07 — nothing due on 21/07.
- ``tong-ket`` ``every: year, month: 12, day: 15, from: 2023-01-01``: the materialised
  window runs to the end of next year, so as of 2022 only 15/12/2023 (a Friday); as of
  02/01/2023 also 2024's: 15/12/2024 is a Sunday → forward to Monday 16/12/2024. Its
  reminders are in December: nothing due on 30/12/2022 or 02/01/2023.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

BAO_CAO = """\
  - id: bao-cao
    title: Báo cáo tình hình, kết quả kiểm soát TTHC 6 tháng
    lead: van-phong
    due: {on: 2022-07-29}
"""
QUY_TRINH = """\
  - id: quy-trinh
    title: Trình phê duyệt quy trình nội bộ giải quyết TTHC
    lead: qlcn
    due: {after: publication, in: 30 days}
"""
TONG_KET = """\
  - id: tong-ket
    title: Tổng kết công tác kiểm soát TTHC
    lead: van-phong
    due: {every: year, month: 12, day: 15, from: 2023-01-01}
"""
JUL21 = "2022-07-21T08:00:00+07:00"
JUL22 = "2022-07-22T08:00:00+07:00"


def make_site(tmp_path: Path, rules: str) -> Path:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "plan.yaml").write_text("rules:\n" + rules, encoding="utf-8")
    return tmp_path


class Run:
    def __init__(self, r: subprocess.CompletedProcess) -> None:
        lines = r.stderr.splitlines()
        self.imports = {
            line.rsplit("|", 1)[1].strip()
            for line in lines
            if line.startswith("import time:") and "|" in line
        }
        self.returncode = r.returncode
        self.stdout = r.stdout
        self.stderr = "".join(line + "\n" for line in lines if not line.startswith("import time:"))

    @property
    def shortcut(self) -> bool:
        return "sqlalchemy" not in self.imports

    def result(self) -> tuple[int, str, str]:
        return self.returncode, self.stdout, self.stderr


def hanchot(site: Path, *args: str, lang: str = "en", shortcuts: bool = True) -> Run:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANCHOT_")}
    env["HANCHOT_LANG"] = lang
    if not shortcuts:
        env["HANCHOT_SHORTCUTS"] = "off"
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "from engine.cli import main; main()", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=site,
        env=env,
        timeout=120,
    )
    return Run(r)


def once(site: Path, now: str, **kw) -> Run:
    return hanchot(site, "run", "--once", "--now", now, **kw)


def settle(site: Path, now: str) -> None:
    """Full runs until the shortcut is established, then check that it is taken."""
    first = once(site, now)
    assert first.returncode == 0, first.stderr
    second = once(site, now)
    assert second.result() == (
        0,
        "0 messages sent (0 reminders), 0 failed, 0 deferred, 0 superseded\n",
        "",
    )
    assert second.shortcut


def mails(site: Path) -> int:
    return len(list((site / "var" / "mail").glob("**/*.eml")))


def query(site: Path, sql: str, *args):
    with sqlite3.connect(site / "var" / "hanchot.db") as c:
        return c.execute(sql, args).fetchall()


def execute(site: Path, sql: str, *args) -> None:
    with sqlite3.connect(site / "var" / "hanchot.db") as c:
        c.execute(sql, args)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_nothing_to_do_same_output_both_ways(tmp_path, lang):
    site = make_site(tmp_path, BAO_CAO + QUY_TRINH)
    settle(site, JUL21)
    fast = once(site, JUL21, lang=lang)
    slow = once(site, JUL21, lang=lang, shortcuts=False)
    assert fast.shortcut and not slow.shortcut
    assert fast.result() == slow.result()
    assert fast.returncode == 0 and fast.stdout.count("\n") == 1
    # An hour later nothing is due yet either: still the shortcut.
    assert once(site, "2022-07-21T09:00:00+07:00", lang=lang).shortcut


def test_a_changed_rule_is_acted_on_at_once(tmp_path):
    site = make_site(tmp_path, BAO_CAO)
    settle(site, JUL21)
    (site / "rules" / "plan.yaml").write_text(
        "rules:\n" + BAO_CAO.replace("2022-07-29", "2022-07-27"), encoding="utf-8"
    )
    r = once(site, JUL21)
    assert not r.shortcut
    assert (r.returncode, r.stdout) == (
        0,
        "1 messages sent (1 reminders), 0 failed, 0 deferred, 0 superseded\n",
    )
    assert query(site, "SELECT due FROM deadlines WHERE rule_id = 'bao-cao'") == [("2022-07-27",)]


def test_a_calendar_entry_is_acted_on_at_once(tmp_path):
    site = make_site(tmp_path, BAO_CAO)
    settle(site, JUL21)
    (site / "config" / "calendar.yaml").write_text(
        "extra_days_off:\n  - {date: 2022-07-29, reason: Quyết định nghỉ (thử)}\n",
        encoding="utf-8",
    )
    r = once(site, JUL21)
    assert r.returncode == 0, r.stderr
    assert not r.shortcut
    assert query(site, "SELECT due FROM deadlines WHERE rule_id = 'bao-cao'") == [("2022-08-01",)]


def test_a_new_and_a_removed_event_are_acted_on_at_once(tmp_path):
    site = make_site(tmp_path, BAO_CAO + QUY_TRINH)
    settle(site, JUL21)
    add = hanchot(site, "event", "add", "publication", "--id", "qd-1", "--date", "2022-07-01")
    assert add.returncode == 0, add.stderr
    r = once(site, JUL21)
    assert r.returncode == 0 and not r.shortcut
    assert query(site, "SELECT key, due, status FROM deadlines WHERE rule_id = 'quy-trinh'") == [
        ("qd-1", "2022-08-01", "open")
    ]
    assert once(site, JUL21).shortcut
    rm = hanchot(site, "event", "remove", "publication", "qd-1", "--reason", "nhập nhầm")
    assert rm.returncode == 0, rm.stderr
    r = once(site, JUL21)
    assert r.returncode == 0 and not r.shortcut
    assert query(site, "SELECT status FROM deadlines WHERE rule_id = 'quy-trinh'") == [
        ("cancelled",)
    ]


def test_a_new_year_of_the_horizon_is_acted_on_at_once(tmp_path):
    site = make_site(tmp_path, TONG_KET)
    settle(site, "2022-12-30T08:00:00+07:00")
    assert query(site, "SELECT key, due FROM deadlines ORDER BY key") == [("2023", "2023-12-15")]
    r = once(site, "2023-01-02T08:00:00+07:00")
    assert r.returncode == 0 and not r.shortcut
    assert query(site, "SELECT key, due FROM deadlines ORDER BY key") == [
        ("2023", "2023-12-15"),
        ("2024", "2024-12-16"),
    ]


def test_a_reminder_coming_due_is_sent(tmp_path):
    site = make_site(tmp_path, BAO_CAO)
    settle(site, JUL21)
    before = mails(site)
    r = once(site, JUL22)
    assert not r.shortcut
    assert r.stdout == "1 messages sent (1 reminders), 0 failed, 0 deferred, 0 superseded\n"
    assert mails(site) == before + 1


def sent_once(tmp_path) -> Path:
    """A site where the first reminder went out at 22/07 08:00, then settled."""
    site = make_site(tmp_path, BAO_CAO)
    settle(site, JUL21)
    assert once(site, JUL22).stdout.startswith("1 messages sent")
    assert query(site, "SELECT state FROM outbox") == [("sent",)]
    return site


def test_a_pending_retry_is_sent_when_its_time_comes(tmp_path):
    site = sent_once(tmp_path)
    # As a 421 answer leaves it: pending, next attempt at 10:00 local (03:00 UTC).
    execute(
        site,
        "UPDATE outbox SET state = 'pending', attempts = 1, sent_at = NULL, "
        "last_error = '421 try again later', next_attempt_at = '2022-07-22 03:00:00.000000'",
    )
    n = mails(site)
    early = once(site, "2022-07-22T09:00:00+07:00")
    assert early.shortcut and early.returncode == 0
    r = once(site, "2022-07-22T10:00:00+07:00")
    assert not r.shortcut
    assert r.stdout == "1 messages sent (1 reminders), 0 failed, 0 deferred, 0 superseded\n"
    # The same Message-ID again: the .eml file is written anew.
    assert query(site, "SELECT state, sent_at FROM outbox") == [
        ("sent", "2022-07-22 03:00:00.000000")
    ]
    assert mails(site) == n


def test_a_row_stuck_in_sending_is_taken_back_and_sent(tmp_path):
    site = sent_once(tmp_path)
    # Claimed at 07:00 local by a process that died; the claim times out after 15 min.
    execute(
        site,
        "UPDATE outbox SET state = 'sending', sent_at = NULL, claim_token = 'abc.gone', "
        "claimed_at = '2022-07-22 00:00:00.000000'",
    )
    n = mails(site)
    r = once(site, "2022-07-22T09:00:00+07:00")
    assert not r.shortcut
    assert r.stdout == "1 messages sent (1 reminders), 0 failed, 0 deferred, 0 superseded\n"
    assert query(site, "SELECT state, sent_at FROM outbox") == [
        ("sent", "2022-07-22 02:00:00.000000")
    ]
    assert mails(site) == n  # the same Message-ID: the .eml file is written anew


def test_a_waiting_portal_notice_is_sent(tmp_path):
    site = make_site(tmp_path, BAO_CAO)
    settle(site, JUL21)
    execute(
        site,
        "INSERT INTO notices (kind, recipient, subject, body, state, created_at) "
        "VALUES ('returned', 'qlcn@example.gov.vn', 'Báo cáo bị trả lại', 'Nội dung', "
        "'pending', '2022-07-21 00:30:00.000000')",
    )
    n = mails(site)
    r = once(site, JUL21)
    assert r.returncode == 0 and not r.shortcut
    assert query(site, "SELECT state FROM notices") == [("sent",)]
    assert mails(site) == n + 1


def test_a_failed_row_not_yet_summarised_takes_the_full_cycle(tmp_path):
    site = sent_once(tmp_path)
    execute(site, "UPDATE outbox SET state = 'failed', last_error = '550 no such user'")
    r = once(site, "2022-07-22T09:00:00+07:00")
    assert not r.shortcut
    # settings.admin_email gets the day's failure summary.
    assert r.stdout == "1 messages sent (1 reminders), 0 failed, 0 deferred, 0 superseded\n"


def test_a_damaged_database_is_reported_as_by_the_full_cycle(tmp_path):
    site = make_site(tmp_path, BAO_CAO)
    settle(site, JUL21)
    (site / "var" / "hanchot.db").write_bytes(b"not a database" * 1000)
    fast = once(site, JUL21)
    slow = once(site, JUL21, shortcuts=False)
    assert fast.result() == slow.result()
    assert fast.returncode == 5 and fast.stderr.startswith("hanchot: ")
    assert "Traceback" not in fast.stderr


def test_other_options_and_another_database_take_the_full_cycle(tmp_path):
    site = make_site(tmp_path, BAO_CAO)
    settle(site, JUL21)
    assert not once(site, JUL21, shortcuts=False).shortcut
    r = hanchot(site, "run", "--once", "--now", JUL21, "--log-format", "json")
    assert r.returncode == 0 and not r.shortcut
    other = hanchot(site, "run", "--once", "--now", JUL21, "--database", "sqlite:///var/b.db")
    assert other.returncode == 0 and not other.shortcut
    # Each database keeps its own record; the pointer follows the last full run.
    assert hanchot(
        site, "run", "--once", "--now", JUL21, "--database", "sqlite:///var/b.db"
    ).shortcut
    assert not once(site, JUL21).shortcut
    bad = once(site, "2022-07-21T08:00:00")  # no UTC offset: the full path's error
    assert bad.returncode == 2 and "no UTC offset" in bad.stderr and not bad.shortcut


@pytest.mark.parametrize("damage", ["garbage", "another signature", "record removed"])
def test_a_damaged_or_foreign_record_takes_the_full_cycle_and_is_rewritten(tmp_path, damage):
    site = make_site(tmp_path, BAO_CAO)
    settle(site, JUL21)
    pointer = site / "var" / "cache" / "run-once.json"
    if damage == "garbage":
        pointer.write_bytes(b"\xff{not json")
    elif damage == "another signature":
        pointer.write_text(pointer.read_text().replace('"signature": "', '"signature": "0'))
    else:
        execute(site, "DELETE FROM store_meta WHERE key = 'run_once'")
    r = once(site, JUL21)
    assert r.result() == (
        0,
        "0 messages sent (0 reminders), 0 failed, 0 deferred, 0 superseded\n",
        "",
    )
    assert not r.shortcut
    assert once(site, JUL21).shortcut  # the full run wrote it again


def test_the_look_ups_search_indexes_and_read_no_table_whole(tmp_path):
    from engine.quick_once import DUE_SQL, MARK_SQL, sqlite_instant

    site = make_site(tmp_path, BAO_CAO)
    settle(site, JUL21)
    at = sqlite_instant(__import__("datetime").datetime.fromisoformat(JUL21))
    with sqlite3.connect(site / "var" / "hanchot.db") as c:
        for sql in DUE_SQL + MARK_SQL:
            args = (at,) if "?" in sql else ()
            details = [r[-1] for r in c.execute("EXPLAIN QUERY PLAN " + sql, args)]
            if "store_meta" in sql or "alembic_version" in sql:
                continue  # a handful of rows
            assert details and all(d.startswith("SEARCH") for d in details), (sql, details)
        plan = c.execute("EXPLAIN QUERY PLAN " + DUE_SQL[0], (at,)).fetchall()
    # Not the (status, due) index: that one reads every open deadline.
    assert "ix_deadlines_next_send_at" in plan[0][-1]
