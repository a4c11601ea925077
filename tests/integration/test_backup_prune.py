"""``hanchot backup`` / ``restore`` (round trip comparing every table, SQLite and
PostgreSQL) and ``hanchot prune`` (what it removes, what it never touches)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.errors import StoreError
from engine.store import backup as bk
from engine.store import db
from engine.store.dispatch import dispatch, transport_factory
from engine.store.materialise import materialise
from engine.store.ops import prune_outbox
from engine.store.tables import audit, deadlines, events, outbox
from tests.integration.store_helpers import PUBLISH_RULE, REPORT_RULE, local, make_config
from tests.integration.test_store_postgres import pg_url  # noqa: F401  (module fixture)

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path, db_url: str | None = None) -> subprocess.CompletedProcess:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("HANCHOT_") or k == "HANCHOT_LANG"
    }
    if db_url:
        env["HANCHOT_DATABASE_URL"] = db_url
    return subprocess.run(
        [sys.executable, "-c", "from engine.cli import main; main()", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def dump(engine: sa.Engine) -> dict[str, list[tuple]]:
    """Every row of every table (alembic_version included), in primary-key order."""
    out = {}
    meta = sa.MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        for name, table in sorted(meta.tables.items()):
            order = list(table.primary_key.columns) or list(table.columns)
            out[name] = [tuple(r) for r in conn.execute(sa.select(table).order_by(*order))]
    return out


def populate(tmp_path: Path, url: str, *, events_too: bool = True):
    """A store with events, open/done deadlines, sent/superseded mail and audit entries
    (``events_too=False``: the report rule alone, no events)."""
    rules = (REPORT_RULE, PUBLISH_RULE) if events_too else (REPORT_RULE,)
    config = make_config(tmp_path, rules=rules, database=url)
    engine = db.make_engine(url)
    db.migrate(engine)
    sessions = db.session_factory(engine)
    from engine.store.ops import close_deadline, record_event
    from tests.integration.store_helpers import date

    if events_too:
        with sessions() as s, s.begin():
            record_event(
                s,
                "publication",
                "qd-0425",
                date(2022, 3, 11),
                {},
                actor="t",
                now=local(2022, 3, 11),
            )
            record_event(
                s,
                "publication",
                "qd-0512",
                date(2022, 7, 1),
                {"ghi_chu": "Tiếng Việt có dấu"},
                actor="t",
                now=local(2022, 7, 1),
            )
    with sessions() as s, s.begin():
        materialise(s, config, local(2022, 7, 1))
        if events_too:
            close_deadline(
                s, "quy-trinh-noi-bo", "qd-0425", "done", "QĐ 512", actor="t", now=local(2022, 4, 1)
            )
    transports = transport_factory(config.settings)
    for day in (22, 28):
        dispatch(config, sessions, transports, local(2022, 7, day, 9))
    dispatch(config, sessions, transports, local(2022, 8, 10, 9))
    return config, engine, sessions


def test_sqlite_round_trip_compares_every_table(tmp_path):
    src_url = f"sqlite:///{tmp_path / 'a' / 'hanchot.db'}"
    _, engine, _ = populate(tmp_path, src_url)
    before = dump(engine)
    assert all(before[t] for t in ("events", "deadlines", "outbox", "audit_log", "alembic_version"))
    target = tmp_path / "backup.db"
    bk.backup(src_url, target)
    # the daemon may keep writing after the backup: the copy must not follow it
    with engine.begin() as conn:
        conn.execute(outbox.delete())
    dst_url = f"sqlite:///{tmp_path / 'b' / 'hanchot.db'}"
    bk.restore(dst_url, target)
    restored = db.make_engine(dst_url)
    assert dump(restored) == before
    # restored into a live store: the append-only audit log is still protected
    with pytest.raises(sa.exc.DatabaseError):
        with restored.begin() as conn:
            conn.execute(audit.delete())
    restored.dispose()
    engine.dispose()


def test_backup_and_restore_refusals(tmp_path):
    url = f"sqlite:///{tmp_path / 'a' / 'hanchot.db'}"
    _, engine, _ = populate(tmp_path, url)
    engine.dispose()
    target = tmp_path / "b.db"
    bk.backup(url, target)
    with pytest.raises(StoreError, match="exists already"):
        bk.backup(url, target)
    with pytest.raises(StoreError, match="no database at"):
        bk.backup(f"sqlite:///{tmp_path / 'none.db'}", tmp_path / "c.db")
    with pytest.raises(StoreError, match=r"does not exist"):
        bk.backup(url, tmp_path / "no-such-dir" / "c.db")
    # restoring over live data would mix two histories: refused, nothing changed
    with pytest.raises(StoreError, match=r"is not empty \(\d+ tables\)"):
        bk.restore(url, target)
    with pytest.raises(StoreError, match="cannot read .*missing.db: No such file"):
        bk.restore(f"sqlite:///{tmp_path / 'x.db'}", tmp_path / "missing.db")
    text = tmp_path / "notes.txt"
    text.write_text("không phải bản sao lưu", "utf-8")
    with pytest.raises(StoreError, match="is not a hanchot backup"):
        bk.restore(f"sqlite:///{tmp_path / 'x.db'}", text)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(StoreError, match="not a hanchot database"):
        bk.restore(f"sqlite:///{tmp_path / 'y.db'}", other)
    with pytest.raises(StoreError, match="is a sqlite backup; restore it into a sqlite database"):
        bk.restore("postgresql+psycopg2://u@127.0.0.1:1/x", target)


def test_cli_backup_restore(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(ROOT / "config", site / "config")
    shutil.copytree(ROOT / "rules", site / "rules")
    r = cli("run", "--once", "--now", "2022-04-05T08:00:00+07:00", cwd=site)
    assert r.returncode == 0, r.stderr
    r = cli("backup", "../b.db", cwd=site)
    assert r.returncode == 0, r.stderr
    r = cli("backup", "../b.db", cwd=site)
    assert r.returncode == 2 and "exists already" in r.stderr and "Traceback" not in r.stderr
    r = cli("restore", "../b.db", cwd=site)
    assert r.returncode == 2 and "is not empty" in r.stderr
    new_url = f"sqlite:///{tmp_path / 'new' / 'hanchot.db'}"
    r = cli("restore", "../b.db", cwd=site, db_url=new_url)
    assert r.returncode == 0, r.stderr
    a = db.make_engine(f"sqlite:///{site / 'var' / 'hanchot.db'}")
    b = db.make_engine(new_url)
    assert dump(a) == dump(b)
    a.dispose()
    b.dispose()


@pytest.mark.postgres
def test_postgres_round_trip_compares_every_table(tmp_path, pg_url):  # noqa: F811
    admin = db.make_engine(pg_url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for name in ("hanchot_src", "hanchot_dst"):
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    base = pg_url.rsplit("/", 1)[0]
    if shutil.which("pg_dump") is None:
        pytest.fail("pg_dump not on PATH although a PostgreSQL server runs")
    _, engine, _ = populate(tmp_path, base + "/hanchot_src")
    before = dump(engine)
    assert all(before[t] for t in ("events", "deadlines", "outbox", "audit_log"))
    target = tmp_path / "pg.dump"
    bk.backup(base + "/hanchot_src", target)
    assert target.read_bytes().startswith(b"PGDMP")
    bk.restore(base + "/hanchot_dst", target)
    restored = db.make_engine(base + "/hanchot_dst")
    assert dump(restored) == before
    with pytest.raises(StoreError, match="is not empty"):
        bk.restore(base + "/hanchot_dst", target)
    restored.dispose()
    engine.dispose()


def test_prune_removes_only_old_sent_and_superseded(tmp_path):
    url = f"sqlite:///{tmp_path / 'a' / 'hanchot.db'}"
    config, engine, sessions = populate(tmp_path, url, events_too=False)
    # The report (due Fri 29/07/2022) was mailed at 08:00 on: Fri 22/07 (5 working days
    # before: 28, 27, 26, 25, 22 — no holiday) to the lead, 1 row; Thu 28/07 (1 working
    # day before) to lead + coordinating (van-phong, qlcn, qlnl), 3 rows. On 10/08 the
    # stages of Fri 29/07 (due: 3 rows) and Mon 01/08 (1 working day after: van-phong,
    # its head, thanh-tra: 3 rows) were late and superseded by Fri 05/08 (5 working days
    # after: 1, 2, 3, 4, 5 August) to the lead's head and the director: 2 rows, sent.
    with sessions() as s:
        rows = s.execute(sa.select(outbox.c.state, outbox.c.send_at).order_by(outbox.c.id)).all()
    assert sorted((r.state, r.send_at) for r in rows) == sorted(
        [("sent", local(2022, 7, 22))]
        + [("sent", local(2022, 7, 28))] * 3
        + [("superseded", local(2022, 7, 29))] * 3
        + [("superseded", local(2022, 8, 1))] * 3
        + [("sent", local(2022, 8, 5))] * 2
    )
    # one old row failed for good: kept (the admin must still see it)
    with sessions() as s, s.begin():
        first28 = s.execute(
            sa.select(sa.func.min(outbox.c.id)).where(outbox.c.send_at == local(2022, 7, 28))
        ).scalar()
        s.execute(outbox.update().where(outbox.c.id == first28).values(state="failed"))

    def counts():
        with sessions() as s:
            return {
                t.name: s.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                for t in (events, deadlines, outbox, audit)
            }

    start = counts()
    now = local(2022, 8, 10, 12)
    # before 01/08/2022 00:00 local: the 22/07 and two 28/07 rows sent, 29/07 superseded
    dry = prune_outbox(sessions, local(2022, 8, 1, 0), actor="t", now=now, dry_run=True)
    assert dry == {"sent": 3, "superseded": 3}
    assert counts() == start
    got = prune_outbox(sessions, local(2022, 8, 1, 0), actor="t", now=now, batch=2)
    assert got == {"sent": 3, "superseded": 3}
    after = counts()
    assert after["outbox"] == start["outbox"] - 6
    assert after["events"] == start["events"] and after["deadlines"] == start["deadlines"]
    assert after["audit_log"] == start["audit_log"] + 1
    with sessions() as s:
        left = sorted(s.execute(sa.select(outbox.c.state, outbox.c.send_at)).all())
    assert left == sorted(
        [("failed", local(2022, 7, 28))]
        + [("superseded", local(2022, 8, 1))] * 3
        + [("sent", local(2022, 8, 5))] * 2
    )
    # the pruned instants are never materialised or mailed again; the one message
    # now is the admin's summary of the failed row
    report = dispatch(config, sessions, transport_factory(config.settings), local(2022, 8, 10, 13))
    assert report.created == 0 and report.digests_sent == 1
    with sessions() as s:
        new = s.execute(sa.select(outbox.c.stage, outbox.c.deadline_id).where(outbox.c.id > 12))
        assert new.all() == [("failure-summary", None)]
    engine.dispose()


def test_cli_prune(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(ROOT / "config", site / "config")
    shutil.copytree(ROOT / "rules", site / "rules")
    r = cli("run", "--once", "--now", "2022-04-05T08:00:00+07:00", cwd=site)
    assert r.returncode == 0, r.stderr
    r = cli("prune", "--before", "2022-01-01", "--dry-run", cwd=site)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("2022-01-01.")
    r = cli("prune", "--before", "2022-13-01", cwd=site)
    assert r.returncode == 2 and "Traceback" not in r.stderr
