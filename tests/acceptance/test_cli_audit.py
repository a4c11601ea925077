"""``--by`` is self-declared: the audit log also records the account that ran the
command, from its real uid, which neither ``--by`` nor ``$USER`` can change (12.10)."""

from __future__ import annotations

import os
import pwd
import sqlite3

from tests.acceptance.test_cli_faults import NOW, hanchot, site  # noqa: F401


def test_event_add_records_by_and_the_os_user(site):  # noqa: F811
    r = hanchot(
        site,
        "event", "add", "publication", "--id", "qd-0425", "--date", "2022-03-11",
        "--by", "Nguyễn Văn A", "--now", NOW,
        env={"USER": "mallory", "LOGNAME": "mallory"},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    with sqlite3.connect(site / "var" / "hanchot.db") as conn:
        rows = conn.execute("SELECT action, actor, os_user FROM audit_log ORDER BY id").fetchall()
    me = pwd.getpwuid(os.getuid()).pw_name
    assert me != "mallory"
    assert ("record", "Nguyễn Văn A", me) in rows
    assert all(os_user == me for _, _, os_user in rows)


def test_the_sqlite_audit_log_still_refuses_update_and_delete_after_0003(site):  # noqa: F811
    # `run --once` creates and migrates the database (`status` never creates one).
    r = hanchot(site, "run", "--once", "--now", NOW)
    assert r.returncode == 0, r.stderr
    with sqlite3.connect(site / "var" / "hanchot.db") as conn:
        conn.execute(
            "INSERT INTO audit_log (at, actor, action, entity) VALUES ('2022-01-01', 'a', 'x', 'e')"
        )
        for stmt in ("UPDATE audit_log SET actor = 'b'", "DELETE FROM audit_log"):
            try:
                conn.execute(stmt)
            except sqlite3.IntegrityError as e:
                assert "append-only" in str(e)
            else:
                raise AssertionError(f"{stmt} was allowed")
