"""``/healthz`` and ``/metrics`` of the portal (issue 9.2: "also served by ``hanchot
web``"): over Starlette's TestClient on a real SQLite store, and over real HTTP from a
``hanchot web`` process with ``hanchot run --once`` as the daemon."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from engine.health import PortalHealth, add_health_routes
from engine.store.heartbeat import record_daemon_seen
from engine.store.materialise import materialise
from engine.store.portal_ops import queue_notice
from engine.web.app import create_app
from engine.web.tokens import Signer
from tests.integration.conftest import free_port
from tests.integration.portal_helpers import QLCN, portal_config
from tests.integration.store_helpers import local, open_store

ROOT = Path(__file__).resolve().parents[2]
NOW = local(2022, 7, 21, 9)


@pytest.fixture
def portal(tmp_path):
    cfg = portal_config(tmp_path)
    engine, sessions = open_store(cfg)
    with sessions() as s, s.begin():
        materialise(s, cfg, NOW)
    app = create_app(
        cfg, sessions, signer=Signer("k" * 48), clock=lambda: NOW, data_dir=tmp_path / "var"
    )
    health = PortalHealth(lambda: NOW, cfg.settings.database, db_interval=0)
    add_health_routes(app, health)
    yield sessions, TestClient(app, base_url="http://portal.test", follow_redirects=False)
    health.close()
    engine.dispose()


def test_healthz_needs_no_session_and_says_when_the_daemon_last_passed(portal):
    sessions, client = portal
    r = client.get("/healthz")  # no cookie: not behind sign-in
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert (body["status"], body["role"]) == ("ok", "portal")
    assert body["daemon"] == {"last_seen": None, "seconds_ago": None, "recent": False}
    # A daemon pass 5 minutes ago is recent; the probe reads it at once (no cache).
    record_daemon_seen(sessions, NOW - timedelta(minutes=5))
    daemon = client.get("/healthz").json()["daemon"]
    assert daemon == {
        "last_seen": "2022-07-21T01:55:00+00:00",
        "seconds_ago": 300,
        "recent": True,
    }
    # 21 minutes is past the 20-minute window (the once-timer runs every 15 minutes).
    record_daemon_seen(sessions, NOW - timedelta(minutes=21))
    r = client.get("/healthz")
    assert r.status_code == 200  # the portal itself is up: the daemon is reported, not required
    assert r.json()["daemon"]["recent"] is False


def test_healthz_is_503_with_a_reason_when_the_database_does_not_answer(tmp_path):
    cfg = portal_config(tmp_path)
    app = create_app(
        cfg, lambda: None, signer=Signer("k" * 48), clock=lambda: NOW, data_dir=tmp_path
    )
    # A SQLite file under a directory that does not exist cannot be opened.
    health = PortalHealth(lambda: NOW, f"sqlite:///{tmp_path / 'gone' / 'x.db'}")
    add_health_routes(app, health)
    try:
        r = TestClient(app).get("/healthz")
        assert r.status_code == 503
        body = r.json()
        assert body["status"] == "unavailable"
        assert body["reasons"][0].startswith("database does not answer: ")
        assert body["daemon"]["recent"] is False
        metrics = TestClient(app).get("/metrics")
        assert metrics.status_code == 200 and "hanchot_database_up 0.0" in metrics.text
    finally:
        health.close()


def test_metrics_count_deadlines_and_notices_without_personal_data(portal):
    sessions, client = portal
    with sessions() as s, s.begin():
        queue_notice(s, kind="signin", recipient=QLCN, subject="Đăng nhập", body="x", now=NOW)
    record_daemon_seen(sessions, NOW)
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'hanchot_deadlines{status="open"} 2.0' in text  # the two rules due 29/07/2022
    assert 'hanchot_notices{state="pending"} 1.0' in text
    assert 'hanchot_role{role="portal"} 1.0' in text
    (seen,) = [ln for ln in text.splitlines() if ln.startswith("hanchot_daemon_last_seen")]
    assert float(seen.split()[1]) == NOW.timestamp()
    assert "hanchot_messages_sent_total" not in text  # the web process sends nothing
    assert "@" not in text and "Rà soát" not in text


def _env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("HANCHOT_") or k == "HANCHOT_LANG"}
    e.update(HANCHOT_LANG="en", HANCHOT_SECRET_KEY="health-test-secret-" * 3)
    return e


def test_hanchot_web_serves_health_over_http_and_sees_run_once(tmp_path):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    cli = [sys.executable, "-c", "from engine.cli import main; main()"]
    at = "2022-07-22T09:00:00+07:00"
    port = free_port()
    proc = subprocess.Popen(
        [*cli, "web", "--port", str(port), "--now", at],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                r = httpx.get(base + "/healthz", timeout=2)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stderr.read().decode()
                time.sleep(0.2)
        assert r.status_code == 200, r.text
        assert r.json()["daemon"]["last_seen"] is None
        # run --once, 10 minutes before the web's (frozen) clock: a recent pass.
        done = subprocess.run(
            [*cli, "run", "--once", "--now", "2022-07-22T08:50:00+07:00"],
            cwd=tmp_path,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        daemon = json.loads(httpx.get(base + "/healthz").text)["daemon"]
        assert daemon == {
            "last_seen": "2022-07-22T01:50:00+00:00",
            "seconds_ago": 600,
            "recent": True,
        }
        metrics = httpx.get(base + "/metrics")
        assert metrics.status_code == 200 and "hanchot_deadlines{" in metrics.text
    finally:
        proc.terminate()
        proc.wait(timeout=10)
