"""Connecting to the tracking database, migrating it, and the one-daemon lock.

Any SQLAlchemy URL works; SQLite (the default, ``sqlite:///var/hanchot.db``) and
PostgreSQL are tested. The schema is owned by the Alembic migrations shipped in
``engine/migrations``; :func:`migrate` brings any database to the newest revision.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from engine.errors import StoreError

_log = logging.getLogger("hanchot.lock")

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
#: Key of the PostgreSQL advisory lock held by ``hanchot run`` ("hanchot" in ASCII).
PG_LOCK_KEY = 0x68616E63686F74

SessionFactory = Callable[[], Session]


def database_url(configured: str) -> str:
    """The URL to use: ``HANCHOT_DATABASE_URL`` wins over ``settings.yaml``."""
    return os.environ.get("HANCHOT_DATABASE_URL") or configured


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL; ``None`` for other databases or ``:memory:``."""
    u = sa.engine.make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; creates the SQLite file's directory if needed.

    SQLite runs in WAL mode with a busy timeout so the daemon and CLI commands can
    share the file. Raises :class:`~engine.errors.StoreError` for a bad URL.
    """
    try:
        u = sa.engine.make_url(url)
    except sa.exc.ArgumentError as e:
        raise StoreError(f"database URL {url!r} is not valid: {e}") from None
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(u, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
            # Let SQLAlchemy issue BEGIN itself (below), not the driver lazily.
            dbapi_conn.isolation_level = None

        @sa.event.listens_for(engine, "begin")
        def _begin(conn) -> None:
            # IMMEDIATE: take the write lock at the start, so two processes never
            # both read then fail to upgrade to writing (SQLITE_BUSY in WAL mode);
            # the busy timeout then queues them instead.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    try:
        return sa.create_engine(u, pool_pre_ping=True)
    except Exception as e:  # missing driver, bad options
        where = u.render_as_string(hide_password=True)
        raise StoreError(f"cannot use database {where}: {e}") from None


def session_factory(engine: Engine) -> SessionFactory:
    """Sessions that keep loaded values after commit (we read them after sending)."""
    return sessionmaker(engine, expire_on_commit=False)


def _alembic_config(connection):
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest migration revision shipped with this version."""
    from alembic.script import ScriptDirectory

    cfg = _alembic_config(None)
    return ScriptDirectory.from_config(cfg).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; ``None`` for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (default: the newest); a no-op when there.

    Raises :class:`~engine.errors.StoreError` when the database cannot be reached or
    is newer than this version of hanchot.
    """
    from alembic import command
    from alembic.util.exc import CommandError

    try:
        if revision == "head" and current_revision(engine) == head_revision():
            return
        with engine.begin() as conn:
            command.upgrade(_alembic_config(conn), revision)
    except CommandError as e:
        raise StoreError(f"cannot migrate the database: {e}") from None
    except sa.exc.OperationalError as e:
        raise StoreError(f"cannot open the database: {e.orig}") from None


def downgrade(engine: Engine, revision: str) -> None:
    """Downgrade to ``revision`` (``base`` empties the schema). For tests and rollbacks."""
    from alembic import command

    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), revision)


class DaemonLock:
    """Held by ``hanchot run`` so a second daemon on the same database refuses to start.

    SQLite: an OS file lock (``flock``) on ``<database file>.lock`` holding the pid.
    PostgreSQL: a session-level ``pg_try_advisory_lock`` on a dedicated connection.
    Other databases: no lock (the outbox claims still prevent double sending).
    Raises :class:`~engine.errors.StoreError` when another daemon holds it.
    """

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url
        self._fd: int | None = None
        self._conn = None

    def acquire(self) -> None:
        path = sqlite_path(self.url)
        if path is not None:
            lock_path = Path(str(path) + ".lock")
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                os.close(fd)
                raise StoreError(
                    f"another hanchot daemon is running on {path} (pid {pid}); "
                    "stop it first or use a different database"
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self._fd = fd
            return
        if self.engine.dialect.name == "postgresql":
            conn = self.engine.connect()
            got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": PG_LOCK_KEY})
            if not got.scalar():
                conn.close()
                where = sa.engine.make_url(self.url).render_as_string(hide_password=True)
                raise StoreError(f"another hanchot daemon is running on {where}; stop it first")
            conn.commit()
            self._conn = conn

    # ------------------------------------------------------------ standby (issue 9)
    def _try_pg_lock(self) -> bool:
        """One ``pg_try_advisory_lock`` on a new dedicated connection; True if taken."""
        conn = self.engine.connect()
        try:
            got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": PG_LOCK_KEY})
            taken = bool(got.scalar())
            conn.commit()
        except BaseException:
            conn.close()
            raise
        if not taken:
            conn.close()
            return False
        self._conn = conn
        return True

    def wait(self, stopping: threading.Event, poll: float = 1.0) -> bool:
        """``hanchot run --standby``: block until this process holds the lock.

        PostgreSQL: tries the advisory lock every ``poll`` seconds; the server frees it
        as soon as the active daemon's connection drops (its process died, or a clean
        stop), so the standby takes over within ``poll`` seconds of that. A database
        that does not answer is retried at the same pace. Returns True once held,
        False when ``stopping`` was set first. SQLite and other databases: exactly
        :meth:`acquire` (a refusal when another daemon holds the file lock; a file
        lock cannot be handed over between machines).
        """
        if self.engine.dialect.name != "postgresql":
            self.acquire()
            return True
        told = False
        while not stopping.is_set():
            try:
                if self._try_pg_lock():
                    return True
            except sa.exc.DBAPIError as e:
                _log.warning("standby: the database does not answer (%s); retrying", e.orig)
            else:
                if not told:
                    _log.info("standby: another daemon holds the lock; waiting to take over")
                    told = True
            stopping.wait(poll)
        return False

    def still_held(self) -> bool | None:
        """PostgreSQL: True while the lock's connection answers; after a database
        restart dropped it, tries to take the lock again: True if taken, False if
        another daemon has it now, None if the database still does not answer.
        Always True for SQLite (the file lock cannot be lost)."""
        if self.engine.dialect.name != "postgresql":
            return True
        if self._conn is not None:
            try:
                self._conn.execute(sa.text("SELECT 1"))
                self._conn.commit()
                return True
            except sa.exc.DBAPIError:
                try:
                    self._conn.close()
                except Exception:
                    pass
                self._conn = None
        try:
            taken = self._try_pg_lock()
        except sa.exc.DBAPIError:
            return None
        if taken:
            _log.warning("the database lock was lost (server restart?); taken again")
        return taken

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        if self._conn is not None:
            try:
                self._conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": PG_LOCK_KEY})
                self._conn.commit()
            except sa.exc.DBAPIError:
                pass  # the connection is gone, and the lock with it
            finally:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> DaemonLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
