"""Alembic migrations: from an empty database and from the previous revision."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from engine.store import db
from engine.store.tables import audit, deadlines, metadata


def test_empty_database_to_head_matches_the_models(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'var' / 'h.db'}")
    assert db.current_revision(engine) is None
    db.migrate(engine)
    assert db.current_revision(engine) == db.head_revision()
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    db.migrate(engine)  # a no-op the second time


def test_from_previous_revision_keeps_data(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'h.db'}")
    db.migrate(engine, "0001")
    now = datetime(2022, 7, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO deadlines (rule_id, key, title, due, lead, coordinating, status, "
                "created_at, updated_at) VALUES ('r', 'once', 'T', '2022-07-29', 'van-phong', "
                "'[]', 'open', :now, :now)"
            ),
            {"now": now.replace(tzinfo=None)},
        )
    db.migrate(engine)
    with engine.connect() as conn:
        row = conn.execute(sa.select(deadlines)).one()
    assert row.due == date(2022, 7, 29) and row.next_send_at is None
    assert row.created_at == now  # naive SQLite value comes back as aware UTC


def test_downgrade_to_base_and_up_again(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'h.db'}")
    db.migrate(engine)
    db.downgrade(engine, "0001")
    db.downgrade(engine, "base")
    assert sa.inspect(engine).get_table_names() == ["alembic_version"]
    db.migrate(engine)
    assert "outbox" in sa.inspect(engine).get_table_names()


def test_audit_log_is_append_only(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'h.db'}")
    db.migrate(engine)
    with engine.begin() as conn:
        conn.execute(
            audit.insert().values(
                at=datetime(2022, 7, 1, tzinfo=UTC), actor="a", action="x", entity="deadline"
            )
        )
    for stmt in (audit.update().values(actor="b"), audit.delete()):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(stmt)


def test_naive_instant_is_refused(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'h.db'}")
    db.migrate(engine)
    with pytest.raises(sa.exc.StatementError, match="naive"), engine.begin() as conn:
        conn.execute(
            audit.insert().values(at=datetime(2022, 7, 1), actor="a", action="x", entity="e")
        )


def test_second_daemon_lock_is_refused_with_pid(tmp_path):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    engine = db.make_engine(url)
    with db.DaemonLock(engine, url):
        with pytest.raises(Exception, match=r"another hanchot daemon is running on .*h\.db \(pid"):
            db.DaemonLock(engine, url).acquire()
    with db.DaemonLock(engine, url):  # released: can be taken again
        pass


def test_head_read_from_the_files_is_alembics_head():
    from engine.store.db import _shipped_head

    assert _shipped_head() == db.head_revision()


def test_a_database_at_head_is_not_handed_to_alembic(tmp_path, monkeypatch):
    import alembic.command

    engine = db.make_engine(f"sqlite:///{tmp_path / 'h.db'}")
    db.migrate(engine)
    calls = []
    monkeypatch.setattr(alembic.command, "upgrade", lambda *a, **k: calls.append(a))
    db.migrate(engine)
    assert calls == []
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(db._alembic_config(None))
    db.downgrade(engine, script.get_revision(db.head_revision()).down_revision)
    db.migrate(engine)  # one behind: Alembic upgrades it
    assert len(calls) == 1


def test_portal_revision_keeps_outbox_rows_and_their_due_date(tmp_path):
    """0004_portal puts the due date into the outbox key; rows sent before the upgrade
    take their deadline's due date, so they are not mailed again."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'h.db'}")
    db.migrate(engine, "0002")
    now = datetime(2022, 7, 22, 1, tzinfo=UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO deadlines (rule_id, key, title, due, lead, coordinating, status, "
                "created_at, updated_at) VALUES ('r', 'once', 'T', '2022-07-29', 'qlcn', "
                "'[]', 'open', :now, :now)"
            ),
            {"now": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO outbox (deadline_id, stage, repeat, recipient, send_at, state, "
                "attempts, next_attempt_at, created_at, updated_at) VALUES (1, 'due', 0, "
                "'a@x.vn', :now, 'sent', 1, :now, :now, :now)"
            ),
            {"now": now},
        )
    db.migrate(engine)
    from engine.store.tables import outbox

    with engine.connect() as conn:
        row = conn.execute(sa.select(outbox.c.due, outbox.c.state)).one()
    assert row.due == date(2022, 7, 29) and row.state == "sent"
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO outbox (deadline_id, due, stage, repeat, recipient, send_at, state, "
                "attempts, next_attempt_at, created_at, updated_at) VALUES (1, '2022-07-29', "
                "'due', 0, 'a@x.vn', :now, 'pending', 0, :now, :now, :now)"
            ),
            {"now": now},
        )
