"""Fault drills (issue 9): each kills, stops or starves something at the worst moment
and asserts exactly what the SMTP server received and what the database holds.

PostgreSQL drills use a dedicated throwaway server (they stop and start it); they
skip without PostgreSQL on a developer's machine and fail in CI (``.ci/run`` sets
``HANCHOT_REQUIRE_POSTGRES``). Long waits are simulated or shortened:
``HANCHOT_DRILL_OUTAGE_SECONDS`` (default 10) is how long PostgreSQL stays down.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from engine.store import db
from engine.store.tables import outbox
from tests.integration.drill_helpers import (
    PgServer,
    SlowHandler,
    free_port,
    hanchot,
    hanchot_env,
    healthz,
    message_ids,
    stop,
    wait_for,
    write_site,
)

#: Due 20 days ago: the "due" stage of every drill rule is late, so it is sent at once.
PAST = date.today() - timedelta(days=20)
FUTURE = date.today() + timedelta(days=60)


@pytest.fixture(scope="module")
def pg() -> PgServer:
    server = PgServer()
    yield server
    server.close()


@pytest.fixture
def smtp():
    handler = SlowHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def db_states(url: str) -> Counter:
    engine = db.make_engine(url)
    with engine.connect() as conn:
        got = Counter(
            dict(conn.execute(sa.select(outbox.c.state, sa.func.count()).group_by("state")).all())
        )
    engine.dispose()
    return got


@pytest.mark.postgres
def test_three_once_and_two_daemons_send_each_message_once(tmp_path, pg, smtp):
    handler, port = smtp
    url = pg.fresh_database("drill_many")
    engine = db.make_engine(url)
    db.migrate(engine)  # concurrent first migrations are not what this drill is about
    engine.dispose()
    # 40 units x 50 rules = 2,000 deadlines, all due the same day: one digest per unit.
    site = write_site(tmp_path, units=40, per_unit=50, due=PAST, smtp_port=port, database=url)
    env = hanchot_env()
    procs = [hanchot(site, "run", env=env), hanchot(site, "run", "--standby", env=env)]
    procs += [hanchot(site, "run", "--once", env=env) for _ in range(3)]
    try:
        assert wait_for(lambda: len(handler.received) >= 40, timeout=120), len(handler.received)
        for p in procs[2:]:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
        time.sleep(1.5)  # anything a late process would still send
    finally:
        errs = [stop(p)[1] for p in procs[:2]]
    got = Counter(rcpt for rcpt, _ in message_ids(handler))
    assert got == Counter({f"u{i:03}@example.gov.vn": 1 for i in range(40)})
    assert db_states(url) == Counter({"sent": 2000})
    assert sum("standby: waiting for the lock" in e for e in errs) == 1


@pytest.mark.postgres
def test_kill_9_of_the_active_daemon_mid_cycle(tmp_path, pg, smtp):
    handler, port = smtp
    handler.delay = 0.3  # a slow server: the cycle is long, the kill lands inside it
    url = pg.fresh_database("drill_kill")
    site = write_site(tmp_path, units=1, per_unit=1, due=FUTURE, smtp_port=port, database=url)
    env = hanchot_env(HANCHOT_STUCK_AFTER_SECONDS="3")
    pa, pb = free_port(), free_port()
    a = hanchot(site, "run", "--http", f"127.0.0.1:{pa}", env=env)
    b = None
    try:
        assert wait_for(lambda: (healthz(pa) or (0, {}))[1].get("role") == "active")
        b = hanchot(site, "run", "--standby", "--http", f"127.0.0.1:{pb}", env=env)
        assert wait_for(lambda: _role(pb) == "standby")
        assert healthz(pb)[0] == 200
        # 30 units with a late deadline each, edited in while both run: the active
        # daemon reloads and starts mailing 30 digests, 0.3 s each.
        late = tmp_path / "late"
        write_site(late, units=30, per_unit=1, due=PAST)
        (site / "config" / "units.yaml").write_text(
            (late / "config" / "units.yaml").read_text("utf-8"), "utf-8"
        )
        (site / "rules" / "drill.yaml").write_text(
            (late / "rules" / "drill.yaml").read_text("utf-8"), "utf-8"
        )
        assert wait_for(lambda: len(handler.received) >= 5, timeout=60)
        a.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        a.communicate(timeout=10)
        assert wait_for(lambda: _role(pb) == "active", timeout=15)
        takeover = time.monotonic() - killed
        assert takeover < 5, f"standby took {takeover:.1f} s to take over"
        everyone = {f"u{i:03}@example.gov.vn" for i in range(30)}
        assert wait_for(lambda: {r for r, _ in message_ids(handler)} >= everyone, timeout=60)
        time.sleep(1)
    finally:
        stop(a)
        if b is not None:
            _, err_b = stop(b)
    ids = message_ids(handler)
    got = Counter(r for r, _ in ids)
    # every unit got its digest; at most the one in flight at the kill arrived twice,
    # and then with the same Message-ID, so mail clients fold it
    assert set(got) == {f"u{i:03}@example.gov.vn" for i in range(30)}
    twice = [r for r, n in got.items() if n > 1]
    assert len(twice) <= 1 and all(n <= 2 for n in got.values()), got
    for r in twice:
        assert len({mid for rr, mid in ids if rr == r}) == 1
    assert db_states(url) == Counter({"sent": 30})
    assert "lock taken; this daemon is now the active one" in err_b


def _role(port: int) -> str | None:
    got = healthz(port)
    return got[1].get("role") if got else None


@pytest.mark.postgres
def test_postgres_down_and_back_while_the_daemon_runs(tmp_path, pg, smtp):
    handler, port = smtp
    url = pg.fresh_database("drill_restart")
    site = write_site(tmp_path, units=3, per_unit=2, due=PAST, smtp_port=port, database=url)
    hp = free_port()
    proc = hanchot(site, "run", "--http", f"127.0.0.1:{hp}", env=hanchot_env())
    outage = float(os.environ.get("HANCHOT_DRILL_OUTAGE_SECONDS") or 10)
    try:
        assert wait_for(lambda: len(handler.received) >= 3, timeout=60)
        assert wait_for(lambda: (healthz(hp) or (0,))[0] == 200)
        pg.stop()
        down = time.monotonic()
        try:
            assert wait_for(lambda: (healthz(hp) or (0,))[0] == 503, timeout=15)
            code, body = healthz(hp)
            assert body["status"] == "unavailable"
            assert any(r.startswith("database does not answer") for r in body["reasons"])
            # rules edited during the outage: two more units with late deadlines
            more = tmp_path / "more"
            write_site(more, units=5, per_unit=2, due=PAST)
            (site / "config" / "units.yaml").write_text(
                (more / "config" / "units.yaml").read_text("utf-8"), "utf-8"
            )
            (site / "rules" / "drill.yaml").write_text(
                (more / "rules" / "drill.yaml").read_text("utf-8"), "utf-8"
            )
            time.sleep(max(0.0, outage - (time.monotonic() - down)))
            assert proc.poll() is None, "the daemon died with its database"
            assert len(handler.received) == 3
        finally:
            pg.start()
        assert wait_for(lambda: len(handler.received) >= 5, timeout=60)
        assert wait_for(lambda: (healthz(hp) or (0,))[0] == 200, timeout=30)
        time.sleep(1)
    finally:
        out, err = stop(proc)
    assert proc.returncode == 0, err
    got = Counter(r for r, _ in message_ids(handler))
    assert got == Counter({f"u{i:03}@example.gov.vn": 1 for i in range(5)})
    assert db_states(url) == Counter({"sent": 10})
    assert "periodic check failed" in err
    assert "the database lock was lost (server restart?); taken again" in err
    assert "hanchot daemon stopped" in err


@pytest.mark.postgres
def test_two_processes_materialise_the_same_new_deadlines(tmp_path, pg):
    """Found by the drill above: the second transaction used to die on the unique key
    (uq_deadlines_rule_key) when both saw the deadlines missing. Now it waits for
    the first, skips its rows, and logs no second "create" for them."""
    import threading

    from engine.store.materialise import materialise
    from engine.store.tables import audit, deadlines
    from tests.integration.store_helpers import REPORT_RULE, local, make_config

    url = pg.fresh_database("drill_materialise")
    config = make_config(tmp_path, rules=(REPORT_RULE,), database=url)
    engine = db.make_engine(url)
    db.migrate(engine)
    sessions = db.session_factory(engine)
    now = local(2022, 7, 1)
    first = sessions()
    first.begin()
    assert materialise(first, config, now).created == 1  # inserted, not committed
    result = {}

    def second():
        with sessions() as s, s.begin():
            result["created"] = materialise(s, config, now).created

    t = threading.Thread(target=second)
    t.start()
    time.sleep(0.5)
    assert t.is_alive()  # blocked on the first transaction's row
    first.commit()
    first.close()
    t.join(timeout=30)
    assert result == {"created": 0}
    with sessions() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(deadlines)).scalar() == 1
        creates = s.execute(
            sa.select(sa.func.count()).select_from(audit).where(audit.c.action == "create")
        ).scalar()
        assert creates == 1
    engine.dispose()


# ---------------------------------------------------------------- without PostgreSQL
def _outbox(sessions) -> list[tuple]:
    with sessions() as s:
        return sorted(
            s.execute(sa.select(outbox.c.recipient, outbox.c.state, outbox.c.send_at)).all()
        )


# The report rule of store_helpers is due Friday 29/07/2022. At 09:00 that day the
# stages of Fri 22/07 (5 working days before: 28, 27, 26, 25, 22 July, no holiday) and
# Thu 28/07 (1 working day before) are late and superseded by the "due" stage of
# 29/07 08:00, mailed to the lead and the coordinating group: van-phong, qlcn, qlnl.
DUE_DAY_RECIPIENTS = [
    "qlcn@example.gov.vn",
    "qlnl@example.gov.vn",
    "van-phong@example.gov.vn",
]


def test_disk_full_under_the_sqlite_file(tmp_path, smtp_server):
    import subprocess

    from engine.core.config import SmtpSettings
    from engine.store.dispatch import dispatch, transport_factory
    from engine.store.materialise import materialise
    from tests.integration.store_helpers import local, make_config, open_store

    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs for the database")
    small = tmp_path / "small"
    small.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(small)], capture_output=True
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode(errors='replace').strip()}")
    engine = None
    try:
        smtp = SmtpSettings("127.0.0.1", smtp_server.port, timeout=10)
        config = make_config(tmp_path, smtp=smtp, database=f"sqlite:///{small / 'hanchot.db'}")
        engine, sessions = open_store(config)
        with sessions() as s, s.begin():
            materialise(s, config, local(2022, 7, 1))
        filler = small / "filler"
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        transports = transport_factory(config.settings)
        now = local(2022, 7, 29, 9)
        with pytest.raises(sa.exc.OperationalError, match="full"):
            dispatch(config, sessions, transports, now)
        # failed cleanly: nothing sent, nothing marked, nothing half-written
        assert smtp_server.received == []
        assert _outbox(sessions) == []
        filler.unlink()
        report = dispatch(config, sessions, transports, now + timedelta(minutes=1))
        assert report.digests_sent == 3
        got = sorted(r for m in smtp_server.received for r in m.rcpt_tos)
        assert got == DUE_DAY_RECIPIENTS
        assert [row for row in _outbox(sessions) if row.state == "sent"] == [
            (r, "sent", local(2022, 7, 29)) for r in DUE_DAY_RECIPIENTS
        ]
    finally:
        if engine is not None:
            engine.dispose()
        subprocess.run(["umount", "-l", str(small)], capture_output=True)


def test_smtp_421_for_ten_simulated_minutes_then_delivered_once(tmp_path, smtp_server):
    from engine.core.config import SmtpSettings
    from engine.store.dispatch import dispatch, transport_factory
    from engine.store.materialise import materialise
    from tests.integration.store_helpers import local, make_config, open_store

    smtp = SmtpSettings("127.0.0.1", smtp_server.port, timeout=10)
    config = make_config(tmp_path, smtp=smtp, admin_email=None)
    engine, sessions = open_store(config)
    with sessions() as s, s.begin():
        materialise(s, config, local(2022, 7, 1))
    transports = transport_factory(config.settings)
    smtp_server.handler.reply_all = "421 4.3.2 Service not available, closing channel"
    start = now = local(2022, 7, 29, 8, 0)
    tries = []
    # The daemon's clock is simulated: each cycle runs at the next wake-up the
    # previous one asked for (the backoff: 2, 4, 8... minutes).
    while now < start + timedelta(minutes=10):
        report = dispatch(config, sessions, transports, now)
        tries.append((now - start, report.deferred))
        assert report.digests_sent == 0
        now = report.next_wake
    # deferred at 0, 2 and 6 minutes; the next try is 14 minutes after the start
    assert tries == [
        (timedelta(0), 3),
        (timedelta(minutes=2), 3),
        (timedelta(minutes=6), 3),
    ]
    assert now == start + timedelta(minutes=14)
    assert smtp_server.received == []
    smtp_server.handler.reply_all = None  # the server recovers after 10 minutes
    report = dispatch(config, sessions, transports, now)
    assert report.digests_sent == 3 and report.deferred == 0
    report = dispatch(config, sessions, transports, now + timedelta(minutes=30))
    assert report.digests_sent == 0
    got = sorted(r for m in smtp_server.received for r in m.rcpt_tos)
    assert got == DUE_DAY_RECIPIENTS
    with sessions() as s:
        sent = s.execute(
            sa.select(outbox.c.recipient, outbox.c.attempts, outbox.c.sent_at)
            .where(outbox.c.state == "sent")
            .order_by(outbox.c.recipient)
        ).all()
    assert [(r, a, t) for r, a, t in sent] == [(r, 4, now) for r in DUE_DAY_RECIPIENTS]
    engine.dispose()


def test_same_send_instants_whatever_the_host_timezone(tmp_path):
    """The same scenario with the process's TZ in UTC and in Asia/Ho_Chi_Minh."""
    import email
    import email.policy
    import shutil
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    results = {}
    for tz in ("UTC", "Asia/Ho_Chi_Minh"):
        site = tmp_path / tz.replace("/", "-")
        shutil.copytree(root / "config", site / "config")
        shutil.copytree(root / "rules", site / "rules")
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("HANCHOT_") or k == "HANCHOT_LANG"
        }
        env["TZ"] = tz
        for now in ("2022-03-31T08:00:00+07:00", "2022-04-05T01:00:00Z"):
            r = subprocess.run(
                [sys.executable, "-c", "from engine.cli import main; main()"]
                + ["run", "--once", "--now", now],
                cwd=site,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert r.returncode == 0, r.stderr
        engine = db.make_engine(f"sqlite:///{site / 'var' / 'hanchot.db'}")
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    outbox.c.recipient,
                    outbox.c.stage,
                    outbox.c.send_at,
                    outbox.c.sent_at,
                    outbox.c.state,
                    outbox.c.message_id,
                ).order_by(outbox.c.id)
            ).all()
        engine.dispose()
        dates = sorted(
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Date"]
            for p in (site / "var" / "mail").rglob("*.eml")
        )
        results[tz] = (rows, dates)
    utc_rows, utc_dates = results["UTC"]
    assert utc_rows and utc_dates
    assert results["Asia/Ho_Chi_Minh"] == (utc_rows, utc_dates)
    # every reminder went out at 08:00 Vietnam time, whatever the host's zone
    assert {d.split(" ", 4)[-1] for d in utc_dates} == {"08:00:00 +0700"}
