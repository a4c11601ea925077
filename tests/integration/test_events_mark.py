"""The events' high-water mark of the materialisation fingerprint (issue 13) costs two
index look-ups on SQLite, whatever the number of events and audit rows: no statement
it runs scans a table or an index from end to end. That it still changes with every
event recorded or removed (a reused id included) is checked in
``test_materialise_fingerprint.py``."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from engine.store.materialise import events_mark
from engine.store.ops import record_event, remove_event
from tests.integration.store_helpers import PUBLISH_RULE, local, make_config, open_store

NOW = local(2022, 7, 1)


def test_events_mark_on_sqlite_uses_indexes_only(tmp_path):
    config = make_config(tmp_path, rules=(PUBLISH_RULE,))
    engine, sessions = open_store(config)
    with sessions() as s, s.begin():
        for i in range(50):
            record_event(s, "publication", f"qd-{i}", date(2022, 3, 1), {}, actor="t", now=NOW)
        remove_event(s, config.rules, "publication", "qd-7", "ghi nhầm", actor="t", now=NOW)
    statements: list[str] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", capture)
    with sessions() as s:
        mark = events_mark(s)
    sa.event.remove(engine, "before_cursor_execute", capture)
    assert statements
    with engine.connect() as conn:
        for sql, params in statements:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
            details = [r[-1] for r in plan]
            # SEARCH: a look-up down a b-tree (max() of the rowid, or of an index range)
            assert details and all(d.startswith("SEARCH") for d in details), (sql, details)
    # the newest event id (qd-49 was the 50th recorded) and the newest audit row about
    # events (the removal, after 50 records)
    with engine.connect() as conn:
        newest_audit = conn.exec_driver_sql(
            "SELECT max(id) FROM audit_log WHERE entity = 'event'"
        ).scalar()
    assert mark == [50, newest_audit]


def test_due_deadlines_are_found_through_next_send_at_not_every_open_one(tmp_path):
    """The full cycle's "which deadlines' time has come" (materialise_due) must search the
    next_send_at index: through the (status, due) index SQLite, which has no statistics
    unless ANALYZE ran, read every open deadline to find the few that are due."""
    from engine.store.outbox import materialise_due

    config = make_config(tmp_path, rules=(PUBLISH_RULE,))
    engine, sessions = open_store(config)
    statements: list[tuple] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM deadlines" in statement and "next_send_at <=" in statement:
            statements.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", capture)
    with sessions() as s, s.begin():
        materialise_due(s, config, NOW)
    sa.event.remove(engine, "before_cursor_execute", capture)
    assert len(statements) == 1
    with engine.connect() as conn:
        plan = " ".join(
            str(r[-1])
            for r in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statements[0][0], statements[0][1]
            ).all()
        )
    assert "ix_deadlines_next_send_at" in plan, plan
