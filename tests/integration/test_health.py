"""``/healthz`` and ``/metrics`` (engine.health): the figures a scrape reports, the
503 reasons, and ``hanchot run --http`` serving them from the real daemon."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.health import Health, HealthServer, parse_listen
from engine.logfmt import JsonFormatter, mask
from engine.store.dispatch import DispatchReport
from engine.store.materialise import materialise
from engine.store.outbox import materialise_due
from tests.integration.conftest import free_port
from tests.integration.store_helpers import local, make_config, open_store
from tests.integration.test_daemon_run import eml, env, settled, site, wait_for  # noqa: F401


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture
def store(tmp_path):
    config = make_config(tmp_path)
    engine, sessions = open_store(config)
    yield config, sessions
    engine.dispose()


def test_metrics_read_the_database(store):
    config, sessions = store
    # Friday 22/07/2022 09:00 in Hà Nội. The report is due Friday 29/07/2022; its first
    # stage, "5 working days before", counts back over Thu 28, Wed 27, Tue 26, Mon 25
    # and Fri 22/07 (no public holiday in those weeks; 27/07 is a commemoration, not a
    # day off), so it was due today at 08:00: one reminder to the lead, one hour old.
    now = local(2022, 7, 22, 9, 0)
    with sessions() as s, s.begin():
        materialise(s, config, now)
        assert materialise_due(s, config, now) == (1, 0)
    health = Health(lambda: now, db_interval=0)
    health.attach(config.settings.database)
    got = samples(health.metrics().decode())
    assert got[("hanchot_deadlines", (("status", "open"),))] == 1
    assert got[("hanchot_deadlines", (("status", "done"),))] == 0
    assert got[("hanchot_outbox_rows", (("state", "pending"),))] == 1
    assert got[("hanchot_oldest_pending_seconds", ())] == 3600
    # the next thing to do is that pending reminder, due an hour ago
    assert got[("hanchot_next_send_seconds", ())] == -3600
    assert got[("hanchot_database_up", ())] == 1
    assert got[("hanchot_messages_sent_total", ())] == 0

    report = DispatchReport(digests_sent=2, rows_sent=3, failed=1, deferred=4)
    health.record_cycle(report, 0.25, now)
    health.record_reload_failure()
    got = samples(health.metrics().decode())
    assert got[("hanchot_messages_sent_total", ())] == 2
    assert got[("hanchot_reminders_sent_total", ())] == 3
    assert got[("hanchot_reminders_failed_total", ())] == 1
    assert got[("hanchot_reminders_deferred_total", ())] == 4
    assert got[("hanchot_config_reload_failures_total", ())] == 1
    assert got[("hanchot_cycle_duration_seconds_count", ())] == 1
    assert got[("hanchot_cycle_duration_seconds_sum", ())] == 0.25
    assert got[("hanchot_last_cycle_timestamp_seconds", ())] == now.timestamp()
    health.close()


def test_healthz_reasons(store, tmp_path):
    config, _ = store
    now = datetime(2022, 7, 22, 2, 0, tzinfo=UTC)
    health = Health(lambda: now)
    code, body = health.status()
    assert code == 503
    assert body["reasons"] == ["database not opened yet", "configuration not loaded", "starting"]
    health.attach(config.settings.database)
    health.set_config(True)
    health.set_role("active")
    assert health.status() == (
        200,
        {"status": "ok", "role": "active", "checked_at": "2022-07-22T02:00:00+00:00"},
    )
    health.record_cycle_failure("server closed the connection unexpectedly", 1.0)
    code, body = health.status()
    assert code == 503
    assert body["reasons"] == [
        "last dispatch cycle failed: server closed the connection unexpectedly"
    ]
    health.record_cycle(DispatchReport(), 0.1, now)
    assert health.status()[0] == 200
    health.record_check("could not connect to server")
    assert health.status()[1]["reasons"] == [
        "last periodic check failed: could not connect to server"
    ]
    health.record_check(None)
    # A database that cannot be opened (here: a directory where the file should be).
    (tmp_path / "not-a-file.db").mkdir()
    health.attach(f"sqlite:///{tmp_path / 'not-a-file.db'}")
    code, body = health.status()
    assert code == 503
    assert body["reasons"][0].startswith("database does not answer: ")
    got = samples(health.metrics().decode())
    assert got[("hanchot_database_up", ())] == 0
    assert ("hanchot_deadlines", (("status", "open"),)) not in got
    health.close()


def test_server_answers_and_refuses_a_busy_port(store):
    config, _ = store
    health = Health(lambda: datetime(2022, 7, 22, 2, 0, tzinfo=UTC))
    health.attach(config.settings.database)
    health.set_config(True)
    health.set_role("standby")
    server = HealthServer(health, "127.0.0.1", 0).start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        code, data = get(base + "/healthz")
        assert code == 200 and json.loads(data)["status"] == "ok"
        code, data = get(base + "/metrics")
        assert code == 200 and b"hanchot_deadlines" in data
        assert get(base + "/nothing")[0] == 404
        from engine.errors import StoreError

        with pytest.raises(StoreError, match=rf"cannot listen on 127.0.0.1:{server.port}"):
            HealthServer(health, "127.0.0.1", server.port)
    finally:
        server.stop()
        health.close()


@pytest.mark.parametrize("bad", ["9464", "localhost", "127.0.0.1:", ":9464", "h:99999", "h:x"])
def test_parse_listen_rejects(bad):
    from engine.errors import InputError

    with pytest.raises(InputError, match="is not HOST:PORT"):
        parse_listen(bad)


def test_parse_listen():
    assert parse_listen("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_listen("[::1]:9464") == ("::1", 9464)


def test_json_log_lines_mask_secrets(monkeypatch):
    monkeypatch.setenv("HANCHOT_SMTP_PASSWORD", "mật-khẩu-smtp")
    rec = logging.LogRecord(
        "hanchot.x", logging.ERROR, __file__, 1, "login %s failed on %s", None, None
    )
    rec.args = ("mật-khẩu-smtp", "postgresql://hanchot:pg-secret@db/hanchot")
    line = JsonFormatter().format(rec)
    obj = json.loads(line)
    assert obj["level"] == "ERROR" and obj["logger"] == "hanchot.x"
    assert obj["message"] == "login *** failed on postgresql://hanchot:***@db/hanchot"
    assert "\n" not in line
    assert mask("no secret here") == "no secret here"


def run_cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from engine.cli import main; main()", *args],
        cwd=cwd,
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_run_option_errors(site):  # noqa: F811
    r = run_cli("run", "--http", "localhost", cwd=site)
    assert r.returncode == 2 and "--http 'localhost' is not HOST:PORT" in r.stderr
    assert "Traceback" not in r.stderr
    r = run_cli("run", "--log-format", "xml", cwd=site)
    assert r.returncode == 2 and "unknown --log-format 'xml'" in r.stderr
    r = run_cli("run", "--once", "--standby", cwd=site)
    assert r.returncode == 2 and "--http and --standby are for the daemon" in r.stderr


def test_daemon_serves_health_and_metrics(site):  # noqa: F811
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from engine.cli import main; main()", "run"]
        + ["--http", f"127.0.0.1:{port}", "--log-format", "json"],
        cwd=site,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    try:
        assert wait_for(lambda: len(eml(site)) >= 1), "no mail from the daemon"
        n = settled(site)
        code, data = get(f"http://127.0.0.1:{port}/healthz")
        assert code == 200, data
        assert json.loads(data)["role"] == "active"
        got = samples(get(f"http://127.0.0.1:{port}/metrics")[1].decode())
        assert got[("hanchot_messages_sent_total", ())] == n
        assert got[("hanchot_deadlines", (("status", "open"),))] == 1
        assert got[("hanchot_role", (("role", "active"),))] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in err.splitlines()]
    assert lines[-1]["message"] == "hanchot daemon stopped"
    assert sum(1 for x in lines if x["message"].startswith("sent <")) == n


def test_metrics_counts_are_read_once_per_count_interval_and_after_each_cycle(store):
    # Counting deadlines and outbox rows reads an index entry per row (a million rows:
    # ~0.1 s of CPU); a daemon scraped every 15 s would never be idle. Between cycles
    # the counts are kept count_interval seconds; the indexed figures stay fresh.
    import sqlalchemy as sa

    from engine.store.tables import deadlines, outbox

    config, sessions = store
    now = local(2022, 7, 22, 9, 0)  # as above: one reminder due at 08:00, pending
    with sessions() as s, s.begin():
        materialise(s, config, now)
        materialise_due(s, config, now)
    health = Health(lambda: now, db_interval=0, count_interval=300)
    health.attach(config.settings.database)
    counted: list[str] = []

    def record(_conn, _cursor, statement, _params, _context, _many):
        if "GROUP BY" in statement.upper():
            counted.append(statement)

    sa.event.listen(health._engine, "before_cursor_execute", record)
    try:
        first = health.figures(0.0)
        assert first.deadlines == {"open": 1} and first.outbox == {"pending": 1}
        assert len(counted) == 2
        # The reminder sent and the deadline closed by another process.
        with sessions() as s, s.begin():
            s.execute(outbox.update().values(state="sent"))
            s.execute(deadlines.update().values(status="done", next_send_at=None))
        later = health.figures(299.0)
        assert len(counted) == 2  # not counted again
        assert later.deadlines == {"open": 1}  # kept
        assert later.oldest_pending is None and later.next_send is None  # fresh
        assert health.figures(300.0).deadlines == {"done": 1}  # the interval is over
        assert len(counted) == 4
        with sessions() as s, s.begin():
            s.execute(deadlines.update().values(status="waived"))
        health.record_cycle(DispatchReport(), 0.1, now)
        assert health.figures(301.0).deadlines == {"waived": 1}  # a cycle: at once
        assert len(counted) == 6
    finally:
        health.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_the_server_stops_at_once_although_it_looks_at_its_flag_rarely(store, host):
    """The loop waits up to IDLE_POLL (60 s) between looks at its stop flag, so that an
    idle daemon is not woken twice a second; stop() wakes it by connecting to it."""
    import time

    from engine.health import IDLE_POLL

    config, _ = store
    health = Health(lambda: datetime(2022, 7, 22, 2, 0, tzinfo=UTC))
    server = HealthServer(health, host, 0).start()
    time.sleep(0.2)  # the loop is in its wait
    started = time.monotonic()
    server.stop()
    took = time.monotonic() - started
    health.close()
    assert not server._thread.is_alive()
    assert took < IDLE_POLL / 2
