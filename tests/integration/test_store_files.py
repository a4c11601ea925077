"""The SQLite store's files: the one-daemon lock by real path, private modes, masked
URLs (issue 12 points 11, 12, 13)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.errors import StoreError
from engine.store import db


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def test_a_second_daemon_through_a_symlink_finds_the_lock_taken(tmp_path: Path):
    real = tmp_path / "data" / "hanchot.db"
    engine = db.make_engine(_url(real))
    db.migrate(engine)
    (tmp_path / "alias").symlink_to(tmp_path / "data")  # a linked directory...
    (tmp_path / "link.db").symlink_to(real)  # ...and a linked file
    first = db.DaemonLock(engine, _url(real))
    first.acquire()
    try:
        for other in (tmp_path / "alias" / "hanchot.db", tmp_path / "link.db"):
            second = db.DaemonLock(db.make_engine(_url(other)), _url(other))
            with pytest.raises(StoreError, match=r"another hanchot daemon is running .* \(pid "):
                second.acquire()
    finally:
        first.release()
    again = db.DaemonLock(engine, _url(tmp_path / "link.db"))
    again.acquire()  # free once the first one let go
    again.release()
    assert not (tmp_path / "link.db.lock").exists()
    assert oct((tmp_path / "data" / "hanchot.db.lock").stat().st_mode & 0o777) == "0o600"


def test_files_are_created_private_whatever_the_umask(tmp_path: Path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "a" / "b" / "hanchot.db"
        engine = db.make_engine(_url(path))
        db.migrate(engine)
        with db.DaemonLock(engine, _url(path)):
            pass
    finally:
        os.umask(old)
    for d in (tmp_path / "a", tmp_path / "a" / "b"):
        assert oct(d.stat().st_mode & 0o777) == "0o700", d
    made = sorted(p.name for p in path.parent.iterdir())
    assert "hanchot.db" in made and "hanchot.db.lock" in made
    for p in path.parent.iterdir():
        assert oct(p.stat().st_mode & 0o777) == "0o600", p


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql://u:pw-1@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:pw-1@h:abc/db", "postgresql://u:***@h:abc/db"),
        ("postgresql://u:p@w:1@h/db", "postgresql://u:***@h/db"),
        ("postgres ql://u:pw-1@h/db", "postgres ql://u:***@h/db"),
        ("u:pw-1@h/db", "u:***@h/db"),
        ("sqlite:///var/hanchot.db", "sqlite:///var/hanchot.db"),
    ],
)
def test_mask_url(url, shown):
    assert db.mask_url(url) == shown


def test_the_password_of_a_url_without_a_driver_is_masked():
    with pytest.raises(StoreError) as e:
        db.make_engine("nodriver://u:pw-1@h/db")
    assert "pw-1" not in e.value.message and "u:***@h" in e.value.message
