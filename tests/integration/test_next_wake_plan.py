"""The daemon's every check (twice a minute, for years) asks ``next_wake`` what is due
next: each of its queries must be an index look-up, never a read of a whole table,
however many deadlines and outbox rows are stored (issue 11: idle CPU ≈ 0)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from engine.store import db
from engine.store.dispatch import next_wake
from engine.store.tables import outbox

NOW = datetime(2022, 7, 1, 1, 0, tzinfo=UTC)


def test_next_wake_reads_no_table_whole(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    db.migrate(engine)
    sessions = db.session_factory(engine)
    with sessions() as s, s.begin():
        rows = [
            {
                "deadline_id": None,
                "stage": "due",
                "repeat": k,
                "recipient": f"u{k}@example.gov.vn",
                "send_at": NOW,
                "state": "sent",
                "attempts": 1,
                "next_attempt_at": NOW,
                "claimed_at": None,
                "claim_token": None,
                "created_at": NOW,
                "updated_at": NOW,
            }
            for k in range(2000)
        ]
        s.execute(outbox.insert(), rows)
        # The statistics of a store whose outbox is all sent (as after years of use)...
        s.execute(sa.text("ANALYZE"))
        # ...then a cycle claims two rows.
        for k in (7, 1500):
            s.execute(
                outbox.update()
                .where(outbox.c.repeat == k)
                .values(state="sending", claimed_at=NOW + timedelta(seconds=k), claim_token="t")
            )
    seen: list[tuple[str, tuple]] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    with sessions() as s:
        wake = next_wake(s, timedelta(minutes=15))
    sa.event.remove(engine, "before_cursor_execute", record)
    # The oldest claim (row 7) plus 15 minutes is the earliest.
    assert wake == NOW + timedelta(seconds=7, minutes=15)
    assert seen
    with engine.connect() as conn:
        for statement, parameters in seen:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            details = [r[-1] for r in plan]
            assert any("INDEX" in d for d in details), (statement, details)
            assert not any(d.startswith("SCAN ") and "INDEX" not in d for d in details), (
                statement,
                details,
            )
    engine.dispose()
