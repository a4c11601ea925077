"""The one-daemon lock's standby side: SQLite keeps refusing; a daemon whose
PostgreSQL lock was taken over by a standby stops (non-zero exit), one whose
database does not answer keeps trying."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from engine import daemon
from engine.errors import StoreError
from engine.store import db


def test_standby_on_sqlite_is_the_usual_refusal(tmp_path):
    url = f"sqlite:///{tmp_path / 'hanchot.db'}"
    engine = db.make_engine(url)
    first = db.DaemonLock(engine, url)
    first.acquire()
    try:
        second = db.DaemonLock(engine, url)
        with pytest.raises(StoreError, match="another hanchot daemon is running on .*pid"):
            second.wait(threading.Event(), poll=0.01)
        assert first.still_held() is True
    finally:
        first.release()
    # once free, the standby takes it at once
    third = db.DaemonLock(engine, url)
    assert third.wait(threading.Event()) is True
    third.release()
    engine.dispose()


class FakeLock:
    def __init__(self, held):
        self.held = held

    def still_held(self):
        return self.held


class FakeScheduler:
    stopped = False

    def shutdown(self, wait=True):
        assert wait is False  # called from a job: waiting for itself would hang
        self.stopped = True


def make(tmp_path: Path, held) -> daemon.Daemon:
    d = daemon.Daemon(tmp_path, tmp_path, {})
    d._lock = FakeLock(held)
    d._scheduler = FakeScheduler()
    return d


def test_lock_taken_over_stops_the_daemon(tmp_path):
    d = make(tmp_path, False)
    d._check_lock()
    assert d.lost_lock and d.stopping.is_set() and d._scheduler.stopped


def test_lock_unknown_while_the_database_is_down(tmp_path):
    d = make(tmp_path, None)
    with pytest.raises(StoreError, match="does not answer"):
        d._check_lock()
    assert not d.lost_lock and not d.stopping.is_set()
    make(tmp_path, True)._check_lock()  # held: nothing happens


def test_run_forever_exits_non_zero_after_losing_the_lock(tmp_path, monkeypatch):
    def fake_run(self):
        self.lost_lock = True

    monkeypatch.setattr(daemon.Daemon, "run", fake_run)
    with pytest.raises(StoreError, match="another hanchot daemon took over"):
        daemon.run_forever(tmp_path, tmp_path, {})
